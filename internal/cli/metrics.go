package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/receiver"
)

// PathMetrics serves the Prometheus metrics of a command's HTTP server.
const PathMetrics = "/metrics"

// consumerInfoTimeout bounds the info request of each consumer in a
// scrape, and maxConsumerInfos how many are in flight at once.
const (
	consumerInfoTimeout = 2 * time.Second
	maxConsumerInfos    = 8
)

// newRegistry returns a registry with the build info, Go and process
// collectors, and the lag of the given consumers. Each command has its
// own: no global registry.
func newRegistry(js jetstream.JetStream, consumers []consumerRef) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	info, _ := debug.ReadBuildInfo()
	b := buildOf(info)
	reg.MustRegister( // a fresh registry and distinct collectors: cannot fail
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "jobhooks_build_info",
			Help:        "Always 1: the version and VCS revision the binary was built from, and the Go version.",
			ConstLabels: prometheus.Labels{"version": b.version, "revision": b.commit, "goversion": runtime.Version()},
		}, func() float64 { return 1 }),
		&consumerLag{js: js, consumers: consumers, timeout: consumerInfoTimeout},
	)
	return reg
}

// metricsHandler serves reg. A collector that fails (a consumer whose
// info did not come in time) is logged and left out; the rest is served.
func metricsHandler(reg *prometheus.Registry, log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling:     promhttp.ContinueOnError,
		Registry:          reg, // promhttp_metric_handler_errors_total
		Timeout:           10 * time.Second,
		EnableOpenMetrics: true,
	})
}

// consumerRef names a durable consumer.
type consumerRef struct{ stream, consumer string }

var (
	pendingDesc = prometheus.NewDesc("jobhooks_consumer_pending_messages",
		"Messages in the stream the consumer has not delivered yet (its backlog), read at scrape time.",
		[]string{"stream", "consumer"}, nil)
	ackPendingDesc = prometheus.NewDesc("jobhooks_consumer_ack_pending_messages",
		"Messages the consumer delivered and awaits an acknowledgement for, read at scrape time.",
		[]string{"stream", "consumer"}, nil)
)

// consumerLag reads the pending and ack-pending counts of its consumers
// from the server at scrape time: a consumer is shared by every process
// running it, so these are the consumer's, not this process's.
type consumerLag struct {
	js        jetstream.JetStream
	consumers []consumerRef
	timeout   time.Duration // each consumer's: a slow one leaves the others their time
}

func (c *consumerLag) Describe(ch chan<- *prometheus.Desc) {
	ch <- pendingDesc
	ch <- ackPendingDesc
}

// Collect asks for the consumers' info in parallel, at most
// maxConsumerInfos at once, so that a scrape takes about one timeout at
// worst for a handful of receivers' jobs.
func (c *consumerLag) Collect(ch chan<- prometheus.Metric) {
	slots := make(chan struct{}, maxConsumerInfos)
	var wg sync.WaitGroup
	for _, ref := range c.consumers {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			c.collect(ref, ch)
		})
	}
	wg.Wait()
}

func (c *consumerLag) collect(ref consumerRef, ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	cons, err := c.js.Consumer(ctx, ref.stream, ref.consumer)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(pendingDesc, fmt.Errorf("consumer %s on %s: %w", ref.consumer, ref.stream, err))
		return
	}
	info := cons.CachedInfo()
	ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(info.NumPending), ref.stream, ref.consumer)
	ch <- prometheus.MustNewConstMetric(ackPendingDesc, prometheus.GaugeValue, float64(info.NumAckPending), ref.stream, ref.consumer)
}

// serveReceiverHTTP serves the receiver's /metrics, /healthz and /readyz
// on addr until ctx ends or stop is called.
func serveReceiverHTTP(ctx context.Context, log *slog.Logger, addr string, nc *nats.Conn, reg *prometheus.Registry, r *receiver.Runner) (stop func(), err error) {
	mux := http.NewServeMux()
	mux.Handle("GET "+PathMetrics, metricsHandler(reg, log))
	healthHandlers(mux, func() error { return receiverReady(nc, r) })
	return serveHTTP(ctx, log, addr, mux)
}

// receiverConsumers are the consumers of jobs, receiver-<job> on JOBS.
func receiverConsumers(jobs []string) []consumerRef {
	refs := make([]consumerRef, len(jobs))
	for i, job := range jobs {
		refs[i] = consumerRef{jhjs.StreamJobs, jhjs.ConsumerReceiverPrefix + job}
	}
	return refs
}

// receiverReady is nil once the receiver is connected and every job is
// registered and consuming (or disabled, its flag read).
func receiverReady(nc *nats.Conn, r *receiver.Runner) error {
	return ready(nc, r.Ready(), "registering the jobs and starting their consumers")
}
