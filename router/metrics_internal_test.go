package router

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Each way a change is settled counts in its own series, and only there.
func TestMetricsSettled(t *testing.T) {
	jobMsg := func(job string) *nats.Msg { return &nats.Msg{Subject: "jobs." + job} }
	for _, tc := range []struct {
		name   string
		change pendingChange
		want   map[string]float64 // series → value; every other series stays 0
	}{
		{"routed to two jobs", pendingChange{jobs: []*nats.Msg{jobMsg("a"), jobMsg("b")}, received: time.Now()},
			map[string]float64{"routed": 1, "published a": 1, "published b": 1, "latency": 1}},
		{"loop", pendingChange{skip: skipLoop}, map[string]float64{"skipped loop": 1}},
		{"no hook", pendingChange{skip: skipNoHook}, map[string]float64{"skipped no_hook": 1}},
		{"job not enabled", pendingChange{skip: skipJob}, map[string]float64{"skipped job_not_enabled": 1}},
		{"invalid", pendingChange{dead: true, class: classInvalid, jobs: []*nats.Msg{{}}}, map[string]float64{"dead invalid": 1}},
		{"unroutable", pendingChange{dead: true, class: classUnroutable, jobs: []*nats.Msg{{}}}, map[string]float64{"dead unroutable": 1}},
		{"refused", pendingChange{dead: true, class: classRefused, jobs: []*nats.Msg{{}}}, map[string]float64{"dead refused": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMetrics(New(nil, Options{}))
			reg := prometheus.NewPedanticRegistry()
			require.NoError(t, m.register(reg))
			m.settled(&tc.change)
			m.jobPublished("jobs.a") // both series exist, so that 0 can be read
			m.jobPublished("jobs.b")
			got := map[string]float64{
				"routed":                  testutil.ToFloat64(m.routed),
				"skipped loop":            testutil.ToFloat64(m.skipLoop),
				"skipped no_hook":         testutil.ToFloat64(m.skipNoHook),
				"skipped job_not_enabled": testutil.ToFloat64(m.skipJob),
				"dead invalid":            testutil.ToFloat64(m.deadLettered[classInvalid]),
				"dead unroutable":         testutil.ToFloat64(m.deadLettered[classUnroutable]),
				"dead refused":            testutil.ToFloat64(m.deadLettered[classRefused]),
				"published a":             testutil.ToFloat64(m.jobPublished("jobs.a")),
				"published b":             testutil.ToFloat64(m.jobPublished("jobs.b")),
				"latency":                 histogramCount(t, reg, "jobhooks_router_routing_latency_seconds"),
			}
			for series, v := range got {
				assert.Equal(t, tc.want[series], v, series)
			}
			n, err := testutil.GatherAndCount(reg, "jobhooks_router_hooks", "jobhooks_router_jobs")
			require.NoError(t, err)
			assert.Equal(t, 2, n, "the table sizes are there before Run loaded the tables")
		})
	}
}

func histogramCount(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == name {
			return float64(f.GetMetric()[0].GetHistogram().GetSampleCount())
		}
	}
	t.Fatalf("no %s", name)
	return 0
}

// BenchmarkMetricsSettled is what the metrics add to a change routed to
// one job: a counter, its job's counter, the latency histogram.
func BenchmarkMetricsSettled(b *testing.B) {
	m := newMetrics(New(nil, Options{}))
	p := pendingChange{jobs: []*nats.Msg{{Subject: "jobs.a"}}, received: time.Now()}
	b.ReportAllocs()
	for b.Loop() {
		m.settled(&p)
	}
}
