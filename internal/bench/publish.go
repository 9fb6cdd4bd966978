package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// publishAll publishes msgs asynchronously, at most window unconfirmed at a
// time, and returns once every publish is confirmed (or one failed). With a
// schedule, message i is sent at its intended time sched.at(i) or, when
// the publisher is late, at once: the schedule never slows down (open
// loop), and a late send shows as latency from the intended time.
func publishAll(ctx context.Context, js jetstream.JetStream, msgs []*nats.Msg, window int, sched *schedule) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The channel's capacity is the window: a send blocks while window
	// publishes wait for their confirmations.
	futures := make(chan jetstream.PubAckFuture, window)
	confirmed := make(chan error, 1)
	go func() { confirmed <- confirm(ctx, cancel, futures) }()

	var sendErr error
	var timer *time.Timer
send:
	for i, m := range msgs {
		if err := ctx.Err(); err != nil {
			sendErr = err // a confirmation failed (reported by confirm), or ctx ended
			break
		}
		if sched != nil {
			if d := time.Until(sched.at(i)); d > 0 {
				if timer == nil {
					timer = time.NewTimer(d)
					defer timer.Stop()
				} else {
					timer.Reset(d)
				}
				select {
				case <-timer.C:
				case <-ctx.Done():
					sendErr = ctx.Err()
					break send
				}
			}
		}
		f, err := js.PublishMsgAsync(m)
		if err != nil {
			sendErr = fmt.Errorf("publish %s: %w", m.Subject, err)
			break
		}
		select {
		case futures <- f:
		case <-ctx.Done():
			sendErr = ctx.Err()
			break send
		}
	}
	close(futures)
	confirmErr := <-confirmed
	if confirmErr != nil {
		return confirmErr // the cause; sendErr is then only its cancellation
	}
	return sendErr
}

// confirm waits for each publish's confirmation, in order, until futures
// closes. On the first failure it cancels the sender and returns the
// failure once the sender has stopped.
func confirm(ctx context.Context, cancel context.CancelFunc, futures <-chan jetstream.PubAckFuture) error {
	var first error
	for f := range futures {
		if first != nil {
			continue // drain until the sender stops
		}
		select {
		case <-f.Ok():
		case err := <-f.Err():
			first = fmt.Errorf("publish %s: %w", f.Msg().Subject, err)
			cancel()
		case <-ctx.Done(): // the caller's ctx ended
			first = ctx.Err()
		}
	}
	return first
}

// schedule is the open-loop timetable of a latency run: message i is
// intended at start + i/rate.
type schedule struct {
	start    time.Time
	interval time.Duration
}

func newSchedule(start time.Time, rate float64) *schedule {
	return &schedule{start: start, interval: time.Duration(float64(time.Second) / rate)}
}

// at returns message i's intended send time.
func (s *schedule) at(i int) time.Time { return s.start.Add(time.Duration(i) * s.interval) }
