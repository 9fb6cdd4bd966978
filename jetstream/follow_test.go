package jetstream_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
)

// followLog records what a Follower applied.
type followLog struct {
	mu      sync.Mutex
	initial []string // keys of the initial batch
	calls   int
	live    []string // "put k=v" / "del k", in order
}

func (l *followLog) apply(batch []jetstream.KeyValueEntry, initial bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	for _, e := range batch {
		switch {
		case initial:
			l.initial = append(l.initial, e.Key()+"="+string(e.Value()))
		case e.Operation() == jetstream.KeyValuePut:
			l.live = append(l.live, "put "+e.Key()+"="+string(e.Value()))
		default:
			l.live = append(l.live, "del "+e.Key())
		}
	}
}

func (l *followLog) snapshot() (initial []string, calls int, live []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.initial...), l.calls, append([]string(nil), l.live...)
}

func TestFollowLoadsThenFollows(t *testing.T) {
	s := jstest.Start(t)
	ctx := t.Context()
	kv, err := s.JS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "follow", History: 5})
	require.NoError(t, err)
	for _, kvp := range [][2]string{{"a", "1"}, {"b", "1"}, {"b", "2"}, {"c", "1"}} {
		_, err := kv.PutString(ctx, kvp[0], kvp[1])
		require.NoError(t, err)
	}
	require.NoError(t, kv.Delete(ctx, "c"))

	l := &followLog{}
	f, err := jhjs.Follow(ctx, kv, jetstream.AllKeys, l.apply)
	require.NoError(t, err)
	require.NoError(t, f.WaitReady(ctx))
	initial, calls, live := l.snapshot()
	assert.ElementsMatch(t, []string{"a=1", "b=2"}, initial, "the latest value of each key; deleted keys left out")
	assert.Equal(t, 1, calls, "the initial values come in one call, before Ready")
	assert.Empty(t, live)

	_, err = kv.PutString(ctx, "a", "2")
	require.NoError(t, err)
	require.NoError(t, kv.Delete(ctx, "b"))
	_, err = kv.PutString(ctx, "d", "1")
	require.NoError(t, err)
	require.Eventually(t, func() bool { _, _, live := l.snapshot(); return len(live) == 3 }, 10*time.Second, time.Millisecond)
	_, _, live = l.snapshot()
	assert.Equal(t, []string{"put a=2", "del b", "put d=1"}, live, "live updates in order, deletes included")
	assert.NoError(t, f.Err(), "running")
}

func TestFollowEmptyBucketIsReady(t *testing.T) {
	s := jstest.Start(t)
	kv, err := s.JS.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: "empty"})
	require.NoError(t, err)
	l := &followLog{}
	f, err := jhjs.Follow(t.Context(), kv, jetstream.AllKeys, l.apply)
	require.NoError(t, err)
	require.NoError(t, f.WaitReady(t.Context()))
	_, calls, _ := l.snapshot()
	assert.Equal(t, 1, calls, "apply is called for an empty bucket too")
}

func TestFollowStops(t *testing.T) {
	s := jstest.Start(t)
	kv, err := s.JS.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: "stops"})
	require.NoError(t, err)

	t.Run("with its context", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(t.Context())
		f, err := jhjs.Follow(ctx, kv, jetstream.AllKeys, func([]jetstream.KeyValueEntry, bool) {})
		require.NoError(t, err)
		require.NoError(t, f.WaitReady(ctx))
		stop := errors.New("stop")
		cancel(stop)
		<-f.Done()
		assert.ErrorIs(t, f.Err(), stop)
	})
	t.Run("when the connection closes", func(t *testing.T) {
		nc := s.NewConn(t)
		js := s.JetStream(t, nc)
		kv2, err := js.KeyValue(t.Context(), "stops")
		require.NoError(t, err)
		f, err := jhjs.Follow(t.Context(), kv2, jetstream.AllKeys, func([]jetstream.KeyValueEntry, bool) {})
		require.NoError(t, err)
		require.NoError(t, f.WaitReady(t.Context()))
		nc.Close()
		select {
		case <-f.Done():
		case <-time.After(30 * time.Second):
			t.Fatal("the follower did not stop when its connection closed")
		}
		assert.ErrorIs(t, f.Err(), jhjs.ErrWatchClosed)
	})
}

// TestFollowEndsWhenItsBucketIsReplaced: a bucket deleted, or deleted and
// created again (a restore from a backup), ends its Follower with
// ErrBucketReplaced: its watch says nothing and would go on from the old
// bucket's revision, missing what the new one holds. A bucket that stays is
// followed on.
func TestFollowEndsWhenItsBucketIsReplaced(t *testing.T) {
	s := jstest.Start(t)
	ctx := t.Context()
	const check = 20 * time.Millisecond
	cfg := jetstream.KeyValueConfig{Bucket: "replaced"}
	for _, tc := range []struct {
		name     string
		recreate bool
	}{{"deleted", false}, {"deleted and created again", true}} {
		t.Run(tc.name, func(t *testing.T) {
			kv, err := s.JS.CreateKeyValue(ctx, cfg)
			require.NoError(t, err)
			_, err = kv.PutString(ctx, "a", "1")
			require.NoError(t, err)
			l := &followLog{}
			f, err := jhjs.Follow(ctx, kv, jetstream.AllKeys, l.apply, jhjs.WithBucketCheck(check))
			require.NoError(t, err)
			require.NoError(t, f.WaitReady(ctx))

			// Followed on while it stays: a live put arrives, and the
			// Follower has not stopped.
			_, err = kv.PutString(ctx, "b", "1")
			require.NoError(t, err)
			require.Eventually(t, func() bool { _, _, live := l.snapshot(); return len(live) == 1 }, 10*time.Second, check)
			select {
			case <-f.Done():
				t.Fatalf("stopped while its bucket stayed: %v", f.Err())
			default:
			}

			require.NoError(t, s.JS.DeleteKeyValue(ctx, cfg.Bucket))
			if tc.recreate {
				kv2, err := s.JS.CreateKeyValue(ctx, cfg)
				require.NoError(t, err)
				_, err = kv2.PutString(ctx, "c", "1")
				require.NoError(t, err)
			}
			select {
			case <-f.Done():
			case <-time.After(30 * time.Second):
				t.Fatal("the follower did not notice its bucket replaced")
			}
			assert.ErrorIs(t, f.Err(), jhjs.ErrBucketReplaced)
			assert.ErrorIs(t, f.Err(), jhjs.ErrWatchClosed, "its owner stops as when the watch ends")
			if tc.recreate {
				_ = s.JS.DeleteKeyValue(ctx, cfg.Bucket)
			}
		})
	}
}
