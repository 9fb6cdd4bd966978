package receiver

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
)

// lookupCounter counts the stream lookups made through a real JetStream
// context.
type lookupCounter struct {
	jetstream.JetStream
	lookups atomic.Int32
}

func (c *lookupCounter) Stream(ctx context.Context, name string) (jetstream.Stream, error) {
	c.lookups.Add(1)
	return c.JetStream.Stream(ctx, name)
}

// TestSinceAfterAReconnect: after a reconnect, only messages stored from
// then on are surely new; while JOBS cannot be looked up, none is, and the
// lookup is not tried again with every message (each may take seconds, in
// the fetching goroutine) but a second later at the soonest.
func TestSinceAfterAReconnect(t *testing.T) {
	t.Parallel()
	s := jstest.Start(t) // no JOBS yet: the lookup fails
	js := &lookupCounter{JetStream: s.JS}
	ctx := t.Context()
	before := since{seq: 5}

	assert.Equal(t, before, before.current(ctx, js, 0), "no reconnect: unchanged, no lookup")
	assert.Zero(t, js.lookups.Load())

	failed := before.current(ctx, js, 1)
	assert.Equal(t, int32(1), js.lookups.Load())
	assert.Equal(t, uint64(0), failed.reconnects, "to be taken again")
	assert.Equal(t, ^uint64(0), failed.seq, "nothing is surely new")
	for range 3 {
		assert.Equal(t, failed, failed.current(ctx, js, 1))
	}
	assert.Equal(t, int32(1), js.lookups.Load(), "not tried again within a second")

	_, err := jhjs.Provision(ctx, s.JS, jhjs.DefaultConfig(), nil)
	require.NoError(t, err)
	_, err = s.JS.Publish(ctx, "jobs.j", []byte("x"))
	require.NoError(t, err)
	failed.retry = time.Now() // a second later
	taken := failed.current(ctx, js, 1)
	assert.Equal(t, int32(2), js.lookups.Load())
	assert.Equal(t, since{seq: 1, reconnects: 1}, taken, "messages after the stream's last sequence are surely new")
}
