package receiver_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
	"github.com/jobhooks/jobhooks/receiver"
)

func TestPermanentErrorIsFailedAndDeadLetteredAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var runs atomic.Int32
	reg := receiver.NewRegistry()
	reg.HandleFunc("rejected", receiver.JobInfo{},
		func(ctx context.Context, job *receiver.Job, ch *receiver.Change, action events.Action, obj map[string]any) error {
			runs.Add(1)
			job.Log(receiver.LevelWarning, "endpoint said 400", map[string]any{"status_code": 400})
			return receiver.Permanent(errors.New("HTTP 400"))
		})
	e.start(reg, testOptions(t))
	e.publishJob("h", "rejected", "c-1", change(events.ActionCreate, "1", nil, device("1", "A")), nil)

	res := e.waitResult("h", "c-1", receiver.StatusFailed)
	assert.Equal(t, 1, res.Attempts)
	assert.Equal(t, "permanent failure: HTTP 400", res.Error)
	require.Len(t, res.Logs, 3)
	assert.Equal(t, map[string]any{"status_code": float64(400)}, res.Logs[1].Data, "structured log data is kept in the result")
	assert.Contains(t, res.Logs[2].Message, "giving up: dead-lettered to deadletter.jobs.rejected")
	info := e.waitSettled("rejected")
	assert.Equal(t, uint64(1), info.Delivered.Consumer, "a permanent error is not retried")
	assert.Equal(t, int32(1), runs.Load())
	require.Len(t, e.deadLetters("rejected"), 1)
}

func TestCheckParamsFailsTheRunWithoutRunningIt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var runs atomic.Int32
	reg := receiver.NewRegistry()
	reg.HandleFunc("checked", receiver.JobInfo{
		CheckParams: func(params json.RawMessage) error {
			var p struct{ Pattern string }
			if err := json.Unmarshal(params, &p); err != nil {
				return err
			}
			if p.Pattern == "(" {
				return fmt.Errorf("pattern %q does not compile", p.Pattern)
			}
			return nil
		},
	}, func(ctx context.Context, job *receiver.Job, ch *receiver.Change, action events.Action, obj map[string]any) error {
		runs.Add(1)
		return nil
	})
	e.start(reg, testOptions(t))
	e.putHook("bad", "checked", map[string]any{"pattern": "("})
	e.putHook("good", "checked", map[string]any{"pattern": "^A"})
	e.publishJob("bad", "checked", "c-1", change(events.ActionCreate, "1", nil, device("1", "A")), nil)
	e.publishJob("good", "checked", "c-2", change(events.ActionCreate, "2", nil, device("2", "A")), nil)

	res := e.waitResult("bad", "c-1", receiver.StatusFailed)
	assert.Equal(t, 1, res.Attempts)
	assert.Equal(t, `permanent failure: invalid params: pattern "(" does not compile`, res.Error)
	e.waitResult("good", "c-2", receiver.StatusCompleted)
	e.waitSettled("checked")
	assert.Equal(t, int32(1), runs.Load(), "the job with bad params never ran")
}

func TestRetryAfterReplacesTheBackOffUpToTheLongestDelay(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reg := receiver.NewRegistry()
	reg.HandleFunc("busy", receiver.JobInfo{},
		func(ctx context.Context, job *receiver.Job, ch *receiver.Change, action events.Action, obj map[string]any) error {
			if job.Attempt() == 1 {
				return receiver.RetryAfter(errors.New("HTTP 429"), time.Hour)
			}
			return nil
		})
	opts := testOptions(t)
	opts.Consumer.BackOff = []time.Duration{10 * time.Millisecond, 300 * time.Millisecond}
	e.start(reg, opts)
	e.publishJob("h", "busy", "c-1", change(events.ActionCreate, "1", nil, device("1", "A")), nil)

	res := e.waitResult("h", "c-1", receiver.StatusCompleted)
	assert.Equal(t, 2, res.Attempts)
	assert.Contains(t, messages(res), "error: Attempt 1 of 3 failed: HTTP 429; retrying in 300ms",
		"an hour's Retry-After is capped at the longest back-off delay")
}

// TestJobMessageCannotBorrowAnotherJobsHook: a job message on jobs.thief
// naming a hook that runs another job must not run with that hook's params
// (they may hold secrets). It is refused at once: not run, dead-lettered
// with the reason, never retried, and no result is written under the other
// job's key.
func TestJobMessageCannotBorrowAnotherJobsHook(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putHook("wh-secret", "webhook", map[string]any{"token": "s3cret"})
	e.putHook("mine", "thief", map[string]any{"threshold": 1})
	var runs atomic.Int32
	params := make(chan json.RawMessage, 10)
	reg := receiver.NewRegistry()
	reg.HandleFunc("thief", receiver.JobInfo{},
		func(ctx context.Context, job *receiver.Job, ch *receiver.Change, action events.Action, obj map[string]any) error {
			runs.Add(1)
			params <- ch.Params
			return nil
		})
	var logs jstest.LogBuffer
	opts := testOptions(t)
	opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	e.start(reg, opts)
	e.publishJob("wh-secret", "thief", "c-1", change(events.ActionCreate, "1", nil, device("1", "A")), nil)

	var dls []*receiver.DeadLetter
	require.Eventually(t, func() bool { dls = e.deadLetters("thief"); return len(dls) == 1 }, waitFor, 5*time.Millisecond)
	assert.Equal(t, `refused: hook "wh-secret" belongs to job "webhook", not "thief"`, dls[0].Error)
	assert.Equal(t, "wh-secret", dls[0].Hook)
	assert.Equal(t, 1, dls[0].Attempts)
	info := e.waitSettled("thief")
	assert.Equal(t, uint64(1), info.Delivered.Consumer, "refused for good: not retried")
	assert.Zero(t, runs.Load(), "the job never ran")
	assert.Contains(t, logs.String(), `hook \"wh-secret\" belongs to job \"webhook\"`)
	_, err := e.results.Get(t.Context(), receiver.ResultKey("wh-secret", events.ChangeKey("test://nautobot", "c-1")))
	assert.ErrorIs(t, err, receiver.ErrResultNotFound, "nothing is written under the other job's result key")

	// The job's own hook runs, with its params.
	e.publishJob("mine", "thief", "c-2", change(events.ActionCreate, "2", nil, device("2", "A")), nil)
	assert.Equal(t, receiver.StatusCompleted, e.waitResult("mine", "c-2").Status)
	assert.JSONEq(t, `{"threshold":1}`, string(<-params))
	assert.Equal(t, int32(1), runs.Load())
}

// A dead letter that could not be stored is tried again when the message
// comes back: the record is final by then, but the message is not lost.
func TestAFailedDeadLetterIsStoredOnRedelivery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	var runs atomic.Int32
	reg := receiver.NewRegistry()
	reg.HandleFunc("rejected", receiver.JobInfo{},
		func(context.Context, *receiver.Job, *receiver.Change, events.Action, map[string]any) error {
			runs.Add(1)
			return receiver.Permanent(errors.New("HTTP 400"))
		})
	opts := testOptions(t)
	opts.Consumer.AckWait = time.Second
	e.start(reg, opts)
	require.NoError(t, e.JS.DeleteStream(ctx, jhjs.StreamDeadLetter))
	e.publishJob("h", "rejected", "c-1", change(events.ActionCreate, "1", nil, device("1", "A")), nil)
	// The record is stored before the dead letter is tried, and corrected
	// when it could not be stored.
	require.Eventually(t, func() bool {
		res, err := e.results.Get(ctx, receiver.ResultKey("h", events.ChangeKey("test://nautobot", "c-1")))
		return err == nil && res.Status == receiver.StatusFailed && strings.Contains(strings.Join(messages(res), "\n"), "the dead letter could not be stored")
	}, time.Minute, 10*time.Millisecond, "the record says the dead letter could not be stored")

	_, err := jhjs.Provision(ctx, e.JS, jhjs.DefaultConfig(), nil)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		s, err := e.JS.Stream(ctx, jhjs.StreamDeadLetter)
		if err != nil {
			return false
		}
		info, err := s.Info(ctx)
		return err == nil && info.State.Msgs == 1
	}, time.Minute, 10*time.Millisecond, "the redelivery stores the dead letter")
	require.Len(t, e.deadLetters("rejected"), 1)
	e.waitSettled("rejected")
	assert.Equal(t, int32(1), runs.Load(), "it is not run again")
}
