package jetstream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// maxFollowBatch bounds a batch of live updates, so that a steady stream of
// writes cannot hold back the ones already read.
const maxFollowBatch = 1024

// DefaultBucketCheck is how often a Follower asks whether its bucket is
// still the one it loaded (see WithBucketCheck).
const DefaultBucketCheck = 5 * time.Second

// ErrBucketReplaced means a followed bucket was deleted, or deleted and
// created again (a restore from a backup): its watch would never say so,
// and would go on from the old bucket's revision, missing the new one's
// entries. It wraps ErrWatchClosed, so a Follower's owner stops as when the
// watch ends, and its restart loads the bucket afresh.
var ErrBucketReplaced = fmt.Errorf("%w: bucket deleted or created again", ErrWatchClosed)

// FollowOpt sets an option of Follow.
type FollowOpt func(*followOpts)

type followOpts struct{ check time.Duration }

// WithBucketCheck sets how often the Follower asks the server whether the
// bucket is still the one it loaded (DefaultBucketCheck); 0 never.
func WithBucketCheck(every time.Duration) FollowOpt {
	return func(o *followOpts) { o.check = every }
}

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
//
// A bucket deleted or created again under it ends it with ErrBucketReplaced,
// noticed within the WithBucketCheck interval.
func Follow(ctx context.Context, kv jetstream.KeyValue, keys string, apply FollowFunc, opts ...FollowOpt) (*Follower, error) {
	o := followOpts{check: DefaultBucketCheck}
	for _, opt := range opts {
		opt(&o)
	}
	var created time.Time
	if o.check > 0 {
		st, err := kv.Status(ctx)
		if err != nil {
			return nil, fmt.Errorf("bucket %q status: %w", kv.Bucket(), err)
		}
		created = bucketCreated(st)
	}
	w, err := kv.Watch(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("watch bucket %q: %w", kv.Bucket(), err)
	}
	f := &Follower{ready: make(chan struct{}), done: make(chan struct{})}
	var replaced <-chan error
	if !created.IsZero() {
		replaced = watchReplaced(ctx, f.done, kv, created, o.check)
	}
	go f.run(ctx, w, apply, replaced)
	return f, nil
}

// bucketCreated is when the bucket's stream was created; zero if the status
// does not say.
func bucketCreated(st jetstream.KeyValueStatus) time.Time {
	if s, ok := st.(*jetstream.KeyValueBucketStatus); ok && s.StreamInfo() != nil {
		return s.StreamInfo().Created
	}
	return time.Time{}
}

// watchReplaced asks every interval whether kv is still the bucket created
// at created, until ctx ends or done is closed; it sends ErrBucketReplaced
// once it is not. A bucket that is not found must be missing twice in a row:
// a cluster electing a leader may answer "not found" for a moment. Other
// errors (a timeout, the connection down) are asked again next time.
func watchReplaced(ctx context.Context, done <-chan struct{}, kv jetstream.KeyValue, created time.Time, every time.Duration) <-chan error {
	replaced := make(chan error, 1)
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		missing := 0
		for {
			select {
			case <-ctx.Done():
				return
			case <-done:
				return
			case <-t.C:
			}
			st, err := kv.Status(ctx)
			switch {
			case errors.Is(err, jetstream.ErrBucketNotFound) || errors.Is(err, jetstream.ErrStreamNotFound):
				if missing++; missing < 2 {
					continue
				}
			case err != nil:
				missing = 0
				continue
			default:
				missing = 0
				if c := bucketCreated(st); c.IsZero() || c.Equal(created) {
					continue
				}
			}
			replaced <- fmt.Errorf("bucket %q: %w", kv.Bucket(), ErrBucketReplaced)
			return
		}
	}()
	return replaced
}

// Ready is closed once the initial values are applied.
func (f *Follower) Ready() <-chan struct{} { return f.ready }

// Done is closed when the Follower has stopped; Err says why.
func (f *Follower) Done() <-chan struct{} { return f.done }

// Err returns why the Follower stopped: ctx's cause, or ErrWatchClosed
// when the watch ended first (the connection closed), or ErrBucketReplaced
// (which wraps ErrWatchClosed) when the bucket was deleted or created again.
// Nil while it runs.
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

func (f *Follower) run(ctx context.Context, w jetstream.KeyWatcher, apply FollowFunc, replaced <-chan error) {
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
		case f.err = <-replaced:
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
		case f.err = <-replaced:
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
