package faults

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
	"github.com/jobhooks/jobhooks/receiver"
)

// attemptLog is what a test job saw of one attempt.
type attemptLog struct {
	change   string
	attempt  int
	began    time.Time
	lasted   time.Duration
	timedOut bool // its context ended with receiver.ErrTimeout
}

// TestHangingJob runs a job that hangs until its context ends, with a
// timeout twice the ack wait. The receiver's heartbeats (in-progress acks)
// keep each attempt's message past the ack wait without a redelivery: the
// server delivers exactly once per attempt, and no two attempts of one
// change overlap. The timeout ends each attempt; it is retried, and
//   - a change whose job hangs every time ends errored after its last
//     attempt and is dead-lettered (Jobhooks-Attempts, the timeout as
//     Jobhooks-Error);
//   - a change whose job hangs once completes at its second attempt.
func TestHangingJob(t *testing.T) {
	const (
		ackWait    = 2 * time.Second // heartbeats in time on a loaded machine under -race
		timeout    = 2 * ackWait
		maxDeliver = 3
		job        = "hang"
		hook       = "h-hang"
	)
	srv := jstest.StartProvisioned(t)
	var (
		mu       sync.Mutex
		attempts []attemptLog
		inFlight = map[string]int{}
		overlaps int
	)
	reg := receiver.NewRegistry()
	reg.HandleFunc(job, receiver.JobInfo{},
		func(ctx context.Context, j *receiver.Job, ch *receiver.Change, action events.Action, obj map[string]any) error {
			mu.Lock()
			if inFlight[ch.ID] > 0 {
				overlaps++ // delivered again while an attempt runs
			}
			inFlight[ch.ID]++
			mu.Unlock()
			a := attemptLog{change: ch.ID, attempt: j.Attempt(), began: time.Now()}
			defer func() {
				a.lasted = time.Since(a.began)
				mu.Lock()
				inFlight[ch.ID]--
				attempts = append(attempts, a)
				mu.Unlock()
			}()
			if ch.ID == "hang-once" && j.Attempt() > 1 {
				return nil
			}
			<-ctx.Done() // hang
			a.timedOut = errors.Is(context.Cause(ctx), receiver.ErrTimeout)
			return ctx.Err()
		})
	opts := receiver.Options{
		Concurrency: 4,
		Consumer: jhjs.ReceiverConsumerOptions{MaxDeliver: maxDeliver, BackOff: []time.Duration{100 * time.Millisecond},
			AckWait: ackWait},
		Timeout:      timeout,
		DrainTimeout: time.Minute,
		EnableNew:    true,
		Logger:       slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	ctx, cancel := context.WithCancel(t.Context())
	runner := receiver.NewRunner(srv.JS, reg, opts)
	done := make(chan error, 1)
	go func() { done <- runner.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	select {
	case <-runner.Ready():
	case err := <-done:
		t.Fatalf("runner stopped: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("runner not ready")
	}

	for _, id := range []string{"hang-always", "hang-once"} {
		ch := testChange(0)
		ch.ObjectID = id // two objects: their jobs run side by side
		ev, err := events.NewEvent(ch, events.EventOptions{ID: id, Source: testSource})
		require.NoError(t, err)
		msg, err := events.NewJobMsg(&events.ChangeEvent{Event: *ev, Change: *ch}, hook, job, nil)
		require.NoError(t, err)
		_, err = srv.JS.PublishMsg(t.Context(), msg)
		require.NoError(t, err)
	}

	results := receiver.NewResults(srv.KV(t, jhjs.BucketJobResults))
	result := func(id string) *receiver.Result {
		var r *receiver.Result
		eventually(t, time.Minute, 20*time.Millisecond, "final result of "+id, func() (bool, string) {
			var err error
			r, err = results.Get(t.Context(), receiver.ResultKey(hook, events.ChangeKey(testSource, id)))
			if err != nil {
				return false, err.Error()
			}
			return r.Status.Final(), string(r.Status)
		})
		return r
	}
	always, once := result("hang-always"), result("hang-once")
	var dls []*receiver.DeadLetter
	eventually(t, time.Minute, 20*time.Millisecond, "one dead letter", func() (bool, string) {
		var err error
		dls, err = receiver.NewDeadLetters(srv.JS).List(t.Context(), job)
		if err != nil {
			return false, err.Error()
		}
		return len(dls) == 1, fmt.Sprintf("%d dead letters", len(dls))
	})
	cons, err := srv.JS.Consumer(t.Context(), jhjs.StreamJobs, jhjs.ReceiverConsumer(job))
	require.NoError(t, err)
	var delivered uint64
	eventually(t, time.Minute, 20*time.Millisecond, "consumer settled", func() (bool, string) {
		i, err := cons.Info(t.Context())
		if err != nil {
			return false, err.Error()
		}
		delivered = i.Delivered.Consumer
		return i.NumPending == 0 && i.NumAckPending == 0, fmt.Sprintf("pending %d, ack pending %d", i.NumPending, i.NumAckPending)
	})

	mu.Lock()
	defer mu.Unlock()
	per := map[string][]int{}
	for _, a := range attempts {
		per[a.change] = append(per[a.change], a.attempt)
		if a.change == "hang-once" && a.attempt > 1 {
			continue
		}
		assert.True(t, a.timedOut, "%s attempt %d ended by the job timeout", a.change, a.attempt)
		// The job's deadline is set just before it starts, so it may measure
		// a hair under the timeout; what matters is that it outlived the ack
		// wait without a redelivery (overlaps, below).
		assert.Greater(t, a.lasted, ackWait, "%s attempt %d ran past the ack wait", a.change, a.attempt)
	}
	t.Logf("counted: attempts run %v; server deliveries %d; overlapping runs %d; hang-always %s after %d attempts (%q), hang-once %s after %d; dead letters %d (attempts %d: %q)",
		per, delivered, overlaps, always.Status, always.Attempts, always.Error, once.Status, once.Attempts, len(dls), dls[0].Attempts, dls[0].Error)
	assert.Zero(t, overlaps, "no redelivery while an attempt ran: heartbeats kept its message")
	assert.Equal(t, []int{1, 2, 3}, per["hang-always"], "hang-always: every attempt, once each")
	assert.Equal(t, []int{1, 2}, per["hang-once"], "hang-once: retried once")
	assert.Equal(t, uint64(maxDeliver+2), delivered, "the server delivered once per attempt")
	assert.Equal(t, receiver.StatusErrored, always.Status)
	assert.Equal(t, maxDeliver, always.Attempts)
	assert.Contains(t, always.Error, "job timed out after "+timeout.String())
	assert.Equal(t, receiver.StatusCompleted, once.Status)
	assert.Equal(t, 2, once.Attempts)
	assert.Equal(t, "hang-always", dls[0].ChangeID)
	assert.Equal(t, maxDeliver, dls[0].Attempts)
	assert.Contains(t, dls[0].Error, "job timed out after "+timeout.String())
}
