package receiver

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
)

// beatsAckWait is the ack wait of the heartbeat tests: long enough that a
// loaded machine running -race sends each heartbeat in time.
const beatsAckWait = 2 * time.Second

// heldMessages creates a consumer with beatsAckWait on s and fetches n
// messages from it over nc.
func heldMessages(t *testing.T, s *jstest.Server, nc *nats.Conn, n int) (jetstream.Consumer, []jetstream.Msg) {
	t.Helper()
	js := s.JetStream(t, nc)
	ctx := t.Context()
	cons, err := js.CreateConsumer(ctx, jhjs.StreamJobs, jetstream.ConsumerConfig{
		Durable: "beats", AckPolicy: jetstream.AckExplicitPolicy, AckWait: beatsAckWait, FilterSubject: "jobs.beats",
	})
	require.NoError(t, err)
	for range n {
		_, err := js.Publish(ctx, "jobs.beats", []byte("x"))
		require.NoError(t, err)
	}
	batch, err := cons.Fetch(n, jetstream.FetchMaxWait(5*time.Second))
	require.NoError(t, err)
	var msgs []jetstream.Msg
	for m := range batch.Messages() {
		msgs = append(msgs, m)
	}
	require.NoError(t, batch.Error())
	require.Len(t, msgs, n)
	return cons, msgs
}

// runBeats runs h until the test ends.
func runBeats(t *testing.T, h *heartbeats) {
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.run(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	t.Cleanup(func() { stop(); <-done })
}

// TestHeartbeatsNoticeALapse: a held message that went longer than the ack
// wait without a heartbeat (its process was stopped: SIGSTOP, a VM pause)
// is lapsed for good, even once heartbeats resume, so its attempt reads its
// record instead of taking it for new; one kept alive is not.
// (internal/faults TestPausedReceiver shows it with real processes.)
func TestHeartbeatsNoticeALapse(t *testing.T) {
	t.Parallel()
	s := jstest.StartProvisioned(t)
	nc := s.NewConn(t)
	cons, msgs := heldMessages(t, s, nc, 2)
	kept, paused := msgs[0], msgs[1]
	inProgress := make(chan *nats.Msg, 100)
	sub, err := s.Conn.ChanSubscribe("$JS.ACK."+jhjs.StreamJobs+".beats.>", inProgress)
	require.NoError(t, err)
	defer func() { _ = sub.Unsubscribe() }()

	h := newHeartbeats(beatsAckWait, nc)
	h.add(kept, time.Now())
	// The pause: the reply with paused was read twice the ack wait after
	// it was asked for.
	h.add(paused, time.Now().Add(-2*beatsAckWait))
	runBeats(t, h)
	assert.True(t, h.lapsed(paused), "lapsed as soon as its last heartbeat is older than the ack wait")

	// Heartbeats for longer than the ack wait (one each third of it, for
	// both messages): kept stays alive (the server does not redeliver it),
	// paused stays lapsed.
	for range 2 * 5 {
		select {
		case m := <-inProgress:
			require.Equal(t, "+WPI", string(m.Data))
		case <-time.After(time.Minute):
			t.Fatal("no heartbeat")
		}
	}
	assert.False(t, h.lapsed(kept), "a message with heartbeats in time is not lapsed")
	assert.True(t, h.lapsed(paused), "a lapse is for good: a late heartbeat cannot tell whether it was redelivered")
	info, err := cons.Info(t.Context())
	require.NoError(t, err)
	assert.Zero(t, info.NumRedelivered, "heartbeats kept the held messages")
	h.remove(paused)
	assert.False(t, h.lapsed(paused), "a message no longer held is not lapsed")
}

// TestHeartbeatsLapseOnReconnect: a reconnect lapses every held message
// (heartbeats may have been lost meanwhile, and a restarted server may have
// lost its record of deliveries), and the fetching goroutine learns of it
// (reconnects).
func TestHeartbeatsLapseOnReconnect(t *testing.T) {
	t.Parallel()
	s := jstest.StartProvisioned(t)
	nc := s.NewConn(t)
	_, msgs := heldMessages(t, s, nc, 1)
	h := newHeartbeats(beatsAckWait, nc)
	h.add(msgs[0], time.Now())
	runBeats(t, h)
	require.False(t, h.lapsed(msgs[0]))

	require.NoError(t, nc.ForceReconnect())
	require.Eventually(t, func() bool { return h.reconnects() == 1 }, time.Minute, 10*time.Millisecond, "the reconnect is seen")
	assert.True(t, h.lapsed(msgs[0]), "a message held across a reconnect is lapsed")
}

// TestHeartbeatsDoNotCountWhileDisconnected: while the connection is down,
// nats.go buffers a heartbeat and reports it sent; none counts, so a
// message held through an outage longer than the ack wait is lapsed.
func TestHeartbeatsDoNotCountWhileDisconnected(t *testing.T) {
	t.Parallel()
	s := jstest.StartProvisioned(t)
	nc := s.NewConn(t, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	_, msgs := heldMessages(t, s, nc, 1)
	h := newHeartbeats(beatsAckWait, nc)
	h.add(msgs[0], time.Now())
	runBeats(t, h)

	s.Server().Shutdown()
	require.Eventually(t, func() bool { return !nc.IsConnected() }, time.Minute, 10*time.Millisecond)
	require.NoError(t, msgs[0].InProgress(), "nats.go buffers it while it reconnects")
	require.Eventually(t, func() bool { return h.lapsed(msgs[0]) }, time.Minute, 50*time.Millisecond,
		"an outage longer than the ack wait lapses the message")
}
