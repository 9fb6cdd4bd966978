package receiver

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An attempt counts under its status; its message counts under its final
// status only once settled for good; a nil jobMetrics counts nothing.
func TestJobMetricsAttempted(t *testing.T) {
	m := newMetrics()
	jm := m.job("j")
	jm.attempted(StatusRetrying, time.Millisecond, false)
	jm.attempted(StatusFailed, time.Millisecond, true)
	jm.attempted(StatusCompleted, 0, false) // ran nothing; released for another attempt
	jm.deadLettered()
	got := map[string]float64{
		"attempts retrying":  testutil.ToFloat64(m.attempts.WithLabelValues("j", "retrying")),
		"attempts failed":    testutil.ToFloat64(m.attempts.WithLabelValues("j", "failed")),
		"attempts completed": testutil.ToFloat64(m.attempts.WithLabelValues("j", "completed")),
		"attempts errored":   testutil.ToFloat64(m.attempts.WithLabelValues("j", "errored")),
		"jobs failed":        testutil.ToFloat64(m.jobs.WithLabelValues("j", "failed")),
		"jobs completed":     testutil.ToFloat64(m.jobs.WithLabelValues("j", "completed")),
		"jobs errored":       testutil.ToFloat64(m.jobs.WithLabelValues("j", "errored")),
		"dead letters":       testutil.ToFloat64(m.deadLetters.WithLabelValues("j")),
	}
	assert.Equal(t, map[string]float64{
		"attempts retrying": 1, "attempts failed": 1, "attempts completed": 1, "attempts errored": 0,
		"jobs failed": 1, "jobs completed": 0, "jobs errored": 0, "dead letters": 1,
	}, got)
	assert.Equal(t, 1, testutil.CollectAndCount(m.duration), "one series, for job j")
	assert.Equal(t, 2, histogramCount(t, m), "the two attempts that ran")
	var none *jobMetrics
	none.attempted(StatusCompleted, time.Second, true) // no metrics: no panic, nothing counted
	none.deadLettered()
}

func histogramCount(t *testing.T, m *metrics) int {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, m.register(reg))
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == "jobhooks_receiver_job_duration_seconds" {
			return int(f.GetMetric()[0].GetHistogram().GetSampleCount())
		}
	}
	t.Fatal("no jobhooks_receiver_job_duration_seconds")
	return 0
}

// BenchmarkJobMetricsAttempted is what the metrics add to an attempt.
func BenchmarkJobMetricsAttempted(b *testing.B) {
	jm := newMetrics().job("j")
	b.ReportAllocs()
	for b.Loop() {
		jm.attempted(StatusCompleted, time.Millisecond, true)
	}
}
