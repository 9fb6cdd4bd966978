package hookconfig

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"

	jhjs "github.com/jobhooks/jobhooks/jetstream"
)

// WatchOptions configures Watch.
type WatchOptions struct {
	// Logger receives the watcher's logs, notably every invalid value;
	// nil means slog.Default().
	Logger *slog.Logger
}

// Watcher keeps an Index in step with the job_hooks bucket. It first loads
// the whole bucket and only then becomes ready, so a restarted router never
// routes against an empty table; after that every put, delete and purge
// takes effect as it arrives. A value that is not a valid hook (bad JSON, a
// bad field, a name other than its key) is logged and takes its key out of
// the index, and every other hook keeps working.
//
// One goroutine owns the mutable hook set and publishes each new Index
// through an atomic pointer; readers never lock.
type Watcher struct {
	log    *slog.Logger
	follow *jhjs.Follower

	index    atomic.Pointer[Index]
	revision atomic.Uint64
	hooks    map[string]*Hook // owned by the follower's goroutine

	mu      sync.Mutex
	invalid map[string]error // key → why its current value is ignored
	changed chan struct{}    // closed, and replaced, when a new Index is published
}

// Watch starts watching kv, the job_hooks bucket, until ctx ends or the
// watch fails (see Done and Err). Use Ready or WaitReady before routing.
func Watch(ctx context.Context, kv jetstream.KeyValue, opts WatchOptions) (*Watcher, error) {
	w := &Watcher{
		log:     opts.Logger,
		hooks:   make(map[string]*Hook),
		invalid: map[string]error{},
		changed: make(chan struct{}),
	}
	if w.log == nil {
		w.log = slog.Default()
	}
	w.log = w.log.With("bucket", kv.Bucket())
	w.index.Store(NewIndex(nil))
	f, err := jhjs.Follow(ctx, kv, jetstream.AllKeys, w.applyBatch)
	if err != nil {
		return nil, err
	}
	w.follow = f
	return w, nil
}

// Index returns the current index: empty until the watcher is ready, never
// nil. It is immutable; call Index again for later changes.
func (w *Watcher) Index() *Index { return w.index.Load() }

// Revision returns the bucket revision of the last update applied to
// Index, 0 until ready (and for an empty bucket).
func (w *Watcher) Revision() uint64 { return w.revision.Load() }

// Ready is closed once the whole bucket is loaded into Index.
func (w *Watcher) Ready() <-chan struct{} { return w.follow.Ready() }

// Done is closed when the watcher has stopped; Err says why.
func (w *Watcher) Done() <-chan struct{} { return w.follow.Done() }

// Err returns why the watcher stopped: the context's cause, or
// ErrWatchClosed if the updates ended first. Nil while it runs.
func (w *Watcher) Err() error { return w.follow.Err() }

// Changed returns a channel closed when the next Index is published (the
// first one when the watcher becomes ready). Take it before reading Index
// or Revision, so that no change is missed in between.
func (w *Watcher) Changed() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.changed
}

// Invalid returns the keys whose current values are ignored, with why.
func (w *Watcher) Invalid() map[string]error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.invalid)
}

// WaitReady waits until the watcher is ready, ctx ends, or the watcher
// stops before it got ready.
func (w *Watcher) WaitReady(ctx context.Context) error {
	if err := w.follow.WaitReady(ctx); err != nil {
		return fmt.Errorf("hook watcher: %w", err)
	}
	return nil
}

// WaitRevision waits until Index reflects bucket revision rev or later
// (for example the revision a Put returned), ctx ends or the watcher stops.
func (w *Watcher) WaitRevision(ctx context.Context, rev uint64) error {
	for {
		changed := w.Changed()
		if w.Revision() >= rev {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-w.follow.Done():
			if w.Revision() >= rev {
				return nil
			}
			return fmt.Errorf("hook watcher stopped at revision %d, before %d: %w", w.Revision(), rev, w.follow.Err())
		}
	}
}

// applyBatch applies a batch of entries, on the follower's goroutine, and
// then publishes one Index for all of them: the first Index once the whole
// bucket is loaded, never half-loaded.
func (w *Watcher) applyBatch(batch []jetstream.KeyValueEntry, initial bool) {
	level := slog.LevelInfo
	if initial {
		level = slog.LevelDebug // thousands, perhaps
	}
	rev := w.Revision()
	for _, e := range batch {
		rev = max(rev, w.apply(w.hooks, e, level))
	}
	w.publish(w.hooks, rev)
	if initial {
		w.log.Info("hooks loaded", "hooks", len(w.hooks), "invalid", len(w.Invalid()), "revision", rev)
	}
}

// apply applies one entry to hooks and returns its revision, logging the
// change at level (info once live: an operator wants to see hook edits
// take effect; debug during the initial load, which may be thousands). A nil entry
// (nats.go sends one marker only, but be safe) changes nothing.
func (w *Watcher) apply(hooks map[string]*Hook, e jetstream.KeyValueEntry, level slog.Level) uint64 {
	if e == nil {
		return 0
	}
	key := e.Key()
	switch e.Operation() {
	case jetstream.KeyValueDelete, jetstream.KeyValuePurge:
		delete(hooks, key)
		w.setInvalid(key, nil)
		w.log.Log(context.Background(), level, "hook removed", "key", key, "revision", e.Revision(), "operation", e.Operation().String())
	default:
		h, err := decodeEntry(key, e.Value())
		if err != nil {
			// The current value is what counts: an invalid one must not
			// leave an older version routing.
			delete(hooks, key)
			w.setInvalid(key, err)
			w.log.Error("invalid hook ignored", "key", key, "revision", e.Revision(), "error", err)
			break
		}
		hooks[key] = h
		w.setInvalid(key, nil)
		w.log.Log(context.Background(), level, "hook updated", "key", key, "revision", e.Revision(), "enabled", h.Enabled)
	}
	return e.Revision()
}

// setInvalid records (err != nil) or clears why key is ignored.
func (w *Watcher) setInvalid(key string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err == nil {
		delete(w.invalid, key)
		return
	}
	w.invalid[key] = err
}

// publish swaps in an Index of hooks and wakes everyone waiting for a
// change. The Index and revision are stored before the wake-up, so a woken
// waiter sees them.
func (w *Watcher) publish(hooks map[string]*Hook, rev uint64) {
	w.index.Store(NewIndex(slices.Collect(maps.Values(hooks))))
	w.revision.Store(rev)
	w.mu.Lock()
	defer w.mu.Unlock()
	close(w.changed)
	w.changed = make(chan struct{})
}
