package jetstream

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Defaults of the embedded server, as the router uses them when no NATS URL
// is given.
const (
	DefaultListen  = "127.0.0.1:4222"
	DefaultDataDir = "./data"
)

// EmbeddedOptions configures an in-process JetStream server.
type EmbeddedOptions struct {
	// ConfigFile is a nats-server configuration file (accounts, users and
	// their permissions, TLS, limits). Listen and StoreDir, when set, win
	// over the file's listen address and store_dir; JetStream is enabled
	// whatever the file says.
	ConfigFile string
	// Listen is the host:port clients connect to. Port 0 picks a free port
	// (tests). Empty: the ConfigFile's address (DefaultListen if it has
	// none), or, without a ConfigFile, in-process connections only.
	Listen string
	// StoreDir is where JetStream keeps its files: required without a
	// ConfigFile; with one, empty means its store_dir, or DefaultDataDir if
	// it has none. The server holds a lock on it (LockFileName)
	// while it runs: a second embedded server on the same directory fails
	// with ErrStoreDirInUse.
	StoreDir string
	// ServerName names the server in logs and monitoring; default "jobhooks".
	ServerName string
	// Logger receives the server's log lines; nil discards them.
	Logger *slog.Logger
	// StartTimeout bounds the wait for the server to accept connections;
	// default 10s.
	StartTimeout time.Duration
}

// ErrEmbeddedStart is returned when the embedded server cannot start.
var ErrEmbeddedStart = errors.New("embedded NATS server did not start")

// ErrServerConfig is returned, wrapped in ErrEmbeddedStart, when the
// ConfigFile cannot be read or is not a valid nats-server configuration.
var ErrServerConfig = errors.New("invalid nats-server configuration")

// ErrAuthRequired is returned by ConnectWith when the server's ConfigFile
// requires authentication and the connection options bring none, or the
// server refused them.
var ErrAuthRequired = errors.New("the embedded NATS server requires authentication")

// ErrStoreDirInUse is returned, wrapped in ErrEmbeddedStart, when another
// embedded server, in this process or another, runs on the store directory.
var ErrStoreDirInUse = errors.New("store directory in use")

// LockFileName is the file in the store directory that an embedded server
// holds an exclusive lock (flock) on while it runs. It says which process
// holds it, as JSON: {"pid":1234,"url":"nats://127.0.0.1:4222","ready":true}.
const LockFileName = "jobhooks.lock"

// EmbeddedServer is a running in-process JetStream server.
type EmbeddedServer struct {
	srv          *server.Server
	lock         *storeLock
	storeDir     string
	authRequired bool
}

// StartEmbedded starts a JetStream server in this process and waits until
// it accepts connections.
func StartEmbedded(opts EmbeddedOptions) (*EmbeddedServer, error) {
	sopts, err := serverOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEmbeddedStart, err)
	}
	if opts.Logger != nil && !sopts.DontListen {
		if warning := exposure(sopts); warning != "" {
			opts.Logger.Warn(warning, "host", sopts.Host, "port", sopts.Port)
		}
	}
	listen := net.JoinHostPort(sopts.Host, strconv.Itoa(sopts.Port))
	lock, err := lockStoreDir(sopts.StoreDir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEmbeddedStart, err)
	}
	started := false
	defer func() {
		if !started {
			lock.release()
		}
	}()
	if !sopts.DontListen && sopts.Port != server.RANDOM_PORT {
		if err := checkFree(listen); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrEmbeddedStart, err)
		}
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEmbeddedStart, err)
	}
	if opts.Logger != nil {
		srv.SetLoggerV2(serverLogger{opts.Logger.With("component", "nats-server")}, false, false, false)
	}
	go srv.Start()
	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	if !srv.ReadyForConnections(timeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("%w: not ready after %s (is %s already in use?)", ErrEmbeddedStart, timeout, listen)
	}
	e := &EmbeddedServer{srv: srv, lock: lock, storeDir: sopts.StoreDir, authRequired: authConfigured(sopts)}
	lock.record(e.ClientURL())
	started = true
	return e, nil
}

// serverOptions builds the server's options from opts and its ConfigFile.
func serverOptions(opts EmbeddedOptions) (*server.Options, error) {
	sopts := &server.Options{}
	if opts.ConfigFile != "" {
		var err error
		if sopts, err = server.ProcessConfigFile(opts.ConfigFile); err != nil {
			// The server's text gives the line and the reason; it never
			// quotes a variable's (a password's) value.
			if strings.Contains(err.Error(), opts.ConfigFile) {
				return nil, fmt.Errorf("%w: %w", ErrServerConfig, err)
			}
			return nil, fmt.Errorf("%w: %s: %w", ErrServerConfig, opts.ConfigFile, err)
		}
	}
	sopts.JetStream = true
	sopts.NoSigs = true
	if opts.StoreDir != "" {
		sopts.StoreDir = opts.StoreDir
	}
	if sopts.StoreDir == "" && opts.ConfigFile != "" {
		sopts.StoreDir = DefaultDataDir
	}
	if sopts.StoreDir == "" {
		return nil, errors.New("a store directory is required")
	}
	if abs, err := filepath.Abs(sopts.StoreDir); err == nil {
		sopts.StoreDir = abs
	}
	if sopts.ServerName == "" {
		sopts.ServerName = opts.ServerName
	}
	if sopts.ServerName == "" {
		sopts.ServerName = "jobhooks"
	}
	listen := opts.Listen
	if listen == "" && opts.ConfigFile != "" && sopts.Host == "" && sopts.Port == 0 {
		// nats-server's own default would be every interface.
		listen = DefaultListen
	}
	if listen == "" {
		if opts.ConfigFile == "" {
			sopts.DontListen = true
		}
		return sopts, nil
	}
	host, portText, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", listen, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("listen port %q: %w", portText, err)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	sopts.Host, sopts.Port = host, port
	return sopts, nil
}

// exposure returns a warning when the server listens beyond loopback and
// lets any client in: no users, token, nkeys or operator, no client
// certificate required, or a no_auth_user; "" otherwise.
func exposure(o *server.Options) string {
	if isLoopback(o.Host) {
		return ""
	}
	if o.NoAuthUser != "" {
		return "the embedded NATS server listens beyond loopback with no_auth_user " + o.NoAuthUser +
			": any client that reaches it, without credentials, gets that user's permissions"
	}
	if authConfigured(o) {
		return ""
	}
	return "the embedded NATS server listens beyond loopback without authentication: any client that reaches it may publish jobs and rewrite hooks; " +
		"give --server-config a nats-server configuration with users (see examples/nats-server.conf) or listen on 127.0.0.1"
}

// authConfigured reports whether o makes clients authenticate. Users of
// accounts are in o.Users and o.Nkeys once the configuration is processed.
func authConfigured(o *server.Options) bool {
	return len(o.Users) > 0 || len(o.Nkeys) > 0 || o.Username != "" || o.Authorization != "" ||
		len(o.TrustedOperators) > 0 || len(o.TrustedKeys) > 0 || clientCertRequired(o) ||
		o.CustomClientAuthentication != nil || (o.AuthCallout != nil && o.AuthCallout.Issuer != "")
}

// clientCertRequired reports whether clients must present a certificate
// the server verifies: TLSVerify from flags, ClientAuth from a file's tls
// block (verify, verify_and_map).
func clientCertRequired(o *server.Options) bool {
	return o.TLSVerify || o.TLSMap || (o.TLSConfig != nil && o.TLSConfig.ClientAuth == tls.RequireAndVerifyClientCert)
}

// isLoopback reports whether host only accepts connections from this
// machine. "" and 0.0.0.0 are every interface; names other than localhost
// are not resolved, and count as exposed.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Server returns the underlying nats-server.
func (e *EmbeddedServer) Server() *server.Server { return e.srv }

// ClientURL returns the URL other processes use to connect; empty when the
// server accepts in-process connections only.
func (e *EmbeddedServer) ClientURL() string {
	if e.srv.Addr() == nil {
		return ""
	}
	return e.srv.ClientURL()
}

// StoreDir returns the absolute directory JetStream stores its files in.
func (e *EmbeddedServer) StoreDir() string { return e.storeDir }

// Connect opens an in-process connection to the server: no TCP, no port.
func (e *EmbeddedServer) Connect(opts ...nats.Option) (*nats.Conn, error) {
	nc, err := nats.Connect("", append([]nats.Option{nats.InProcessServer(e.srv)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("connect to embedded NATS server: %w", err)
	}
	return nc, nil
}

// ConnectWith opens an in-process connection that authenticates with o's
// credentials (user and password, token, nkey or creds), as a server whose
// ConfigFile has users requires. o's URLs and TLS files are ignored: an
// in-process connection leaves no machine, and the server does not ask it
// for TLS.
func (e *EmbeddedServer) ConnectWith(o ConnOptions, logger *slog.Logger) (*nats.Conn, error) {
	o.URLs = nil
	o.TLSCert, o.TLSKey, o.TLSCA = "", "", ""
	opts, err := o.NatsOptions(logger)
	if err != nil {
		return nil, err
	}
	const hint = "give --user and --password, --nkey or --creds of a user of its --server-config"
	if e.authRequired && o.User == "" && o.NKeyFile == "" && o.CredsFile == "" {
		// Fail at once: an in-process connection the server refuses only
		// ends when the server's write deadline does.
		return nil, fmt.Errorf("%w: %s", ErrAuthRequired, hint)
	}
	nc, err := e.Connect(opts...)
	if err != nil && e.authRequired {
		return nil, fmt.Errorf("%w (were the credentials refused? %s): %w", ErrAuthRequired, hint, err)
	}
	return nc, err
}

// Shutdown stops the server and waits until it has stopped, or ctx ends.
func (e *EmbeddedServer) Shutdown(ctx context.Context) error {
	e.srv.Shutdown()
	done := make(chan struct{})
	go func() {
		e.srv.WaitForShutdown()
		e.lock.release() // only once the server no longer writes the store
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// storeLock is an embedded server's lock on its store directory.
type storeLock struct {
	f    *os.File
	once sync.Once
}

// lockHolder is what the lock file says about the server holding it.
type lockHolder struct {
	PID   int    `json:"pid"`
	URL   string `json:"url,omitempty"`
	Ready bool   `json:"ready"` // false while the server starts
}

// lockStoreDir creates dir if need be and locks it, or fails with
// ErrStoreDirInUse and what the lock file says about its holder.
func lockStoreDir(dir string) (*storeLock, error) {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	path := filepath.Join(dir, LockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	locked, err := tryLock(f)
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("lock data directory: %s: %w", path, err)
	}
	if !locked {
		_ = f.Close()
		return nil, &storeDirInUseError{dir: dir, holder: describeHolder(path)}
	}
	l := &storeLock{f: f}
	l.write(lockHolder{PID: os.Getpid()})
	return l, nil
}

// storeDirInUseError is ErrStoreDirInUse, saying which directory and who
// holds it.
type storeDirInUseError struct{ dir, holder string }

func (e *storeDirInUseError) Error() string {
	return fmt.Sprintf("data directory %s is in use by %s", e.dir, e.holder)
}

func (e *storeDirInUseError) Is(target error) bool { return target == ErrStoreDirInUse }

// describeHolder names the server that holds the lock file at path.
func describeHolder(path string) string {
	var h lockHolder
	if b, err := os.ReadFile(path); err != nil || json.Unmarshal(b, &h) != nil || h.PID == 0 {
		return "another embedded server (see " + path + ")"
	}
	switch {
	case !h.Ready:
		return fmt.Sprintf("the embedded server of PID %d (starting)", h.PID)
	case h.URL != "":
		return fmt.Sprintf("the embedded server of PID %d (%s)", h.PID, h.URL)
	default:
		return fmt.Sprintf("the embedded server of PID %d (in-process only)", h.PID)
	}
}

// record marks the server ready in the lock file, with its client URL.
func (l *storeLock) record(url string) { l.write(lockHolder{PID: os.Getpid(), URL: url, Ready: true}) }

// write replaces the lock file's content. It is informational only (the
// flock is the lock), so a failure is not an error.
func (l *storeLock) write(h lockHolder) {
	b, _ := json.Marshal(h)
	if err := l.f.Truncate(0); err == nil {
		_, _ = l.f.WriteAt(append(b, '\n'), 0)
	}
}

// release empties and closes the lock file, which releases the lock. The
// file stays: removing it would let a newcomer lock a new file while
// another waits on the old one.
func (l *storeLock) release() {
	l.once.Do(func() {
		_ = l.f.Truncate(0)
		_ = l.f.Close()
	})
}

// checkFree fails fast, with the operating system's reason, when addr cannot
// be listened on; nats-server itself would only log it and time out.
func checkFree(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return l.Close()
}

// serverLogger adapts nats-server's logger interface to slog. The server's
// notices (its start-up banner, every connection) go to debug: at info the
// embedding program's own lines should be what a person reads.
type serverLogger struct{ l *slog.Logger }

func (s serverLogger) Noticef(format string, v ...any) { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s serverLogger) Warnf(format string, v ...any)   { s.l.Warn(fmt.Sprintf(format, v...)) }
func (s serverLogger) Fatalf(format string, v ...any)  { s.l.Error(fmt.Sprintf(format, v...)) }
func (s serverLogger) Errorf(format string, v ...any)  { s.l.Error(fmt.Sprintf(format, v...)) }
func (s serverLogger) Debugf(format string, v ...any)  { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s serverLogger) Tracef(format string, v ...any)  { s.l.Debug(fmt.Sprintf(format, v...)) }
