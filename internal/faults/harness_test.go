package faults

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	jhjs "github.com/jobhooks/jobhooks/jetstream"
)

var longFlag = flag.Bool("long", false, "run the long variants: 10,000 changes, more faults (also JOBHOOKS_LONG=1)")

// long reports whether the long variants run.
func long() bool { return *longFlag || os.Getenv("JOBHOOKS_LONG") == "1" }

// sized returns short, or full in the long variants.
func sized[T any](short, full T) T {
	if long() {
		return full
	}
	return short
}

// The test binary re-executed as a standalone JetStream server: envChild
// says so, envListen and envStore where it listens and stores.
const (
	envChild  = "JOBHOOKS_FAULTS_CHILD"
	envListen = "JOBHOOKS_FAULTS_LISTEN"
	envStore  = "JOBHOOKS_FAULTS_STORE"
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) == "nats-server" {
		os.Exit(serveNATS())
	}
	code := m.Run()
	bins.remove()
	os.Exit(code)
}

// serveNATS runs the child server until SIGTERM (a clean shutdown, exit 0)
// or until its stdin closes (the test process is gone). SIGKILL just ends it.
func serveNATS() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	srv, err := jhjs.StartEmbedded(jhjs.EmbeddedOptions{Listen: os.Getenv(envListen), StoreDir: os.Getenv(envStore),
		ServerName: "faults", StartTimeout: 30 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults nats-server:", err)
		return 1
	}
	fmt.Println(srv.ClientURL())
	<-ctx.Done()
	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		fmt.Fprintln(os.Stderr, "faults nats-server: shutdown:", err)
		return 1
	}
	return 0
}

// natsServer is a JetStream server in a child process: one port and one
// store directory for all its lives, as a restarted production server has.
type natsServer struct {
	t     *testing.T
	addr  string
	dir   string
	URL   string
	cmd   *exec.Cmd
	stdin io.Closer
	lives int
}

// startNATS starts a child server on a free loopback port, its store in a
// temp dir; it is killed when the test ends.
func startNATS(t *testing.T) *natsServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	s := &natsServer{t: t, addr: addr, dir: t.TempDir()}
	s.start()
	t.Cleanup(func() {
		if s.cmd != nil {
			_ = s.cmd.Process.Kill()
			_ = s.cmd.Wait()
		}
	})
	return s
}

func (s *natsServer) start() {
	t := s.t
	t.Helper()
	s.lives++
	logFile, err := os.Create(filepath.Join(t.TempDir(), fmt.Sprintf("nats-server-%d.log", s.lives)))
	require.NoError(t, err)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), envChild+"=nats-server", envListen+"="+s.addr, envStore+"="+s.dir)
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	url := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		url <- strings.TrimSpace(line)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case u := <-url:
		if u == "" {
			_ = cmd.Wait()
			out, _ := os.ReadFile(logFile.Name())
			t.Fatalf("nats-server child did not start: %s", out)
		}
		s.URL = u
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		t.Fatal("nats-server child did not report its URL")
	}
	s.cmd, s.stdin = cmd, stdin
}

// restart stops the server with sig (SIGTERM: a clean shutdown; SIGKILL: a
// crash), starts it again on the same port and store, and returns how long
// it was away.
func (s *natsServer) restart(sig syscall.Signal) time.Duration {
	t := s.t
	t.Helper()
	began := time.Now()
	require.NoError(t, s.cmd.Process.Signal(sig))
	err := s.cmd.Wait()
	if sig == syscall.SIGTERM {
		require.NoError(t, err, "a clean shutdown on SIGTERM")
	}
	_ = s.stdin.Close()
	s.cmd = nil
	s.start()
	return time.Since(began)
}

// connect opens a client connection that rides out server restarts.
func (s *natsServer) connect(t *testing.T) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(s.URL, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond),
		nats.ReconnectBufSize(-1)) // fail publishes while disconnected, so the test retries them
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return nc, js
}

// binaries are the router and receiver commands, built once per test
// binary (lazily: -short runs never build) and removed by TestMain.
type binaries struct {
	once             sync.Once
	dir              string
	router, receiver string
	err              error
}

// bins is the one build of this test binary; shared by the tests because
// building takes seconds to minutes on a busy machine.
var bins binaries

func (b *binaries) get(t *testing.T) (router, receiver string) {
	t.Helper()
	b.once.Do(func() {
		b.dir, b.err = os.MkdirTemp("", "jobhooks-faults-")
		if b.err != nil {
			return
		}
		for _, c := range []struct {
			out *string
			pkg string
		}{
			{&b.router, "github.com/jobhooks/jobhooks/cmd/router"},
			{&b.receiver, "github.com/jobhooks/jobhooks/cmd/receiver"},
		} {
			*c.out = filepath.Join(b.dir, filepath.Base(c.pkg))
			out, err := exec.Command("go", "build", "-o", *c.out, c.pkg).CombinedOutput()
			if err != nil {
				b.err = fmt.Errorf("go build %s: %w\n%s", c.pkg, err, out)
				return
			}
		}
	})
	require.NoError(t, b.err)
	return b.router, b.receiver
}

func (b *binaries) remove() {
	if b.dir != "" {
		_ = os.RemoveAll(b.dir)
	}
}

// proc is a router or receiver process that a test kills, stops and
// restarts; its output goes to a log file per life, shown when the test
// fails.
type proc struct {
	t      *testing.T
	name   string
	bin    string
	args   []string
	cmd    *exec.Cmd
	exited chan struct{} // closed when the current life ends
	logs   []string
}

func startProc(t *testing.T, name, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, bin: bin, args: args}
	p.start()
	t.Cleanup(func() {
		if p.alive() {
			_ = p.cmd.Process.Signal(syscall.SIGCONT) // a stopped process cannot die until continued
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			for _, l := range p.logs {
				out, _ := os.ReadFile(l)
				t.Logf("%s output (%s):\n%s", p.name, filepath.Base(l), tail(out, 4000))
			}
		}
	})
	return p
}

func (p *proc) start() {
	t := p.t
	t.Helper()
	logFile, err := os.Create(filepath.Join(t.TempDir(), fmt.Sprintf("%s-%d.log", p.name, len(p.logs)+1)))
	require.NoError(t, err)
	p.logs = append(p.logs, logFile.Name())
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = logFile.Close()
		close(exited)
	}()
	p.cmd, p.exited = cmd, exited
}

func (p *proc) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// kill SIGKILLs the process and waits until it is gone.
func (p *proc) kill() {
	p.t.Helper()
	require.NoError(p.t, p.cmd.Process.Signal(syscall.SIGKILL))
	<-p.exited
}

// restart starts a new life of the process with the same arguments.
func (p *proc) restart() {
	p.t.Helper()
	require.False(p.t, p.alive(), "%s is still running", p.name)
	p.start()
}

func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	require.NoError(p.t, p.cmd.Process.Signal(sig))
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop() {
	t := p.t
	t.Helper()
	p.signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		require.True(t, p.cmd.ProcessState.Success(), "%s exits 0 on SIGTERM, got %s", p.name, p.cmd.ProcessState)
	case <-time.After(time.Minute):
		t.Fatalf("%s did not exit on SIGTERM", p.name)
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
