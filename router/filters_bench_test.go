package router_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/hookconfig"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/router"
)

// BenchmarkRouteConditions is routing with 1,000 hooks in the table, each
// on a content type of its own (dcim.m0 ... dcim.m999), every change an
// update matching one of them: hooks without filters at all (skip_noop
// false: routing as before filters existed); hooks without conditions,
// skipping no-ops (the default);
// the same hooks with conditions, the change's hook one of them (the
// change is decoded, its conditions met); and the same conditioned table
// with the change's hook, dcim.m0, left without conditions (traffic no
// conditioned hook matches: not decoded). But for the first, every hook
// skips no-ops, so each update's differences are read. Compare changes/s and
// cpu-ns/change between the three in one run.
func BenchmarkRouteConditions(b *testing.B) {
	const hooks = 1000
	const cond = `{"and":[{"attr":"name","value":"edge-","op":"regex"},{"attr":"serial","op":"changed"}]}`
	for _, tc := range []struct {
		name        string
		conditioned bool
		target      string
		keepNoop    bool // skip_noop false: the differences are not read, as before the filters
	}{
		{"no-filters", false, "dcim.m1", true},
		{"no-conditions", false, "dcim.m1", false},
		{"conditions", true, "dcim.m1", false},
		{"conditions,change-to-a-hook-without", true, "dcim.m0", false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			e := newEnv(b)
			e.registerJob("job-0", true)
			kv := e.srv.KV(b, jhjs.BucketJobHooks)
			for i := range hooks {
				h := &hookconfig.Hook{Name: fmt.Sprintf("hook-%d", i), Job: "job-0", Enabled: true,
					ContentTypes: []string{fmt.Sprintf("dcim.m%d", i)}, Events: []events.Action{events.ActionUpdate}}
				if tc.conditioned && i > 0 {
					h.Conditions = json.RawMessage(cond)
				}
				if tc.keepNoop {
					h.SkipNoop = new(bool)
				}
				data, err := json.Marshal(h)
				require.NoError(b, err)
				_, err = kv.Put(e.ctx, h.Name, data)
				require.NoError(b, err)
			}
			for i := range b.N {
				ch := update(fmt.Sprint(i%100), "A", fmt.Sprint(i))
				ch.ContentType = tc.target
				_, err := e.pub.PublishAsync(ch, events.EventOptions{ID: fmt.Sprintf("b-%d", i)})
				require.NoError(b, err)
			}
			<-e.pub.PublishAsyncComplete()
			r := router.New(e.srv.JS, router.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			ctx, cancel := context.WithCancel(e.ctx)
			done := make(chan error, 1)
			cpu := startCPU(b) // loading the table too: its conditions compiled, a few ms
			go func() { done <- r.Run(ctx) }()
			<-r.Ready()
			ready := b.Elapsed()
			waitAcked(b, e, cpu)
			b.ReportMetric(float64(ready.Milliseconds()), "ms-to-ready")
			require.Equal(b, hooks, r.Hooks().Index().Len())
			require.Equal(b, uint64(b.N), r.Stats().Routed, "every change fires its hook")
			cancel()
			require.NoError(b, <-done)
		})
	}
}
