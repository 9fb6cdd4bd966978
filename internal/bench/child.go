package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jobhooks/jobhooks/internal/cli"
)

// Child processes: the benchmark re-executes its own binary, with EnvChild
// saying what the child is.
const (
	// EnvChild makes the binary a child of the benchmark: ChildNATS or
	// ChildRouter.
	EnvChild = "JOBHOOKS_BENCH_CHILD"
	// EnvStoreDir is the nats-server child's JetStream store directory.
	EnvStoreDir = "JOBHOOKS_BENCH_STORE_DIR"

	ChildNATS   = "nats-server" // a standalone JetStream server (server.go)
	ChildRouter = "router"      // cmd/router's code, with the child's arguments
)

// IsChild reports whether this process is a child of the benchmark: the
// command (and a test binary, in TestMain) then calls ChildMain instead of
// its own main.
func IsChild() bool { return os.Getenv(EnvChild) != "" }

// ChildMain runs this process as the child EnvChild names and returns its
// exit code. A child stops when its stdin closes (the benchmark closes it
// to stop the child, and it closes too when the benchmark dies) or on
// SIGTERM. It ignores SIGINT: Ctrl-C in a terminal reaches the whole
// process group, and the benchmark stops its children itself, in order.
func ChildMain() int {
	signal.Ignore(os.Interrupt)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	switch mode := os.Getenv(EnvChild); mode {
	case ChildNATS:
		if err := serveNATS(ctx, os.Getenv(EnvStoreDir), os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "bench nats-server: %v\n", err)
			return 1
		}
		return 0
	case ChildRouter:
		return cli.Router(ctx, os.Args[1:], strings.NewReader(""), os.Stdout, os.Stderr)
	default:
		fmt.Fprintf(os.Stderr, "bench: unknown %s=%q (want %s or %s)\n", EnvChild, mode, ChildNATS, ChildRouter)
		return 2
	}
}

// child is a running child process.
type child struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *cappedBuffer
	done   chan struct{} // closed once the process has exited
	err    error         // what Wait returned; read after done
}

// childSpec says how to start a child.
type childSpec struct {
	name   string   // for errors and logs
	mode   string   // ChildNATS or ChildRouter
	args   []string // its arguments
	env    []string // added to the environment
	stdout *os.File // nil: discarded
	stderr io.Writer
}

// startChild starts the benchmark's binary as a child. The child is bound
// to this process: on Linux it gets SIGKILL if the thread that started it
// ends (Pdeathsig; the thread is kept for the child's life), and everywhere
// it stops when its stdin closes.
func startChild(spec childSpec) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("start %s: find the benchmark's binary: %w", spec.name, err)
	}
	cmd := exec.Command(exe, spec.args...)
	cmd.Env = append(append(os.Environ(), EnvChild+"="+spec.mode), spec.env...)
	cmd.Stdout = spec.stdout
	c := &child{name: spec.name, cmd: cmd, stderr: &cappedBuffer{max: 64 << 10}, done: make(chan struct{})}
	cmd.Stderr = c.stderr
	if spec.stderr != nil {
		cmd.Stderr = io.MultiWriter(c.stderr, spec.stderr)
	}
	setChildAttrs(cmd)
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.name, err)
	}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the thread that forked the child ends, not
		// the process: lock this goroutine to its thread until the child
		// has exited, so that the Go runtime cannot retire the thread.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			close(c.done)
			return
		}
		started <- nil
		c.err = cmd.Wait()
		close(c.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.name, err)
	}
	return c, nil
}

// pid returns the child's process id.
func (c *child) pid() int { return c.cmd.Process.Pid }

// Done is closed when the child has exited.
func (c *child) Done() <-chan struct{} { return c.done }

// exitErr describes how the child ended, with the end of what it wrote on
// stderr; call it after Done.
func (c *child) exitErr() error {
	out := strings.TrimSpace(c.stderr.String())
	switch {
	case c.err == nil && out == "":
		return fmt.Errorf("%s exited", c.name)
	case c.err == nil:
		return fmt.Errorf("%s exited: %s", c.name, out)
	case out == "":
		return fmt.Errorf("%s: %w", c.name, c.err)
	default:
		return fmt.Errorf("%s: %w: %s", c.name, c.err, out)
	}
}

// stop asks the child to stop (closing its stdin) and waits for it to
// exit, killing it after grace. It returns an error only when the child
// had to be killed or exited with an error.
func (c *child) stop(grace time.Duration, log *slog.Logger) error {
	_ = c.stdin.Close()
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-c.done:
	case <-timer.C:
		log.Warn("child did not stop in time: killing it", "child", c.name, "pid", c.pid(), "grace", grace)
		_ = c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("%s did not stop within %s and was killed", c.name, grace)
	}
	var exit *exec.ExitError
	if errors.As(c.err, &exit) {
		return c.exitErr()
	}
	return nil
}

// cappedBuffer keeps the first max bytes written to it, for error messages.
type cappedBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *cappedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
