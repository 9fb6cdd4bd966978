package receiver

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// heartbeats keeps the messages a receiver holds alive: every interval it
// sends an in-progress ack for each, so the server does not redeliver a
// message that is running long, waiting behind another change to the same
// object, or waiting for its job to be enabled.
//
// It also notices a message that went without heartbeats for longer than the
// ack wait (the process was stopped, or the connection was down): the server
// may have given it to another receiver meanwhile, which may have run it, so
// it is no longer surely new (see lapsed). While the connection is down,
// nats.go buffers a heartbeat and reports it sent, so none counts then; and
// a reconnect lapses every held message, as the server may have restarted
// or missed heartbeats meanwhile.
//
// It follows the connection's reconnects for the fetching goroutine too
// (see reconnects), which must not take the connection's lock per message.
type heartbeats struct {
	ackWait time.Duration // the consumer's; set before use
	conn    *nats.Conn    // set before use; nil: no connection to follow (tests)
	mu      sync.Mutex
	held    map[jetstream.Msg]*beat
	// seen is the connection's reconnect count as last seen.
	seen atomic.Uint64
}

// newHeartbeats returns heartbeats for a consumer with ackWait on nc.
func newHeartbeats(ackWait time.Duration, nc *nats.Conn) *heartbeats {
	h := &heartbeats{ackWait: ackWait, conn: nc}
	if nc != nil {
		h.seen.Store(nc.Stats().Reconnects)
	}
	return h
}

// reconnects returns the connection's reconnect count, as run last saw
// it: at once on a reconnect (a status event), else at the latest tick.
func (h *heartbeats) reconnects() uint64 { return h.seen.Load() }

// beat is what heartbeats knows of a held message.
type beat struct {
	alive  time.Time // last known alive on the server: asked for, or a heartbeat sent in time
	lapsed bool      // it went longer than the ack wait without one
}

// add holds m, fetched by a request sent at asked: the server may have
// sent m as early as that, so a reply that took longer than the ack wait to
// be read (the process was stopped meanwhile) is lapsed.
func (h *heartbeats) add(m jetstream.Msg, asked time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.held == nil {
		h.held = make(map[jetstream.Msg]*beat)
	}
	h.held[m] = &beat{alive: asked}
}

func (h *heartbeats) remove(m jetstream.Msg) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.held, m)
}

// lapsed reports whether m went without a heartbeat for longer than the ack
// wait at some time since it was fetched. It is for good: a heartbeat sent
// late cannot tell whether the server redelivered the message meanwhile.
func (h *heartbeats) lapsed(m jetstream.Msg) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	b, ok := h.held[m]
	return ok && h.check(b, time.Now())
}

func (h *heartbeats) check(b *beat, now time.Time) bool {
	if h.ackWait > 0 && now.Sub(b.alive) > h.ackWait {
		b.lapsed = true
	}
	return b.lapsed
}

// run sends a heartbeat for every held message each third of the ack wait
// until ctx ends. A lapsed message gets them too: if it was not redelivered,
// they keep it while its attempt reads its record and runs.
func (h *heartbeats) run(ctx context.Context, logger *slog.Logger) {
	t := time.NewTicker(max(h.ackWait/3, time.Millisecond))
	defer t.Stop()
	var reconnected chan nats.Status // nil without a connection: never ready
	if h.conn != nil {
		reconnected = h.conn.StatusChanged(nats.CONNECTED)
		defer h.conn.RemoveStatusListener(reconnected)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-reconnected:
			h.follow()
			continue
		case <-t.C:
		}
		// An event may be dropped (nats.go does not wait for a listener):
		// each tick looks too.
		h.follow()
		if h.conn != nil && !h.conn.IsConnected() {
			continue // a heartbeat now would be buffered, not sent
		}
		now := time.Now()
		h.mu.Lock()
		msgs := make([]jetstream.Msg, 0, len(h.held))
		for m, b := range h.held {
			h.check(b, now) // before this heartbeat hides the lapse
			msgs = append(msgs, m)
		}
		h.mu.Unlock()
		for _, m := range msgs {
			// Fails only when the message was settled meanwhile or the
			// connection is down; the next tick tries again.
			if err := m.InProgress(); err != nil {
				logger.Debug("in-progress ack failed", "error", err)
				continue
			}
			h.mu.Lock()
			if b, ok := h.held[m]; ok {
				b.alive = now
			}
			h.mu.Unlock()
		}
	}
}

// follow reads the connection's reconnect count; if it changed, every held
// message is lapsed: heartbeats sent around the outage may be lost, and a
// restarted server may have lost its record of deliveries.
func (h *heartbeats) follow() {
	if h.conn == nil {
		return
	}
	n := h.conn.Stats().Reconnects
	if h.seen.Swap(n) == n {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, b := range h.held {
		b.lapsed = true
	}
}
