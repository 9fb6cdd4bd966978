package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
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
