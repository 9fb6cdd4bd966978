package router

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jobhooks/jobhooks/events"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
)

// pendingChange is a change in the acknowledger's hands: its job messages,
// or its dead letter, and their publish confirmations.
type pendingChange struct {
	msg     jetstream.Msg
	jobs    []*nats.Msg              // its job messages, or its dead letter alone
	futures []jetstream.PubAckFuture // per message; nil while not sent, or to be sent again
	period  uint64                   // the keep-alive period it was queued in
	dead    bool                     // jobs[0] is its dead letter
	counted int                      // its messages in acker.sentJobs, once sent
	sentAt  time.Time                // when its job messages were sent
	seq     uint64                   // its CHANGES sequence, when dead (0: unknown)

	// For the metrics: when it was delivered (zero without metrics), why
	// it is dead or has no job messages.
	received time.Time
	class    deadLetterClass
	skip     skipReason
}

// logAttrs are the log attributes of p and, when it is one of p's job
// messages, of msg: change_id, subject (the change's), hook and job.
func (p *pendingChange) logAttrs(msg *nats.Msg) []any {
	attrs := make([]any, 0, 12)
	attrs = append(attrs, "change_id", rawChangeID(p.msg.Headers()), "subject", p.msg.Subject())
	if msg != nil && !p.dead {
		attrs = append(attrs, "hook", msg.Header.Get(events.HeaderHook), "job", msg.Header.Get(events.HeaderJob))
	}
	return attrs
}

// acker owns everything between routing and acknowledging: it publishes
// the job messages of the changes it is given, in the order it was given
// them, and acknowledges each change once all its job messages are stored.
// Being the one goroutine that sees every change and every confirmation,
// in order, it alone decides when publishing may run ahead.
//
// Normally up to MaxPending changes have their job messages in flight at
// once. When one is not stored (refused, unconfirmed, or its publish failed
// at once), the acker is degraded: it sends nothing new, publishes that
// message again (with back-off) and then every one sent after it that was
// not stored, one at a time and in order, and only once every change it had
// sent is done does it send again. So no job message is stored ahead of an
// earlier one that failed, except one already in flight when it failed.
// One sent AckTimeout ago or more and still unconfirmed when its turn comes
// is published again at once, without waiting AckTimeout for it too.
type acker struct {
	r *Router

	q          []pendingChange // a ring: q[head] is the oldest change
	head, n    int
	sent       int  // q[head:head+sent] have been sent
	sentJobs   int  // their job messages
	degraded   bool // send nothing new until sent is 0
	job        int  // the head's job message being confirmed
	attempt    int  // failed attempts at storing it
	awaiting   bool // timer runs for its confirmation
	backingOff bool // timer runs for its back-off
	timer      *time.Timer
	period     uint64 // keep-alive periods gone by
}

// ackInOrder runs the acknowledger until in is closed and every change it
// delivered is done, or ctx ends (changes not done are left to be
// delivered again). Every keepAliveEvery (a third of the consumer's ack
// wait), it sends an in-progress ack for each change it has held since the
// previous one, so that changes waiting for JOBS are not delivered again
// meanwhile.
func (r *Router) ackInOrder(ctx context.Context, in <-chan pendingChange, capacity int, keepAliveEvery time.Duration) {
	a := &acker{r: r, q: make([]pendingChange, capacity), timer: time.NewTimer(time.Hour)}
	a.timer.Stop()
	defer a.timer.Stop()
	keepAlive := time.NewTicker(keepAliveEvery)
	defer keepAlive.Stop()
	for {
		var f jetstream.PubAckFuture
		for {
			a.send()
			// Settling makes room to send more, or leaves degraded mode.
			if f = a.settle(ctx); !a.canSend() {
				break
			}
		}
		if in == nil && a.n == 0 {
			return
		}
		recv := in
		if a.n == len(a.q) {
			recv = nil // full: the fetch loop waits
		}
		var stored <-chan *jetstream.PubAck
		var refused <-chan error
		if f != nil {
			stored, refused = f.Ok(), f.Err()
		}
		select {
		case p, ok := <-recv:
			if !ok {
				in = nil
				continue
			}
			a.push(p)
		case <-stored:
			a.stored()
		case err := <-refused:
			a.failed(ctx, err)
		case <-a.timer.C:
			if a.backingOff {
				a.backingOff = false
			} else {
				a.awaiting = false
				a.failed(ctx, fmt.Errorf("no confirmation within %s", r.opts.AckTimeout))
			}
		case <-keepAlive.C:
			a.keepAlive()
		case <-ctx.Done():
			return
		}
	}
}

// keepAlive sends an in-progress ack for every change held since before
// the period that just ended: a change gets its first one between one and
// two periods (a third and two thirds of the ack wait) after it was queued.
func (a *acker) keepAlive() {
	a.period++
	for i := range a.n {
		p := &a.q[(a.head+i)%len(a.q)]
		if p.period+1 < a.period { // held for a whole period at least
			if err := p.msg.InProgress(); err != nil {
				a.r.log.Warn("in-progress ack of a held change failed", append(p.logAttrs(nil), "error", err)...)
				return // the connection is down: the next period tries again
			}
		}
	}
}

// push queues p, reusing the slot's futures slice.
func (a *acker) push(p pendingChange) {
	slot := &a.q[(a.head+a.n)%len(a.q)]
	futures := slices.Grow(slot.futures[:0], len(p.jobs))[:len(p.jobs)]
	*slot = p
	slot.futures = futures
	slot.period = a.period
	a.n++
}

// pop removes the head, done, and leaves degraded mode once every change
// sent is done.
func (a *acker) pop() {
	slot := &a.q[a.head]
	a.sentJobs -= slot.counted // what it counted when sent, though a dead letter may have replaced its jobs since
	clear(slot.futures)
	*slot = pendingChange{futures: slot.futures[:0]}
	a.head = (a.head + 1) % len(a.q)
	a.n--
	a.sent--
	a.job, a.attempt = 0, 0
	a.stopTimer()
	if a.degraded && a.sent == 0 {
		a.degraded = false
		a.r.log.Info("job messages stored again; publishing the next ones")
	}
}

func (a *acker) stopTimer() {
	a.timer.Stop()
	a.awaiting, a.backingOff = false, false
}

// canSend reports whether the next change may be sent: not degraded,
// fewer than MaxPending changes in flight, and room for its job messages
// within MaxPendingMessages (or nothing in flight: a change with more
// goes alone).
func (a *acker) canSend() bool {
	if a.degraded || a.sent == a.n || a.sent >= a.r.opts.MaxPending {
		return false
	}
	next := len(a.q[(a.head+a.sent)%len(a.q)].jobs)
	return a.sent == 0 || a.sentJobs+next <= a.r.opts.MaxPendingMessages
}

// send publishes the job messages of the next changes, in order, while
// canSend.
func (a *acker) send() {
	for a.canSend() {
		p := &a.q[(a.head+a.sent)%len(a.q)]
		a.sent++
		p.counted = len(p.jobs)
		a.sentJobs += p.counted
		p.sentAt = time.Now()
		for i, job := range p.jobs {
			f, err := a.r.js.PublishMsgAsync(job)
			if err != nil {
				// The rest go one at a time when p is the head; a failure
				// that retrying can mend stops sending until then.
				if !permanent(err) && !p.dead {
					a.degraded = true
					a.r.log.Warn("publish job message failed; publishing it again, and the next ones in order",
						append(p.logAttrs(job), "msg_id", job.Header.Get(nats.MsgIdHdr), "error", err)...)
				}
				break
			}
			p.futures[i] = f
		}
	}
}

// settle finishes the head changes whose job messages are all stored,
// (re)sends the head's current job message when it has none in flight, and
// returns the confirmation to wait for (nil: none, e.g. backing off).
func (a *acker) settle(ctx context.Context) jetstream.PubAckFuture {
	for a.n > 0 && a.sent > 0 {
		p := &a.q[a.head]
		if a.job == len(p.jobs) {
			if a.r.m != nil {
				a.r.m.settled(p)
			}
			if p.dead {
				a.r.deadLettered.Add(1)
				a.term(p)
			} else {
				a.r.routed.Add(uint64(len(p.jobs)))
				if err := p.msg.Ack(); err != nil {
					a.r.log.Warn("acknowledge change failed; it will be redelivered and de-duplicated", append(p.logAttrs(nil), "error", err)...)
				}
			}
			a.pop()
			continue
		}
		if a.backingOff {
			return nil
		}
		f := p.futures[a.job]
		if f != nil && !a.awaiting && a.attempt == 0 && time.Since(p.sentAt) >= a.r.opts.AckTimeout {
			// Sent with its change and still unconfirmed long after: its
			// confirmation was lost (a stream leader or server gone while it
			// was in flight). Waiting a whole AckTimeout for it, and then for
			// each one sent with it, would hold routing up for as many
			// AckTimeouts as were in flight: publish it again now (de-duplicated
			// if it was stored after all).
			f = nil
		}
		if f == nil {
			var err error
			if f, err = a.r.js.PublishMsgAsync(p.jobs[a.job]); err != nil {
				a.failed(ctx, err)
				continue
			}
			p.futures[a.job] = f
		}
		if !a.awaiting {
			a.awaiting = true
			a.timer.Reset(a.r.opts.AckTimeout)
		}
		return f
	}
	return nil
}

// stored: the head's current job message is stored.
func (a *acker) stored() {
	a.stopTimer()
	a.job++
	a.attempt = 0
}

// failed: the head's current message was not stored.
//
// A job message the server refuses for good (too large, ...) makes its
// change a dead letter; any other failure degrades the acker and the
// message is sent again after a back-off.
//
// A dead letter that fails is sent again after a back-off too, but without
// degrading the acker (dead letters have no order to keep), and at most
// DeadLetterAttempts times: then the change is released for redelivery, so
// that an outage of DEADLETTER holds routing up for a bounded time only. One
// the server refuses for good terminates its change, which stays in CHANGES.
func (a *acker) failed(ctx context.Context, err error) {
	a.stopTimer()
	p := &a.q[a.head]
	msg := p.jobs[a.job]
	p.futures[a.job] = nil
	switch {
	case p.dead && permanent(err) && msg.Header.Get(events.HeaderOmitted) == "":
		// Refused whole (a stream limit below the maximum payload, ...):
		// send what surely fits, at once.
		p.jobs[0] = events.ShrinkDeadLetter(msg, a.r.maxPayload())
		a.r.log.Warn("dead letter refused; storing it without the change's body", append(p.logAttrs(nil), "stream_seq", p.seq, "error", err)...)
		return
	case p.dead && permanent(err):
		a.r.log.Error("the dead letter was refused; terminating the change, which stays in CHANGES",
			"change_id", rawChangeID(p.msg.Headers()), "subject", p.msg.Subject(), "stream", jhjs.StreamChanges, "stream_seq", p.seq, "reason", msg.Header.Get(events.HeaderError), "error", err)
		a.r.m.deadLetterNotStored()
		a.term(p)
		a.pop()
		return
	case p.dead:
		if a.attempt++; a.attempt >= a.r.opts.DeadLetterAttempts {
			a.r.log.Warn("store dead letter failed; the change is released for redelivery",
				"change_id", rawChangeID(p.msg.Headers()), "subject", p.msg.Subject(), "stream_seq", p.seq, "attempts", a.attempt, "redelivery_in", a.r.opts.RetryMax, "error", err)
			if err := p.msg.NakWithDelay(a.r.opts.RetryMax); err != nil {
				a.r.log.Warn("release change failed; it is redelivered after the ack wait", "error", err)
			}
			a.pop()
			return
		}
	case permanent(err):
		dl := a.r.deadLetterOf(p.msg, classRefused, fmt.Errorf("store job message for hook %s: %w", msg.Header.Get(events.HeaderHook), err))
		p.jobs, p.dead, p.seq, p.class = dl.jobs, true, dl.seq, dl.class
		p.futures = p.futures[:1]
		p.futures[0] = nil
		a.job, a.attempt = 0, 0
		return
	default:
		a.degraded = true
		a.attempt++
	}
	delay := a.r.backoff.Delay(a.attempt - 1)
	what := "store job message failed; publishing it again, and the next ones in order"
	if p.dead {
		what = "store dead letter failed; publishing it again"
	}
	a.r.log.Warn(what, append(p.logAttrs(msg), "msg_id", msg.Header.Get(nats.MsgIdHdr), "attempt", a.attempt, "retry_in", delay, "error", err)...)
	a.backingOff = true
	a.timer.Reset(delay)
}

// term terminates a dead-lettered change.
func (a *acker) term(p *pendingChange) {
	// Term, not TermWithReason: servers before 2.11 ignore that one.
	if err := p.msg.Term(); err != nil {
		a.r.log.Warn("terminate dead-lettered change failed; a redelivery is de-duplicated", append(p.logAttrs(nil), "error", err)...)
	}
}
