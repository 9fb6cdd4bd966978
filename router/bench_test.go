package router_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/router"
)

// BenchmarkRoute measures routing throughput end to end on an embedded
// server: b.N changes are stored first, then a router routes them all; the
// time is until every change is acknowledged. Sub-benchmarks vary how many
// hooks match each change, so the ratios show the cost of fan-out against
// a change that matches nothing (decode, look up, ack).
func BenchmarkRoute(b *testing.B) {
	for _, hooks := range []int{0, 1, 4} {
		b.Run(fmt.Sprintf("hooks=%d", hooks), func(b *testing.B) { benchRoute(b, hooks) })
	}
}

func benchRoute(b *testing.B, hooks int) {
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

	r := router.New(e.srv.JS, router.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	b.ResetTimer()
	go func() { done <- r.Run(ctx) }()
	<-r.Ready()
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
	require.Equal(b, uint64(b.N*hooks), r.Stats().Routed)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "changes/s")
	cancel()
	require.NoError(b, <-done)
}
