package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	jhjs "github.com/jobhooks/jobhooks/jetstream"
)

// serverStartTimeout bounds the child server's start.
const serverStartTimeout = 30 * time.Second

// serveNATS runs a standalone JetStream server until ctx ends: loopback, a
// port of its choosing, file storage in storeDir. Once it accepts
// connections it writes its client URL, one line, on out.
func serveNATS(ctx context.Context, storeDir string, out io.Writer) error {
	if storeDir == "" {
		return fmt.Errorf("%s is not set", EnvStoreDir)
	}
	srv, err := jhjs.StartEmbedded(jhjs.EmbeddedOptions{Listen: "127.0.0.1:0", StoreDir: storeDir,
		ServerName: "jobhooks-bench", StartTimeout: serverStartTimeout})
	if err != nil {
		return err
	}
	defer func() { _ = srv.Shutdown(context.WithoutCancel(ctx)) }()
	if _, err := fmt.Fprintln(out, srv.ClientURL()); err != nil {
		return fmt.Errorf("report the client URL: %w", err)
	}
	<-ctx.Done()
	return nil
}

// natsServer is the benchmark's nats-server, a child process.
type natsServer struct {
	URL   string
	child *child
	dir   string // the temp dir holding its store
	log   *slog.Logger
}

// startServer starts the nats-server child, its store in a new temp dir,
// and waits until it reports its URL. Close stops it and removes the dir.
func startServer(ctx context.Context, log *slog.Logger) (_ *natsServer, err error) {
	dir, err := os.MkdirTemp("", "jobhooks-bench-")
	if err != nil {
		return nil, fmt.Errorf("nats-server store: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("nats-server stdout: %w", err)
	}
	defer r.Close()
	c, err := startChild(childSpec{name: "nats-server", mode: ChildNATS, stdout: w,
		env: []string{EnvStoreDir + "=" + filepath.Join(dir, "jetstream")}})
	_ = w.Close() // the child has its copy
	if err != nil {
		return nil, err
	}
	s := &natsServer{child: c, dir: dir, log: log}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()

	line := make(chan string, 1)
	go func() { // ends when the child writes its line or exits (EOF)
		l, _ := bufio.NewReader(r).ReadString('\n')
		line <- strings.TrimSpace(l)
	}()
	timer := time.NewTimer(serverStartTimeout)
	defer timer.Stop()
	select {
	case s.URL = <-line:
		if s.URL == "" {
			<-c.Done()
			return nil, c.exitErr()
		}
	case <-timer.C:
		return nil, fmt.Errorf("nats-server: no client URL after %s", serverStartTimeout)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	log.Info("nats-server started", "url", s.URL, "pid", c.pid(), "store", dir)
	return s, nil
}

// Done is closed if the server exits.
func (s *natsServer) Done() <-chan struct{} { return s.child.Done() }

// Close stops the server (killing it if it does not stop within 15s) and
// removes its temp dir.
func (s *natsServer) Close() error {
	err := s.child.stop(15*time.Second, s.log)
	if rmErr := os.RemoveAll(s.dir); rmErr != nil {
		err = errors.Join(err, fmt.Errorf("remove %s: %w", s.dir, rmErr))
	}
	return err
}
