package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	jhjs "github.com/jobhooks/jobhooks/jetstream"
)

// workerConsumer is the bare worker's durable consumer on JOBS.
const workerConsumer = "bench-worker"

// worker is a bare nats.go worker: it consumes the job messages on filter
// through a durable pull consumer on JOBS, tells the tracker its job
// started, and acknowledges.
type worker struct {
	js      jetstream.JetStream
	filter  string
	tracker *tracker
	window  int
	ready   chan struct{}
}

func newWorker(js jetstream.JetStream, filter string, t *tracker, window int) *worker {
	return &worker{js: js, filter: filter, tracker: t, window: window, ready: make(chan struct{})}
}

// Ready is closed once the worker consumes.
func (w *worker) Ready() <-chan struct{} { return w.ready }

func (w *worker) consumer() consumerRef { return consumerRef{jhjs.StreamJobs, workerConsumer} }

// Run consumes until ctx ends.
func (w *worker) Run(ctx context.Context) error {
	cons, err := w.js.CreateOrUpdateConsumer(ctx, jhjs.StreamJobs, jetstream.ConsumerConfig{
		Durable:       workerConsumer,
		FilterSubject: w.filter,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("create consumer %s: %w", workerConsumer, err)
	}
	return consume(ctx, cons, w.window, w.ready, func(m jetstream.Msg) error {
		w.tracker.observeMsg(m.Headers())
		return m.Ack()
	})
}

// consume runs handle on every message of cons until ctx ends, closing
// ready once it consumes. An error of handle stops it.
func consume(ctx context.Context, cons jetstream.Consumer, batch int, ready chan<- struct{}, handle func(jetstream.Msg) error) error {
	iter, err := cons.Messages(jetstream.PullMaxMessages(batch))
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	stop := context.AfterFunc(ctx, iter.Stop)
	defer stop()
	close(ready)
	for {
		m, err := iter.Next()
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("consume: %w", err)
		}
		if errors.Is(err, jetstream.ErrConsumerDeleted) {
			return fmt.Errorf("consume: %w", err)
		}
		if err != nil {
			continue // e.g. a missed heartbeat: the iterator recovers
		}
		if err := handle(m); err != nil {
			return err
		}
	}
}
