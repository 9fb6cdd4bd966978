package jetstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
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
	// Listen is the host:port clients connect to. Port 0 picks a free port
	// (tests); an empty Listen accepts in-process connections only.
	Listen string
	// StoreDir is where JetStream keeps its files. Required.
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

// EmbeddedServer is a running in-process JetStream server.
type EmbeddedServer struct {
	srv *server.Server
}

// StartEmbedded starts a JetStream server in this process and waits until
// it accepts connections.
func StartEmbedded(opts EmbeddedOptions) (*EmbeddedServer, error) {
	if opts.StoreDir == "" {
		return nil, fmt.Errorf("%w: a store directory is required", ErrEmbeddedStart)
	}
	sopts := &server.Options{
		ServerName: opts.ServerName,
		JetStream:  true,
		StoreDir:   opts.StoreDir,
		NoSigs:     true,
	}
	if sopts.ServerName == "" {
		sopts.ServerName = "jobhooks"
	}
	if opts.Listen == "" {
		sopts.DontListen = true
	} else {
		host, portText, err := net.SplitHostPort(opts.Listen)
		if err != nil {
			return nil, fmt.Errorf("%w: listen address %q: %w", ErrEmbeddedStart, opts.Listen, err)
		}
		port, err := strconv.Atoi(portText)
		if err != nil {
			return nil, fmt.Errorf("%w: listen port %q: %w", ErrEmbeddedStart, portText, err)
		}
		if port == 0 {
			port = server.RANDOM_PORT
		} else if err := checkFree(opts.Listen); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrEmbeddedStart, err)
		}
		sopts.Host, sopts.Port = host, port
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
		return nil, fmt.Errorf("%w: not ready after %s (is %s already in use?)", ErrEmbeddedStart, timeout, opts.Listen)
	}
	return &EmbeddedServer{srv: srv}, nil
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

// Connect opens an in-process connection to the server: no TCP, no port.
func (e *EmbeddedServer) Connect(opts ...nats.Option) (*nats.Conn, error) {
	nc, err := nats.Connect("", append([]nats.Option{nats.InProcessServer(e.srv)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("connect to embedded NATS server: %w", err)
	}
	return nc, nil
}

// Shutdown stops the server and waits until it has stopped, or ctx ends.
func (e *EmbeddedServer) Shutdown(ctx context.Context) error {
	e.srv.Shutdown()
	done := make(chan struct{})
	go func() {
		e.srv.WaitForShutdown()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
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
