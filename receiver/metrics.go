package receiver

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jobhooks/jobhooks/internal/promutil"
)

// metrics are the Runner's Prometheus metrics (see docs/metrics.md).
type metrics struct {
	collectors  promutil.Collectors
	jobs        *prometheus.CounterVec
	attempts    *prometheus.CounterVec
	deadLetters *prometheus.CounterVec
	duration    *prometheus.HistogramVec
}

func newMetrics() *metrics {
	m := &metrics{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jobhooks_receiver_jobs_total",
			Help: "Job messages settled for good, by job and final status: completed, failed or errored.",
		}, []string{"job", "status"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jobhooks_receiver_attempts_total",
			Help: "Attempts at running a job, by job and the status they ended with: completed, failed, errored or retrying.",
		}, []string{"job", "status"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jobhooks_receiver_dead_letters_total",
			Help: "Job messages stored on deadletter.jobs.<job>, by job.",
		}, []string{"job"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "jobhooks_receiver_job_duration_seconds",
			Help:    "How long an attempt ran the job, by job.",
			Buckets: []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"job"}),
	}
	m.collectors = promutil.Collectors{m.jobs, m.attempts, m.deadLetters, m.duration}
	return m
}

// register registers every collector with reg; on failure none stays.
func (m *metrics) register(reg prometheus.Registerer) error { return m.collectors.Register(reg) }

func (m *metrics) unregister(reg prometheus.Registerer) { m.collectors.Unregister(reg) }

// jobMetrics are one job's children, resolved once when its runner starts;
// a nil *jobMetrics counts nothing.
type jobMetrics struct {
	final       map[Status]prometheus.Counter
	attempts    map[Status]prometheus.Counter
	deadLetters prometheus.Counter
	duration    prometheus.Observer
}

func (m *metrics) job(name string) *jobMetrics {
	if m == nil {
		return nil
	}
	jm := &jobMetrics{
		final:       make(map[Status]prometheus.Counter, 3),
		attempts:    make(map[Status]prometheus.Counter, 4),
		deadLetters: m.deadLetters.WithLabelValues(name),
		duration:    m.duration.WithLabelValues(name),
	}
	for _, s := range []Status{StatusCompleted, StatusFailed, StatusErrored} {
		jm.final[s] = m.jobs.WithLabelValues(name, string(s))
	}
	for _, s := range []Status{StatusCompleted, StatusFailed, StatusErrored, StatusRetrying} {
		jm.attempts[s] = m.attempts.WithLabelValues(name, string(s))
	}
	return jm
}

// attempted counts an attempt that ended with status; ran is how long it
// ran the job (0: it did not run it). final says its message is settled
// for good.
func (jm *jobMetrics) attempted(status Status, ran time.Duration, final bool) {
	if jm == nil {
		return
	}
	if c := jm.attempts[status]; c != nil {
		c.Inc()
	}
	if ran > 0 {
		jm.duration.Observe(ran.Seconds())
	}
	if c := jm.final[status]; c != nil && final {
		c.Inc()
	}
}

// deadLettered counts a dead letter stored.
func (jm *jobMetrics) deadLettered() {
	if jm != nil {
		jm.deadLetters.Inc()
	}
}
