package receiver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
	"github.com/jobhooks/jobhooks/receiver"
)

// BenchmarkRunner measures how fast a ready Runner works through job
// messages as they are stored: b.N 1 KB device updates over 1,000
// objects, published as fast as the server takes them, a no-op job; the
// time is from the first publish until the job has run b.N times. Sub-benchmarks compare the
// results modes.
func BenchmarkRunner(b *testing.B) {
	for _, mode := range []receiver.ResultsMode{receiver.ResultsAll, receiver.ResultsFailures} {
		b.Run("results="+string(mode), func(b *testing.B) { benchRunner(b, mode, nil) })
	}
	// What the metrics cost.
	b.Run("results=failures,metrics", func(b *testing.B) { benchRunner(b, receiver.ResultsFailures, prometheus.NewRegistry()) })
}

func benchRunner(b *testing.B, mode receiver.ResultsMode, reg prometheus.Registerer) {
	s := jstest.StartProvisioned(b)
	ctx := b.Context()
	hook, err := json.Marshal(map[string]any{"name": "h", "content_types": []string{"dcim.device"}, "job": "noop",
		"enabled": true, "events": []string{"update"}})
	require.NoError(b, err)
	_, err = s.KV(b, jhjs.BucketJobHooks).Put(ctx, "h", hook)
	require.NoError(b, err)
	var ran atomic.Int64
	done := make(chan struct{})
	jobs := receiver.NewRegistry()
	jobs.HandleFunc("noop", receiver.JobInfo{},
		func(context.Context, *receiver.Job, *receiver.Change, events.Action, map[string]any) error {
			if ran.Add(1) == int64(b.N) {
				close(done)
			}
			return nil
		})
	runCtx, cancel := context.WithCancel(ctx)
	r := receiver.NewRunner(s.JS, jobs, receiver.Options{EnableNew: true, Results: mode, Registerer: reg,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	stopped := make(chan error, 1)
	go func() { stopped <- r.Run(runCtx) }()
	select {
	case <-r.Ready():
	case err := <-stopped:
		b.Fatalf("runner stopped: %v", err)
	}
	b.ResetTimer()
	filler := strings.Repeat("x", 600)
	for i := range b.N {
		obj := fmt.Sprint(i % 1000)
		ch := &events.Change{Action: events.ActionUpdate, ContentType: "dcim.device", ObjectID: obj, ObjectRepr: "edge-" + obj,
			User: "admin", PreChange: map[string]any{"name": "edge-" + obj, "serial": "A", "comments": filler},
			PostChange: map[string]any{"name": "edge-" + obj, "serial": fmt.Sprint(i), "comments": filler}}
		ev, err := events.NewEvent(ch, events.EventOptions{ID: fmt.Sprintf("b-%d", i), Source: "bench://"})
		require.NoError(b, err)
		msg, err := events.NewJobMsg(&events.ChangeEvent{Event: *ev, Change: *ch}, "h", "noop", nil)
		require.NoError(b, err)
		_, err = s.JS.PublishMsgAsync(msg)
		require.NoError(b, err)
	}

	select {
	case <-done:
	case err := <-stopped:
		b.Fatalf("runner stopped: %v", err)
	case <-time.After(time.Minute):
		b.Fatalf("%d of %d jobs ran", ran.Load(), b.N)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
	cancel()
	require.NoError(b, <-stopped)
}
