package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	jhjs "github.com/jobhooks/jobhooks/jetstream"
)

// The relay's names: its consumer on CHANGES and the job it feeds.
const (
	relayConsumer = "bench-relay"
	relayJob      = "x"
)

// relay is the baseline: a bare, hand-written nats.go relay doing the
// router's job without jobhooks. It consumes changes.> through a durable
// pull consumer on CHANGES (explicit ack), publishes each change to jobs.x
// asynchronously with a de-duplication id, and acknowledges the change
// once its publish is confirmed, with at most window publishes in flight.
type relay struct {
	js     jetstream.JetStream
	window int
	ready  chan struct{}
}

func newRelay(js jetstream.JetStream, window int) *relay {
	return &relay{js: js, window: window, ready: make(chan struct{})}
}

// Ready is closed once the relay consumes.
func (r *relay) Ready() <-chan struct{} { return r.ready }

func (r *relay) consumer() consumerRef { return consumerRef{jhjs.StreamChanges, relayConsumer} }

// inFlight is a change whose job message is published, not yet confirmed.
type inFlight struct {
	change jetstream.Msg
	ack    jetstream.PubAckFuture
}

// Run relays until ctx ends.
func (r *relay) Run(ctx context.Context) error {
	cons, err := r.js.CreateOrUpdateConsumer(ctx, jhjs.StreamChanges, jetstream.ConsumerConfig{
		Durable:       relayConsumer,
		FilterSubject: "changes.>",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		MaxAckPending: 1000, // as the router's consumer
	})
	if err != nil {
		return fmt.Errorf("create consumer %s: %w", relayConsumer, err)
	}
	// The channel's capacity is the window of unconfirmed publishes.
	pending := make(chan inFlight, r.window)
	acked := make(chan struct{})
	go func() {
		defer close(acked)
		for p := range pending {
			select {
			case <-p.ack.Ok():
				_ = p.change.Ack()
			case <-p.ack.Err():
				_ = p.change.Nak() // redelivered; de-duplication drops a repeat
			case <-ctx.Done(): // stopping: what is not acknowledged comes back
			}
		}
	}()
	err = consume(ctx, cons, r.window, r.ready, func(m jetstream.Msg) error {
		h := make(nats.Header, len(m.Headers())+1)
		for k, v := range m.Headers() {
			h[k] = v
		}
		h.Set(nats.MsgIdHdr, h.Get(nats.MsgIdHdr)+"."+relayJob)
		f, err := r.js.PublishMsgAsync(&nats.Msg{Subject: "jobs." + relayJob, Header: h, Data: m.Data()})
		if err != nil {
			return fmt.Errorf("publish the job message: %w", err)
		}
		select {
		case pending <- inFlight{change: m, ack: f}:
		case <-ctx.Done():
		}
		return nil
	})
	close(pending)
	<-acked
	return err
}
