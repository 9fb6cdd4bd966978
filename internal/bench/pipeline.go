package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// pipeline is the set of components of one scenario run (relay, workers,
// router, receiver), each a func(ctx) error run until the pipeline stops.
type pipeline struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	err    error         // the first component to fail
	failed chan struct{} // closed when one fails
	once   sync.Once

	// settle lists the consumers that must have nothing pending once the
	// run's jobs have all started, before the pipeline stops.
	settle []consumerRef
}

// consumerRef names a durable consumer.
type consumerRef struct{ stream, name string }

func newPipeline(ctx context.Context) *pipeline {
	ctx, cancel := context.WithCancel(ctx)
	return &pipeline{ctx: ctx, cancel: cancel, failed: make(chan struct{})}
}

// run starts component name. Its returning before the pipeline stops, even
// with nil, is a failure.
func (p *pipeline) run(name string, fn func(context.Context) error) {
	p.wg.Go(func() {
		err := fn(p.ctx)
		if p.ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled)) {
			return // stopped
		}
		if err == nil {
			err = errors.New("returned before the pipeline stopped")
		}
		p.fail(fmt.Errorf("%s: %w", name, err))
	})
}

func (p *pipeline) fail(err error) {
	p.once.Do(func() {
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(p.failed)
	})
}

// Err returns the first component's failure, or nil.
func (p *pipeline) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Failed is closed when a component fails.
func (p *pipeline) Failed() <-chan struct{} { return p.failed }

// await waits until ready is closed, a component fails or ctx ends.
func (p *pipeline) await(ctx context.Context, what string, ready <-chan struct{}) error {
	select {
	case <-ready:
		return nil
	case <-p.failed:
		return fmt.Errorf("%s not ready: %w", what, p.Err())
	case <-ctx.Done():
		return fmt.Errorf("%s not ready: %w", what, ctx.Err())
	}
}

// stop stops every component and waits for them; it returns the first
// failure.
func (p *pipeline) stop() error {
	p.cancel()
	p.wg.Wait()
	return p.Err()
}

// settleTimeout bounds the wait for the consumers to have nothing pending.
const settleTimeout = 30 * time.Second

// waitSettled waits until the pipeline's consumers have delivered and had
// acknowledged everything (nothing pending, nothing awaiting an ack), so
// that a late duplicate is counted before the run ends. There is no
// in-process signal for the server's state: it polls consumer info.
func (p *pipeline) waitSettled(ctx context.Context, js jetstream.JetStream) error {
	ctx, cancel := context.WithTimeout(ctx, settleTimeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for _, ref := range p.settle {
		for {
			info, err := consumerInfo(ctx, js, ref)
			if err != nil {
				return err
			}
			if info.NumPending == 0 && info.NumAckPending == 0 {
				break
			}
			select {
			case <-tick.C:
			case <-p.failed:
				return p.Err()
			case <-ctx.Done():
				return fmt.Errorf("consumer %s on %s still has %d pending and %d unacknowledged: %w",
					ref.name, ref.stream, info.NumPending, info.NumAckPending, ctx.Err())
			}
		}
	}
	return nil
}

func consumerInfo(ctx context.Context, js jetstream.JetStream, ref consumerRef) (*jetstream.ConsumerInfo, error) {
	cons, err := js.Consumer(ctx, ref.stream, ref.name)
	if err != nil {
		return nil, fmt.Errorf("consumer %s on %s: %w", ref.name, ref.stream, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("consumer %s on %s: %w", ref.name, ref.stream, err)
	}
	return info, nil
}
