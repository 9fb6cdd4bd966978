package jetstream

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// maxFollowBatch bounds a batch of live updates, so that a steady stream of
// writes cannot hold back the ones already read.
const maxFollowBatch = 1024

// Follower is jobhooks' one way to hold a KV bucket in memory: load the
// whole of it, then follow it live. A router never routes against a half
// loaded table, and every later put, delete and purge takes effect as it
// arrives. See Follow.
type Follower struct {
	ready chan struct{}
	done  chan struct{}
	err   error // set before done is closed
}

// FollowFunc applies a batch of entries, in revision order, from the one
// goroutine of a Follower. initial is true for the first call, which has
// every current value of the keys (no deletes; possibly none at all); later
// batches are live updates, deletes and purges included.
type FollowFunc func(batch []jetstream.KeyValueEntry, initial bool)

// Follow watches the keys of kv (a key, a pattern such as "hook.*", or
// jetstream.AllKeys) until ctx ends or the watch ends; apply gets the
// initial values once, then every update. Ready is closed once apply has
// taken the initial values; Done when the Follower stopped, and Err says
// why.
func Follow(ctx context.Context, kv jetstream.KeyValue, keys string, apply FollowFunc) (*Follower, error) {
	w, err := kv.Watch(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("watch bucket %q: %w", kv.Bucket(), err)
	}
	f := &Follower{ready: make(chan struct{}), done: make(chan struct{})}
	go f.run(ctx, w, apply)
	return f, nil
}

// Ready is closed once the initial values are applied.
func (f *Follower) Ready() <-chan struct{} { return f.ready }

// Done is closed when the Follower has stopped; Err says why.
func (f *Follower) Done() <-chan struct{} { return f.done }

// Err returns why the Follower stopped: ctx's cause, or ErrWatchClosed
// when the watch ended first (the connection closed, the bucket was
// deleted). Nil while it runs.
func (f *Follower) Err() error {
	select {
	case <-f.done:
		return f.err
	default:
		return nil
	}
}

// WaitReady waits until f is ready, ctx ends, or f stops before it was.
func (f *Follower) WaitReady(ctx context.Context) error {
	select {
	case <-f.ready:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-f.done:
		select {
		case <-f.ready:
			return nil
		default:
			return fmt.Errorf("stopped before it was loaded: %w", f.err)
		}
	}
}

func (f *Follower) run(ctx context.Context, w jetstream.KeyWatcher, apply FollowFunc) {
	defer close(f.done)
	defer func() {
		// Drained here, not in the background: nats.go closes the channel
		// once its callback returns, so Done means nothing is left running.
		_ = w.Stop() // fails only if already stopped, e.g. the connection closed
		for range w.Updates() {
		}
	}()
	updates := w.Updates()
	closed := func() error {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return ErrWatchClosed
	}

	// The initial values: the latest entry of every key, then one nil
	// marker. A key written while the watch starts may come twice: the
	// later revision wins.
	latest := map[string]int{}
	var initial []jetstream.KeyValueEntry
	for loading := true; loading; {
		select {
		case <-ctx.Done():
			f.err = context.Cause(ctx)
			return
		case e, ok := <-updates:
			switch {
			case !ok:
				f.err = closed()
				return
			case e == nil:
				loading = false
			default:
				if i, seen := latest[e.Key()]; seen {
					if e.Revision() > initial[i].Revision() {
						initial[i] = e
					}
					continue
				}
				latest[e.Key()] = len(initial)
				initial = append(initial, e)
			}
		}
	}
	kept := initial[:0]
	for _, e := range initial {
		if op := e.Operation(); op != jetstream.KeyValueDelete && op != jetstream.KeyValuePurge {
			kept = append(kept, e)
		}
	}
	apply(kept, true)
	close(f.ready)

	batch := make([]jetstream.KeyValueEntry, 0, 16)
	for {
		select {
		case <-ctx.Done():
			f.err = context.Cause(ctx)
			return
		case e, ok := <-updates:
			if !ok {
				f.err = closed()
				return
			}
			batch = append(batch[:0], e)
		more:
			for len(batch) < maxFollowBatch {
				select {
				case e, ok := <-updates:
					if !ok {
						break more // applied below; the next receive stops
					}
					batch = append(batch, e)
				default:
					break more
				}
			}
			batch = dropMarkers(batch)
			if len(batch) > 0 {
				apply(batch, false)
			}
		}
	}
}

// dropMarkers removes nil entries: nats.go sends one end-of-initial-values
// marker, but a second must not be taken for an update.
func dropMarkers(batch []jetstream.KeyValueEntry) []jetstream.KeyValueEntry {
	kept := batch[:0]
	for _, e := range batch {
		if e != nil {
			kept = append(kept, e)
		}
	}
	return kept
}
