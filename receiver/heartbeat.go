package receiver

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// heartbeats keeps the messages a receiver holds alive: every interval it
// sends an in-progress ack for each, so the server does not redeliver a
// message that is running long, waiting behind another change to the same
// object, or waiting for its job to be enabled.
type heartbeats struct {
	mu   sync.Mutex
	msgs map[jetstream.Msg]struct{}
}

func (h *heartbeats) add(m jetstream.Msg) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.msgs == nil {
		h.msgs = make(map[jetstream.Msg]struct{})
	}
	h.msgs[m] = struct{}{}
}

func (h *heartbeats) remove(m jetstream.Msg) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.msgs, m)
}

// run sends the heartbeats until ctx ends.
func (h *heartbeats) run(ctx context.Context, every time.Duration, logger *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h.mu.Lock()
		msgs := make([]jetstream.Msg, 0, len(h.msgs))
		for m := range h.msgs {
			msgs = append(msgs, m)
		}
		h.mu.Unlock()
		for _, m := range msgs {
			// Fails only when the message was settled meanwhile or the
			// connection is down; the next tick tries again.
			if err := m.InProgress(); err != nil {
				logger.Debug("in-progress ack failed", "error", err)
			}
		}
	}
}
