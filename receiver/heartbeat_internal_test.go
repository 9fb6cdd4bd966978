package receiver

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
)

// TestHeartbeatsNoticeALapse: a held message that went longer than the ack
// wait without a heartbeat (its process was stopped: SIGSTOP, a VM pause)
// is lapsed for good, even once heartbeats resume, so its attempt reads its
// record instead of taking it for new; one kept alive is not.
// (internal/faults TestPausedReceiver shows it with real processes.)
func TestHeartbeatsNoticeALapse(t *testing.T) {
	t.Parallel()
	s := jstest.StartProvisioned(t)
	js := s.JetStream(t, s.NewConn(t))
	ctx := t.Context()
	const ackWait = 300 * time.Millisecond
	cons, err := js.CreateConsumer(ctx, jhjs.StreamJobs, jetstream.ConsumerConfig{
		Durable: "beats", AckPolicy: jetstream.AckExplicitPolicy, AckWait: ackWait, FilterSubject: "jobs.beats",
	})
	require.NoError(t, err)
	for range 2 {
		_, err := js.Publish(ctx, "jobs.beats", []byte("x"))
		require.NoError(t, err)
	}
	batch, err := cons.Fetch(2, jetstream.FetchMaxWait(5*time.Second))
	require.NoError(t, err)
	var msgs []jetstream.Msg
	for m := range batch.Messages() {
		msgs = append(msgs, m)
	}
	require.NoError(t, batch.Error())
	require.Len(t, msgs, 2)
	kept, paused := msgs[0], msgs[1]

	h := heartbeats{ackWait: ackWait}
	h.add(kept)
	h.add(paused)
	// The pause: no heartbeat for paused since twice the ack wait.
	h.mu.Lock()
	h.held[paused].alive = time.Now().Add(-2 * ackWait)
	h.mu.Unlock()

	beatCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.run(beatCtx, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	defer func() { stop(); <-done }()

	assert.True(t, h.lapsed(paused), "lapsed as soon as its last heartbeat is older than the ack wait")
	// Several ack waits of heartbeats: kept stays alive (the server does not
	// redeliver it), paused stays lapsed.
	deadline := time.Now().Add(3 * ackWait)
	for time.Now().Before(deadline) {
		require.False(t, h.lapsed(kept), "a message with heartbeats in time is not lapsed")
		require.True(t, h.lapsed(paused), "a lapse is for good: a late heartbeat cannot tell whether it was redelivered")
		time.Sleep(ackWait / 10)
	}
	info, err := cons.Info(ctx)
	require.NoError(t, err)
	assert.Zero(t, info.NumRedelivered, "heartbeats kept the held messages")
	h.remove(paused)
	assert.False(t, h.lapsed(paused), "a message no longer held is not lapsed")
}
