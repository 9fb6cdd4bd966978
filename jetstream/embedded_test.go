package jetstream_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	jhjs "github.com/jobhooks/jobhooks/jetstream"
)

func TestEmbeddedServerInProcessOnly(t *testing.T) {
	srv, err := jhjs.StartEmbedded(jhjs.EmbeddedOptions{StoreDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Shutdown(context.Background())) })

	require.Empty(t, srv.ClientURL(), "an embedded server without Listen must not open a port")
	nc, err := srv.Connect()
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := js.AccountInfo(ctx)
	require.NoError(t, err, "JetStream must be enabled")
	require.Zero(t, info.Streams)
}

func TestEmbeddedServerListensAndKeepsData(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	srv, err := jhjs.StartEmbedded(jhjs.EmbeddedOptions{Listen: "127.0.0.1:0", StoreDir: dir})
	require.NoError(t, err)
	nc, err := nats.Connect(srv.ClientURL())
	require.NoError(t, err)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "KEEP", Subjects: []string{"keep.>"}, Storage: jetstream.FileStorage})
	require.NoError(t, err)
	_, err = js.Publish(ctx, "keep.one", []byte("1"))
	require.NoError(t, err)
	nc.Close()
	require.NoError(t, srv.Shutdown(ctx))

	srv, err = jhjs.StartEmbedded(jhjs.EmbeddedOptions{StoreDir: dir})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Shutdown(context.Background())) })
	nc, err = srv.Connect()
	require.NoError(t, err)
	defer nc.Close()
	js, err = jetstream.New(nc)
	require.NoError(t, err)
	stream, err := js.Stream(ctx, "KEEP")
	require.NoError(t, err, "the stream must survive a restart on the same store dir")
	require.Equal(t, uint64(1), stream.CachedInfo().State.Msgs)
}

func TestEmbeddedServerErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts jhjs.EmbeddedOptions
		want string
	}{
		{"no store dir", jhjs.EmbeddedOptions{Listen: "127.0.0.1:0"}, "a store directory is required"},
		{"bad listen", jhjs.EmbeddedOptions{Listen: "localhost", StoreDir: t.TempDir()}, `listen address "localhost"`},
		{"bad port", jhjs.EmbeddedOptions{Listen: "127.0.0.1:http", StoreDir: t.TempDir()}, `listen port "http"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := jhjs.StartEmbedded(tc.opts)
			require.ErrorIs(t, err, jhjs.ErrEmbeddedStart)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestEmbeddedServerPortInUse(t *testing.T) {
	srv, err := jhjs.StartEmbedded(jhjs.EmbeddedOptions{Listen: "127.0.0.1:0", StoreDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Shutdown(context.Background())) })
	addr := srv.Server().Addr().String()

	_, err = jhjs.StartEmbedded(jhjs.EmbeddedOptions{Listen: addr, StoreDir: t.TempDir()})
	require.ErrorIs(t, err, jhjs.ErrEmbeddedStart)
	require.ErrorContains(t, err, "address already in use")
}

// TestEmbeddedServerLocksItsStoreDir: a second embedded server on the same
// store directory is refused, with the first's PID and URL, until the first
// shuts down.
func TestEmbeddedServerLocksItsStoreDir(t *testing.T) {
	dir := t.TempDir()
	first, err := jhjs.StartEmbedded(jhjs.EmbeddedOptions{Listen: "127.0.0.1:0", StoreDir: dir})
	require.NoError(t, err)

	for _, listen := range []string{"127.0.0.1:0", ""} {
		_, err = jhjs.StartEmbedded(jhjs.EmbeddedOptions{Listen: listen, StoreDir: dir})
		require.ErrorIs(t, err, jhjs.ErrEmbeddedStart)
		require.ErrorIs(t, err, jhjs.ErrStoreDirInUse)
		require.ErrorContains(t, err, fmt.Sprintf("data directory %s is in use by the embedded server of PID %d (%s)", dir, os.Getpid(), first.ClientURL()))
	}
	_, err = jhjs.StartEmbedded(jhjs.EmbeddedOptions{Listen: "127.0.0.1:0", StoreDir: filepath.Join(dir, ".")})
	require.ErrorIs(t, err, jhjs.ErrStoreDirInUse, "the same directory by another name")

	require.NoError(t, first.Shutdown(context.Background()))
	second, err := jhjs.StartEmbedded(jhjs.EmbeddedOptions{StoreDir: dir})
	require.NoError(t, err, "the lock is released on shutdown")
	t.Cleanup(func() { require.NoError(t, second.Shutdown(context.Background())) })
	_, err = jhjs.StartEmbedded(jhjs.EmbeddedOptions{StoreDir: dir})
	require.ErrorContains(t, err, fmt.Sprintf("in use by the embedded server of PID %d (in-process only)", os.Getpid()))
}

// TestEmbeddedServerLockDiesWithItsProcess: a server killed with SIGKILL
// leaves no stale lock, as the kernel releases it with the process.
func TestEmbeddedServerLockDiesWithItsProcess(t *testing.T) {
	if dir := os.Getenv("JOBHOOKS_TEST_HOLD_STORE_DIR"); dir != "" {
		srv, err := jhjs.StartEmbedded(jhjs.EmbeddedOptions{Listen: "127.0.0.1:0", StoreDir: dir})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("ready", srv.ClientURL())
		select {} // until killed
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestEmbeddedServerLockDiesWithItsProcess$")
	cmd.Env = append(os.Environ(), "JOBHOOKS_TEST_HOLD_STORE_DIR="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "ready ")
	require.True(t, ok, "child said %q", line)

	_, err = jhjs.StartEmbedded(jhjs.EmbeddedOptions{StoreDir: dir})
	require.ErrorIs(t, err, jhjs.ErrStoreDirInUse)
	require.ErrorContains(t, err, fmt.Sprintf("in use by the embedded server of PID %d (%s)", cmd.Process.Pid, url))

	require.NoError(t, cmd.Process.Kill())
	require.Error(t, cmd.Wait(), "killed")
	srv, err := jhjs.StartEmbedded(jhjs.EmbeddedOptions{StoreDir: dir})
	require.NoError(t, err, "a killed server's lock is gone with it")
	require.NoError(t, srv.Shutdown(context.Background()))
}
