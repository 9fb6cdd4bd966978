package receiver_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
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
