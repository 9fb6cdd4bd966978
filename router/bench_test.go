package router_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/router"
)

// BenchmarkRoute measures routing throughput end to end on an embedded
// server: b.N changes are stored first, then a router routes them all; the
// time is until every change is acknowledged. Sub-benchmarks vary how many
// hooks match each change, so the ratios show the cost of fan-out against
// a change that matches nothing (decode, look up, ack). The comparison
// with a bare nats.go relay, on a standalone server, is cmd/bench's.
//
// The metrics variant routes with a Prometheus registry, to show what the
// metrics cost.
func BenchmarkRoute(b *testing.B) {
	for _, tc := range []struct {
		hooks   int
		metrics bool
	}{{0, false}, {1, false}, {4, false}, {1, true}, {4, true}} {
		name := fmt.Sprintf("hooks=%d", tc.hooks)
		if tc.metrics {
			name += ",metrics"
		}
		hooks := tc.hooks
		b.Run(name, func(b *testing.B) {
			e := storedChanges(b, hooks)
			opts := router.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
			if tc.metrics {
				opts.Registerer = prometheus.NewRegistry()
			}
			r := router.New(e.srv.JS, opts)
			ctx, cancel := context.WithCancel(e.ctx)
			done := make(chan error, 1)
			cpu := startCPU(b)
			go func() { done <- r.Run(ctx) }()
			<-r.Ready()
			waitAcked(b, e, cpu)
			require.Equal(b, uint64(b.N*hooks), r.Stats().Routed)
			cancel()
			require.NoError(b, <-done)
		})
	}
}

// storedChanges returns an environment with hooks hooks matching device
// updates (on jobs job-0, job-1, ...) and b.N updates stored in CHANGES.
func storedChanges(b *testing.B, hooks int) *env {
	e := newEnv(b)
	for i := range hooks {
		job := fmt.Sprintf("job-%d", i)
		e.registerJob(job, true)
		e.putHook("hook-"+job, job, "dcim.device", events.ActionUpdate)
	}
	for i := range b.N {
		_, err := e.pub.PublishAsync(update(fmt.Sprint(i%100), "A", fmt.Sprint(i)), events.EventOptions{ID: fmt.Sprintf("b-%d", i)})
		require.NoError(b, err)
	}
	<-e.pub.PublishAsyncComplete()
	return e
}

// startCPU resets the timer and returns the CPU time the process (router,
// server and all) has used so far: CPU time per change is steadier than
// the rate on a shared machine.
func startCPU(b *testing.B) time.Duration {
	b.ResetTimer()
	return cpuTime(b)
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// waitAcked waits until the router consumer has acknowledged every change,
// stops the timer and reports the rate and the CPU time per change since
// cpu (startCPU).
func waitAcked(b *testing.B, e *env, cpu time.Duration) {
	cons, err := e.srv.JS.Consumer(e.ctx, jhjs.StreamChanges, jhjs.ConsumerRouter)
	require.NoError(b, err)
	for {
		info, err := cons.Info(e.ctx)
		require.NoError(b, err)
		if info.AckFloor.Stream >= uint64(b.N) {
			break
		}
		time.Sleep(time.Millisecond) // polling the server, not waiting for a condition in-process
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "changes/s")
	b.ReportMetric(float64(cpuTime(b)-cpu)/float64(b.N), "cpu-ns/change")
}
