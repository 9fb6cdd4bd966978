package jetstream

import (
	"cmp"
	"context"
	"errors"
	"slices"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrWatchClosed means a KV watch ended before its context did, for
// example because the connection closed.
var ErrWatchClosed = errors.New("KV watch closed")

// LatestEntries returns the latest value of every key of kv matching keys
// (a key or a wildcard pattern such as "hook.*"; jetstream.AllKeys for all),
// sorted by key; deleted and purged keys are left out. It reads the bucket
// with one watch (one consumer) rather than a Get per key, and an empty
// bucket is simply an empty result (kv.Keys reports ErrNoKeysFound).
func LatestEntries(ctx context.Context, kv jetstream.KeyValue, keys string) ([]jetstream.KeyValueEntry, error) {
	w, err := kv.Watch(ctx, keys, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, err
	}
	defer StopWatch(w)

	byKey := make(map[string]jetstream.KeyValueEntry)
	for {
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case e, ok := <-w.Updates():
			if !ok {
				return nil, ErrWatchClosed
			}
			if e == nil { // end of the initial values
				entries := make([]jetstream.KeyValueEntry, 0, len(byKey))
				for _, e := range byKey {
					entries = append(entries, e)
				}
				slices.SortFunc(entries, func(a, b jetstream.KeyValueEntry) int { return cmp.Compare(a.Key(), b.Key()) })
				return entries, nil
			}
			// A key written while the watch starts may come twice.
			if old, ok := byKey[e.Key()]; !ok || e.Revision() > old.Revision() {
				byKey[e.Key()] = e
			}
		}
	}
}

// StopWatch stops w and drains its updates in the background: nats.go's
// watch callback blocks while the channel is full and closes it only after
// the callback returns, so an undrained watch would leak its goroutine.
func StopWatch(w jetstream.KeyWatcher) {
	_ = w.Stop() // fails only if already stopped, e.g. the connection closed
	go func() {
		for range w.Updates() {
		}
	}()
}
