package router

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jobhooks/jobhooks/events"
)

// CallbackRequest is what a context callback is called with: NetBox's
// (object_type, event_type, data, request).
type CallbackRequest struct {
	ObjectType string         // content type, e.g. "dcim.device"
	Event      events.Action  // create, update or delete
	Data       map[string]any // the object: postchange, or prechange on delete
	Request    RequestInfo
}

// RequestInfo describes the request that made the change.
type RequestInfo struct {
	User      string
	RequestID string
	ChangeID  string
}

// Callback returns context to add to the job messages of a change. It must
// not modify req.Data, and it must return when ctx ends: ctx ends after
// Options.CallbackTimeout. It does not end when the router is stopped, so
// the change in hand is routed with its context.
type Callback func(ctx context.Context, req CallbackRequest) (map[string]any, error)

// Callbacks is the registry of context callbacks, in the shape of NetBox's
// register_webhook_callback: callbacks run in registration order, and their
// results are shallow-merged into "context", later keys winning. A callback
// that fails, panics or times out is logged and skipped (NetBox's rule),
// except while the router stops: the failure may be the stop's doing, so
// the change is not routed without that context but left to be delivered
// again.
type Callbacks struct {
	mu      sync.Mutex
	started bool
	entries []callbackEntry
}

type callbackEntry struct {
	name string
	fn   Callback
}

// Register adds a callback, named for the logs. Register before the router
// starts: a later registration panics, as http.ServeMux does for misuse.
func (c *Callbacks) Register(name string, fn Callback) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started {
		panic(fmt.Sprintf("router: callback %q registered after the router started", name))
	}
	if fn == nil {
		panic(fmt.Sprintf("router: callback %q is nil", name))
	}
	c.entries = append(c.entries, callbackEntry{name, fn})
}

// freeze returns the callbacks and refuses later registrations.
func (c *Callbacks) freeze() []callbackEntry {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.started = true
	return c.entries
}

// runCallbacks merges what every callback returns for change m (nil when
// none contributed) and says whether one failed. Each callback gets a
// context of its own that ends after CallbackTimeout: ctx's values, not its
// end. Callbacks that take long in all send m an in-progress ack every
// third of the ack wait, so that m is not delivered again meanwhile.
func (r *Router) runCallbacks(ctx context.Context, m jetstream.Msg, req CallbackRequest) (merged map[string]any, failed bool) {
	base := context.WithoutCancel(ctx)
	last := time.Now()
	for _, e := range r.callbacks {
		cctx, cancel := context.WithTimeout(base, r.opts.CallbackTimeout)
		add, err := callSafely(cctx, e.fn, req)
		cancel()
		if now := time.Now(); r.keepAliveEvery > 0 && now.Sub(last) >= r.keepAliveEvery {
			last = now
			if err := m.InProgress(); err != nil {
				r.log.Warn("in-progress ack of a change failed", "change_id", req.Request.ChangeID, "subject", m.Subject(), "error", err)
			}
		}
		if err != nil {
			failed = true
			r.log.Warn("context callback failed; skipped", "callback", e.name, "change_id", req.Request.ChangeID, "subject", m.Subject(), "error", err)
			continue
		}
		if len(add) == 0 {
			continue
		}
		if merged == nil {
			merged = make(map[string]any, len(add))
		}
		maps.Copy(merged, add)
	}
	return merged, failed
}

func callSafely(ctx context.Context, fn Callback, req CallbackRequest) (out map[string]any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return fn(ctx, req)
}
