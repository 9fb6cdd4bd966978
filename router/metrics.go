package router

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jobhooks/jobhooks/internal/promutil"
)

// Skip reasons: the reason label of jobhooks_router_changes_skipped_total.
const (
	SkipLoop          = "loop"            // made by a job hook receiver (ce-hookorigin)
	SkipNoHook        = "no_hook"         // no hook matches its object type and action
	SkipJobNotEnabled = "job_not_enabled" // hooks match, but none has its job registered and enabled
	SkipFiltered      = "filtered"        // hooks match, but their filters (skip_noop, changed_fields, conditions) say no
)

// Dead-letter reason classes: the reason label of
// jobhooks_router_changes_dead_lettered_total.
const (
	DeadLetterInvalid    = "invalid"    // the change is not a valid change
	DeadLetterUnroutable = "unroutable" // valid, but its job messages could not be built (decoded for the context callbacks, encoded)
	DeadLetterRefused    = "refused"    // JetStream refused one of its job messages for good (too large, ...)
	DeadLetterNotStored  = "not_stored" // its dead letter was refused for good too: terminated, the change is in CHANGES only
)

// deadLetterClass indexes metrics.deadLettered.
type deadLetterClass uint8

const (
	classInvalid deadLetterClass = iota
	classUnroutable
	classRefused
	classNotStored
	numClasses
)

// label is c's reason label.
func (c deadLetterClass) label() string {
	switch c {
	case classInvalid:
		return DeadLetterInvalid
	case classUnroutable:
		return DeadLetterUnroutable
	case classNotStored:
		return DeadLetterNotStored
	default:
		return DeadLetterRefused
	}
}

// metrics are the router's Prometheus metrics. Every child a change needs
// is resolved up front, or once per job: the hot path only adds.
type metrics struct {
	collectors promutil.Collectors

	routed       prometheus.Counter
	skipLoop     prometheus.Counter
	skipNoHook   prometheus.Counter
	skipJob      prometheus.Counter
	skipFiltered prometheus.Counter
	deadLettered [numClasses]prometheus.Counter
	latency      prometheus.Histogram

	published *prometheus.CounterVec
	mu        sync.Mutex                                    // serialises additions to byJob
	byJob     atomic.Pointer[map[string]prometheus.Counter] // job subject → its published counter
}

func newMetrics(r *Router) *metrics {
	skipped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jobhooks_router_changes_skipped_total",
		Help: "Changes the router acknowledged without a job message, by reason: loop, no_hook, job_not_enabled, filtered.",
	}, []string{"reason"})
	dead := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jobhooks_router_changes_dead_lettered_total",
		Help: "Changes stored on deadletter.changes, by reason class: invalid, unroutable, refused; and not_stored: changes terminated without one, their dead letter refused too.",
	}, []string{"reason"})
	m := &metrics{
		routed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "jobhooks_router_changes_routed_total",
			Help: "Changes whose job messages (one or more) are all stored in JOBS.",
		}),
		skipLoop:     skipped.WithLabelValues(SkipLoop),
		skipNoHook:   skipped.WithLabelValues(SkipNoHook),
		skipJob:      skipped.WithLabelValues(SkipJobNotEnabled),
		skipFiltered: skipped.WithLabelValues(SkipFiltered),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "jobhooks_router_routing_latency_seconds",
			Help:    "Time from a change's delivery to the router until all its job messages are stored.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jobhooks_router_job_messages_published_total",
			Help: "Job messages stored in JOBS, by job.",
		}, []string{"job"}),
	}
	for c := range numClasses {
		m.deadLettered[c] = dead.WithLabelValues(c.label())
	}
	m.byJob.Store(&map[string]prometheus.Counter{})
	// Children per hook, resolved once per hook (filterTable.of).
	r.filters.vec = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jobhooks_router_hook_filtered_total",
		Help: "Changes a hook matched by object type and action but did not fire for, by hook and filter: noop, changed_fields, condition.",
	}, []string{"hook", "reason"})
	hooks := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "jobhooks_router_hooks",
		Help: "Hooks in the router's hook table (the job_hooks bucket, invalid entries left out).",
	}, func() float64 {
		if h := r.Hooks(); h != nil {
			return float64(h.Index().Len())
		}
		return 0
	})
	jobs := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "jobhooks_router_jobs",
		Help: "Jobs in the router's job table (registered in the jobs bucket).",
	}, func() float64 {
		if js := r.jobTable(); js != nil {
			return float64(len(*js.enabled.Load()))
		}
		return 0
	})
	enabled := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "jobhooks_router_jobs_enabled",
		Help: "Jobs in the router's job table that are enabled.",
	}, func() float64 {
		n := 0
		if js := r.jobTable(); js != nil {
			for _, on := range *js.enabled.Load() {
				if on {
					n++
				}
			}
		}
		return float64(n)
	})
	m.collectors = promutil.Collectors{m.routed, skipped, dead, m.latency, m.published, r.filters.vec, hooks, jobs, enabled}
	return m
}

// register registers every collector with reg; on failure none stays.
func (m *metrics) register(reg prometheus.Registerer) error { return m.collectors.Register(reg) }

func (m *metrics) unregister(reg prometheus.Registerer) { m.collectors.Unregister(reg) }

// jobPublished is the published counter of the job of job subject
// jobs.<job>, resolved once per job.
func (m *metrics) jobPublished(subject string) prometheus.Counter {
	if c, ok := (*m.byJob.Load())[subject]; ok {
		return c
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	byJob := *m.byJob.Load()
	if c, ok := byJob[subject]; ok {
		return c
	}
	next := make(map[string]prometheus.Counter, len(byJob)+1)
	for k, v := range byJob {
		next[k] = v
	}
	_, job, _ := strings.Cut(subject, ".")
	c := m.published.WithLabelValues(job)
	next[subject] = c
	m.byJob.Store(&next)
	return c
}

// settled counts change p, acknowledged (routed or skipped) or terminated
// (dead-lettered).
func (m *metrics) settled(p *pendingChange) {
	switch {
	case p.dead:
		m.deadLettered[p.class].Inc()
	case len(p.jobs) > 0:
		m.routed.Inc()
		for _, job := range p.jobs {
			m.jobPublished(job.Subject).Inc()
		}
		m.latency.Observe(time.Since(p.received).Seconds())
	default:
		switch p.skip {
		case skipLoop:
			m.skipLoop.Inc()
		case skipJob:
			m.skipJob.Inc()
		case skipFiltered:
			m.skipFiltered.Inc()
		default:
			m.skipNoHook.Inc()
		}
	}
}

// deadLetterNotStored counts a change terminated because its dead letter was
// refused for good; a nil *metrics counts nothing.
func (m *metrics) deadLetterNotStored() {
	if m != nil {
		m.deadLettered[classNotStored].Inc()
	}
}

// skipReason says why a change without job messages got none.
type skipReason uint8

const (
	skipNoHook skipReason = iota
	skipLoop
	skipJob
	skipFiltered
)
