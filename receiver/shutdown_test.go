package receiver_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
	"github.com/jobhooks/jobhooks/receiver"
)

// These tests are not parallel: they check that no goroutine is left.

func TestShutdownFinishesRunningJobsAndReleasesTheRest(t *testing.T) {
	e := newEnv(t)
	started, finish := make(chan string, 10), make(chan struct{})
	attempts := make(chan string, 10)
	handler := func(ctx context.Context, job *receiver.Job, ch *receiver.Change, action events.Action, obj map[string]any) error {
		attempts <- fmt.Sprintf("%s#%d", ch.ID, job.Attempt())
		if ch.ID == "c-1" && job.Attempt() == 1 {
			started <- ch.ID
			<-finish // ignores ctx: shutdown must wait for it
		}
		return nil
	}
	reg := receiver.NewRegistry()
	reg.HandleFunc("work", receiver.JobInfo{}, handler)
	var logs jstest.LogBuffer
	opts := testOptions(t)
	opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("receiver log:\n%s", logs.String())
		}
	})
	r := e.start(reg, opts)
	acks := e.watchAcks("work")

	// c-2 and c-3 change the same object as c-1: they queue behind it.
	e.publishJob("h", "work", "c-1", change(events.ActionUpdate, "1", device("1", "A"), device("1", "B")), nil)
	assert.Equal(t, "c-1", <-started)
	e.publishJob("h", "work", "c-2", change(events.ActionUpdate, "1", device("1", "B"), device("1", "C")), nil)
	e.publishJob("h", "work", "c-3", change(events.ActionUpdate, "1", device("1", "C"), device("1", "D")), nil)
	require.Eventually(t, func() bool { return e.consumerInfo("work").NumAckPending == 3 }, waitFor, 5e6)

	r.cancel()
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "stopping") }, waitFor, time.Millisecond)
	close(finish) // c-1 ends after the runner stopped taking work
	require.NoError(t, r.stop(t))
	assertNoLeaks(t)

	res := e.waitResult("h", "c-1")
	assert.Equal(t, receiver.StatusCompleted, res.Status)
	// The queued messages were released at once, in order.
	for _, seq := range []string{"2", "3"} {
		// $JS.ACK.<stream>.<consumer>.<deliveries>.<stream seq>.…
		assert.Contains(t, nextAck(t, acks, "-NAK").Subject, ".receiver-work.1."+seq+".")
	}
	assert.Equal(t, "c-1#1", <-attempts)
	assert.Empty(t, attempts, "queued messages did not run")

	// Another receiver takes them. (The server's redelivery queue does not
	// keep their order: see the package doc.)
	reg2 := receiver.NewRegistry()
	reg2.HandleFunc("work", receiver.JobInfo{}, handler)
	e.start(reg2, testOptions(t))
	assert.ElementsMatch(t, []string{"c-2#2", "c-3#2"}, []string{<-attempts, <-attempts})
	assert.Equal(t, receiver.StatusCompleted, e.waitResult("h", "c-2").Status)
	assert.Equal(t, receiver.StatusCompleted, e.waitResult("h", "c-3").Status)
}

func TestDrainTimeoutCancelsAndReleases(t *testing.T) {
	e := newEnv(t)
	started := make(chan struct{}, 1)
	reg := receiver.NewRegistry()
	reg.HandleFunc("stuck", receiver.JobInfo{},
		func(ctx context.Context, job *receiver.Job, ch *receiver.Change, action events.Action, obj map[string]any) error {
			if job.Attempt() > 1 {
				return nil
			}
			started <- struct{}{}
			<-ctx.Done()
			if context.Cause(ctx) != receiver.ErrShutdown {
				return fmt.Errorf("unexpected cause %v", context.Cause(ctx))
			}
			return ctx.Err()
		})
	opts := testOptions(t)
	opts.DrainTimeout = 1 // expires at once
	r := e.start(reg, opts)
	acks := e.watchAcks("stuck")
	e.publishJob("h", "stuck", "c-1", change(events.ActionCreate, "1", nil, device("1", "A")), nil)
	<-started
	require.NoError(t, r.stop(t))
	assertNoLeaks(t)

	res := e.waitResult("h", "c-1", receiver.StatusRetrying)
	assert.Contains(t, messages(res), "error: Attempt 1 of 3 interrupted: the receiver shut down; released to another receiver")
	nextAck(t, acks, "-NAK") // released at once

	e.start(reg, testOptions(t))
	res = e.waitResult("h", "c-1", receiver.StatusCompleted)
	assert.Equal(t, 2, res.Attempts)
}

// TestRunFailingAfterItStartedLeavesNothingRunning: Run fails after it has
// started watching job_hooks (here: the job's consumer exists with a
// setting it cannot change). Its context never ends, yet nothing Run
// started may be left running once it has returned.
func TestRunFailingAfterItStartedLeavesNothingRunning(t *testing.T) {
	e := newEnv(t)
	_, err := e.JS.CreateConsumer(t.Context(), jhjs.StreamJobs, jetstream.ConsumerConfig{
		Durable: jhjs.ReceiverConsumer("stuck"), FilterSubject: "jobs.stuck",
		DeliverPolicy: jetstream.DeliverNewPolicy, AckPolicy: jetstream.AckExplicitPolicy,
	})
	require.NoError(t, err)
	reg := receiver.NewRegistry()
	reg.HandleFunc("stuck", receiver.JobInfo{},
		func(context.Context, *receiver.Job, *receiver.Change, events.Action, map[string]any) error {
			return nil
		})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // only once the check is done
	err = receiver.NewRunner(e.JS, reg, testOptions(t)).Run(ctx)
	require.ErrorIs(t, err, jhjs.ErrConsumerConflict)
	// Run has returned, and its context has not ended: what it started
	// has ended all the same. (A goroutine that closed its done channel
	// may still be returning: assertNoLeaks waits for that.)
	assertNoLeaks(t)
}
