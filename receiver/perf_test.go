package receiver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/receiver"
)

// resultWrites is how many writes the job_results bucket has taken: its
// stream's last sequence (the bucket keeps one revision per key, but the
// sequence counts every write).
func (e *env) resultWrites() uint64 {
	e.t.Helper()
	stream, err := e.JS.Stream(e.t.Context(), "KV_"+jhjs.BucketJobResults)
	require.NoError(e.t, err)
	info, err := stream.Info(e.t.Context())
	require.NoError(e.t, err)
	return info.State.LastSeq
}

// TestQuickRunWritesItsRecordOnce: a run quicker than RunningAfter costs
// one result write, its final record, and no read.
func TestQuickRunWritesItsRecordOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reg := receiver.NewRegistry()
	reg.HandleFunc("quick", receiver.JobInfo{},
		func(ctx context.Context, job *receiver.Job, ch *receiver.Change, action events.Action, obj map[string]any) error {
			job.Info("done")
			return nil
		})
	var reads atomic.Int32
	opts := testOptions(t)
	opts.RunningAfter = time.Hour
	e.startOn(&faultyJS{JetStream: e.JS, getFail: func(string) error { reads.Add(1); return nil }}, reg, opts)
	const n = 5
	for i := range n {
		id := fmt.Sprint(i)
		e.publishJob("h", "quick", "c-"+id, change(events.ActionCreate, id, nil, device(id, "A")), nil)
	}
	for i := range n {
		res := e.waitResult("h", fmt.Sprintf("c-%d", i))
		assert.Equal(t, receiver.StatusCompleted, res.Status)
		assert.Equal(t, []string{"info: Running job quick (attempt 1 of 3)", "info: done", "success: Job completed"}, messages(res))
	}
	e.waitSettled("quick")
	assert.Equal(t, uint64(n), e.resultWrites(), "one write per run")
	assert.Zero(t, reads.Load(), "a fresh message's record is not read")
}

// TestLongRunIsRecordedAsRunning: a run that outlives RunningAfter is
// recorded as running while it runs, then gets its final record.
func TestLongRunIsRecordedAsRunning(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	release := make(chan struct{})
	reg := receiver.NewRegistry()
	reg.HandleFunc("long", receiver.JobInfo{},
		func(ctx context.Context, job *receiver.Job, ch *receiver.Change, action events.Action, obj map[string]any) error {
			<-release
			return nil
		})
	opts := testOptions(t)
	opts.RunningAfter = 20 * time.Millisecond
	e.start(reg, opts)
	e.publishJob("h", "long", "c-1", change(events.ActionCreate, "1", nil, device("1", "A")), nil)

	running := e.waitResult("h", "c-1", receiver.StatusRunning)
	assert.Nil(t, running.Completed)
	assert.Equal(t, []string{"info: Running job long (attempt 1 of 3)"}, messages(running))
	close(release)
	res := e.waitResult("h", "c-1")
	assert.Equal(t, receiver.StatusCompleted, res.Status)
	assert.Equal(t, []string{"info: Running job long (attempt 1 of 3)", "success: Job completed"}, messages(res),
		"the start entry is stored once")
	e.waitSettled("long")
	assert.Equal(t, uint64(2), e.resultWrites(), "running, then final")
}

// TestResultsFailuresRecordsOnlyWhatDidNotCompleteFirstTime: with results
// "failures", a run that completes at its first attempt leaves no record
// (and costs no write); one that needed a retry, or failed, has its whole
// record.
func TestResultsFailuresRecordsOnlyWhatDidNotCompleteFirstTime(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reg := receiver.NewRegistry()
	reg.HandleFunc("mixed", receiver.JobInfo{},
		func(ctx context.Context, job *receiver.Job, ch *receiver.Change, action events.Action, obj map[string]any) error {
			switch {
			case ch.ID == "c-flaky" && job.Attempt() == 1:
				return errBoom
			case ch.ID == "c-failing":
				job.Failure("bad serial")
			}
			return nil
		})
	opts := testOptions(t)
	opts.Results = receiver.ResultsFailures
	e.start(reg, opts)
	for i, id := range []string{"c-ok", "c-flaky", "c-failing"} {
		obj := fmt.Sprint(i)
		e.publishJob("h", "mixed", id, change(events.ActionCreate, obj, nil, device(obj, "A")), nil)
	}
	flaky := e.waitResult("h", "c-flaky")
	assert.Equal(t, receiver.StatusCompleted, flaky.Status)
	assert.Equal(t, 2, flaky.Attempts)
	assert.Equal(t, []string{
		"info: Running job mixed (attempt 1 of 3)",
		"error: Attempt 1 of 3 failed: boom; retrying in 10ms",
		"info: Running job mixed (attempt 2 of 3)",
		"success: Job completed",
	}, messages(flaky))
	assert.Equal(t, receiver.StatusFailed, e.waitResult("h", "c-failing").Status)
	e.waitSettled("mixed")

	_, err := e.results.Get(t.Context(), receiver.ResultKey("h", events.ChangeKey("test://nautobot", "c-ok")))
	assert.ErrorIs(t, err, receiver.ErrResultNotFound, "completed first time: no record")
	assert.Equal(t, uint64(3), e.resultWrites(), "flaky: retrying, completed; failing: failed; ok: none")
}

// TestMessagesAreFetchedInBatchesOfFreeSlots: with work waiting, the
// receiver asks for as many messages as it can hold (Prefetch, by default
// DefaultPrefetchPerSlot per running slot), in one request, not one
// request per message; and never for more.
func TestMessagesAreFetchedInBatchesOfFreeSlots(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const concurrency, held = 2, receiver.DefaultPrefetchPerSlot * 2
	const n = 3 * held
	for i := range n {
		id := fmt.Sprint(i)
		e.publishJob("h", "batched", "c-"+id, change(events.ActionCreate, id, nil, device(id, "A")), nil)
	}
	// Every pull request of the consumer, as the server gets it.
	requests := make(chan *nats.Msg, 4*n)
	nc := e.NewConn(t)
	sub, err := nc.ChanSubscribe("$JS.API.CONSUMER.MSG.NEXT."+jhjs.StreamJobs+"."+jhjs.ReceiverConsumer("batched"), requests)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	require.NoError(t, nc.Flush())

	// The first jobs wait until every running slot has one: meanwhile the
	// receiver takes what it can hold.
	started, release := make(chan struct{}, n), make(chan struct{})
	reg := receiver.NewRegistry()
	reg.HandleFunc("batched", receiver.JobInfo{},
		func(context.Context, *receiver.Job, *receiver.Change, events.Action, map[string]any) error {
			started <- struct{}{}
			<-release
			return nil
		})
	opts := testOptions(t)
	opts.Concurrency = concurrency
	e.start(reg, opts)
	for range concurrency {
		<-started
	}
	close(release)
	for i := range n {
		e.waitResult("h", fmt.Sprintf("c-%d", i))
	}
	e.waitSettled("batched")

	largest, pulls := 0, len(requests)
	for range pulls {
		var req struct {
			Batch int `json:"batch"`
		}
		require.NoError(t, json.Unmarshal((<-requests).Data, &req))
		assert.LessOrEqual(t, req.Batch, held, "never more than it can hold")
		largest = max(largest, req.Batch)
	}
	assert.GreaterOrEqual(t, largest, held-1, "after the first message, what it can hold in one request")
	assert.Less(t, pulls, n, "%d pull requests for %d messages", pulls, n)
}

// TestReplayedRunUpdatesItsRecordWithResultsFailures: a replayed dead
// letter is read as a message with a record (its earlier run's), so with
// results "failures" the replay that completes at its first attempt still
// writes its record: it does not keep saying failed.
func TestReplayedRunUpdatesItsRecordWithResultsFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var healthy atomic.Bool
	reg := receiver.NewRegistry()
	reg.HandleFunc("flaky", receiver.JobInfo{},
		func(context.Context, *receiver.Job, *receiver.Change, events.Action, map[string]any) error {
			if !healthy.Load() {
				return errBoom
			}
			return nil
		})
	opts := testOptions(t)
	opts.Results = receiver.ResultsFailures
	opts.Consumer.MaxDeliver = 1
	e.start(reg, opts)
	e.publishJob("h", "flaky", "c-1", change(events.ActionUpdate, "1", device("1", "A"), device("1", "B")), nil)
	assert.Equal(t, receiver.StatusFailed, e.waitResult("h", "c-1").Status)
	var dls []*receiver.DeadLetter
	require.Eventually(t, func() bool { dls = e.deadLetters("flaky"); return len(dls) == 1 }, waitFor, 5*time.Millisecond)

	healthy.Store(true)
	_, err := receiver.NewDeadLetters(e.JS).Replay(t.Context(), dls[0].Sequence)
	require.NoError(t, err)
	res := e.waitResult("h", "c-1", receiver.StatusCompleted)
	assert.Equal(t, 1, res.Attempts)
	assert.Contains(t, messages(res), "error: Attempt 1 of 1 failed: boom; giving up: dead-lettered to deadletter.jobs.flaky",
		"the earlier run's logs are kept")
}
