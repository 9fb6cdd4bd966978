package bench_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/internal/bench"
)

// TestMain lets the test binary be the benchmark's children too: the
// benchmark re-executes its own binary, which is this one under go test.
func TestMain(m *testing.M) {
	if bench.IsChild() {
		os.Exit(bench.ChildMain())
	}
	os.Exit(m.Run())
}

// TestSmoke runs every scenario once with tiny sizes: each must report a
// throughput and a latency, and see every job exactly once (a missing one
// fails the run). Nothing about timings is asserted.
func TestSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cfg := bench.Config{
		Rounds:         1,
		Changes:        200,
		LatencyChanges: 100,
		HooksStartup:   1000,
		HooksMany:      1000,
		ContentTypes:   100,
		FanOut:         5,
		Objects:        50,
		StallTimeout:   20 * time.Second,
	}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	rep, err := bench.Run(ctx, cfg, log, io.Discard)
	require.NoError(t, err)

	var names []string
	for _, s := range rep.Scenarios {
		names = append(names, s.Name)
		require.Len(t, s.Throughput, 1, s.Name)
		require.Len(t, s.Latency, 1, s.Name)
		tr, lr := s.Throughput[0], s.Latency[0]
		require.Positive(t, tr.ChangesPerS, s.Name)
		require.Positive(t, s.Median.JobMsgsPerS, s.Name)
		require.Equal(t, 200*s.FanOut, tr.JobMessages, s.Name)
		require.Zero(t, tr.Duplicates, s.Name)
		require.Zero(t, tr.Missing, s.Name)
		require.Zero(t, lr.Duplicates, s.Name)
		require.Zero(t, lr.Missing, s.Name)
		require.Positive(t, lr.JobMessages, s.Name)
		require.Positive(t, lr.MaxMs, s.Name)
	}
	require.Equal(t, []string{bench.ScenarioRelay, bench.ScenarioJobhooksAll, bench.ScenarioJobhooksFailures,
		bench.ScenarioRouterWorker, bench.ScenarioManyHooks, bench.ScenarioFanOut}, names)
	require.NotNil(t, rep.Startup)
	require.Len(t, rep.Startup.Rounds, 1)
	require.Equal(t, 1000, rep.Startup.Rounds[0].Hooks)
	require.Positive(t, rep.Startup.Rounds[0].FirstRoutedS)
	require.Positive(t, rep.Startup.Rounds[0].ReadyS)
	require.NotEmpty(t, rep.Targets)

	// The report renders, as a table and as JSON.
	require.NoError(t, rep.WriteTable(t.Output()))
	require.NoError(t, rep.WriteJSON(filepath.Join(t.TempDir(), "bench.json")))
}

func TestMainUsage(t *testing.T) {
	var stderr strings.Builder
	require.Equal(t, 0, bench.Main(t.Context(), []string{"-h"}, io.Discard, &stderr))
	for _, flag := range []string{"-rounds", "-changes", "-rate", "-latency-changes", "-json", "-scenarios", "-hooks-startup"} {
		require.Contains(t, stderr.String(), flag)
	}
	stderr.Reset()
	require.Equal(t, 2, bench.Main(t.Context(), []string{"--scenarios", "relay,nope"}, io.Discard, &stderr))
	require.Contains(t, stderr.String(), `unknown scenario "nope"`)
	require.Equal(t, 2, bench.Main(t.Context(), []string{"--rounds", "0"}, io.Discard, io.Discard))
}
