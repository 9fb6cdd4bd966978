package hookconfig

import (
	"cmp"
	"context"
	"slices"

	"github.com/nats-io/nats.go/jetstream"
)

// latestEntries returns the latest value of every key of kv, sorted by key;
// deleted and purged keys are left out. It reads the bucket with one watch
// (one consumer) rather than a Get per key, and an empty bucket is simply
// an empty result (kv.Keys would report ErrNoKeysFound).
func latestEntries(ctx context.Context, kv jetstream.KeyValue) ([]jetstream.KeyValueEntry, error) {
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, err
	}
	defer stopWatch(w)

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

// stopWatch stops w and drains its updates in the background: nats.go's
// watch callback blocks while the channel is full and only closes it after
// the callback returns, so an undrained watch would leak its delivery
// goroutine.
func stopWatch(w jetstream.KeyWatcher) {
	_ = w.Stop() // fails only if already stopped, e.g. the connection closed
	go func() {
		for range w.Updates() {
		}
	}()
}
