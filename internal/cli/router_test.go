package cli_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/internal/cli"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
)

// runRouter runs the router command until it logs "router ready", then
// stops it and returns its exit code and log.
func runRouter(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, log jstest.LogBuffer
	code := make(chan int, 1)
	go func() { code <- cli.Router(ctx, args, strings.NewReader(""), &out, &log) }()
	require.Eventually(t, func() bool { return strings.Contains(log.String(), "router ready") },
		30*time.Second, 5*time.Millisecond, "router log:\n%s", log.String())
	cancel()
	select {
	case c := <-code:
		return c, log.String()
	case <-time.After(30 * time.Second):
		t.Fatalf("router did not stop; log:\n%s", log.String())
		return 0, ""
	}
}

func TestRouterStartsAnEmbeddedServerWithoutURL(t *testing.T) {
	t.Setenv(jhjs.EnvURL, "")
	dir := t.TempDir()
	code, log := runRouter(t, "--listen", "127.0.0.1:0", "--data-dir", dir)
	require.Equal(t, cli.ExitOK, code, log)
	first := strings.SplitN(log, "\n", 2)[0]
	require.Contains(t, first, "started an embedded JetStream server", "the first log line says so")
	require.Contains(t, first, "data_dir="+dir)
	require.Contains(t, log, "try next")
	require.Contains(t, log, "JetStream stream created")
	require.Contains(t, log, "router stopped")

	// Restarted on the same data: everything is there already.
	code, log = runRouter(t, "--listen", "127.0.0.1:0", "--data-dir", dir)
	require.Equal(t, cli.ExitOK, code, log)
	require.NotContains(t, log, "created")
}

func TestRouterConnectsToAGivenServer(t *testing.T) {
	srv := jstest.Start(t)
	code, log := runRouter(t, "--nats-url", srv.URL, "--changes-max-age", "1d")
	require.Equal(t, cli.ExitOK, code, log)
	require.Contains(t, log, "connected to NATS")
	require.NotContains(t, log, "embedded")
	stream, err := srv.JS.Stream(context.Background(), jhjs.StreamChanges)
	require.NoError(t, err)
	require.Equal(t, 24*time.Hour, stream.CachedInfo().Config.MaxAge)
}

func TestRouterUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"--no-such-flag"}, {"extra"}, {"--log-level", "loud"}, {"--replicas", "0", "--nats-url", "nats://127.0.0.1:1"}} {
		var out, log bytes.Buffer
		code := cli.Router(context.Background(), args, strings.NewReader(""), &out, &log)
		require.NotEqual(t, cli.ExitOK, code, "%v", args)
		require.NotEmpty(t, log.String())
	}
}

// TestRouterDefaults pins SPEC's defaults of the embedded server and the
// retention flags, as -h shows them.
func TestRouterDefaults(t *testing.T) {
	var out, log bytes.Buffer
	require.Equal(t, cli.ExitOK, cli.Router(context.Background(), []string{"-h"}, strings.NewReader(""), &out, &log))
	for _, want := range []string{
		`--listen string\s+embedded server: address to listen on \(used when no NATS URL is given\) \(default "127.0.0.1:4222"\)`,
		`--data-dir string\s+embedded server: JetStream store directory \(default "./data"\)`,
		`--changes-max-age age\s+how long the CHANGES stream keeps changes \(default 7d\)`,
		`--jobs-max-age age\s+how long the JOBS stream keeps job messages \(default 7d\)`,
		`--deadletter-max-age age\s+how long the DEADLETTER stream keeps dead letters \(default 30d\)`,
		`--results-max-age age\s+how long the job_results bucket keeps job results \(default 30d\)`,
		`--replicas int\s+replicas of every stream and bucket \(1 to 5; 3 on a cluster\), applied to existing ones too \(default 1\)`,
	} {
		require.Regexp(t, want, out.String())
	}
	require.Empty(t, log.String(), "help asked for goes to stdout")
}

// TestAFailingRouterLogsOneStopLine: a router whose consumer is deleted
// under it stops with one "router stopped" line, at error level, with its
// counts and the error, and a failure exit code.
func TestAFailingRouterLogsOneStopLine(t *testing.T) {
	srv := jstest.Start(t)
	var out, log jstest.LogBuffer
	code := make(chan int, 1)
	go func() {
		code <- cli.Router(t.Context(), []string{"--nats-url", srv.URL}, strings.NewReader(""), &out, &log)
	}()
	require.Eventually(t, func() bool { return strings.Contains(log.String(), "router ready") },
		30*time.Second, 5*time.Millisecond, "router log:\n%s", log.String())
	require.NoError(t, srv.JS.DeleteConsumer(t.Context(), jhjs.StreamChanges, jhjs.ConsumerRouter))
	select {
	case c := <-code:
		require.NotEqual(t, cli.ExitOK, c, log.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("router did not stop; log:\n%s", log.String())
	}
	var stops []string
	for line := range strings.Lines(log.String()) {
		if strings.Contains(line, `msg="router stopped"`) {
			stops = append(stops, line)
		}
	}
	require.Len(t, stops, 1, log.String())
	require.Contains(t, stops[0], "level=ERROR")
	require.Contains(t, stops[0], "changes=0")
	require.Contains(t, stops[0], "consume CHANGES")
}
