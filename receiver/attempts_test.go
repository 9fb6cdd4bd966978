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

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
	"github.com/jobhooks/jobhooks/receiver"
)

// TestFailedReadOfTheRecordKeepsEarlierAttemptsLogs: when the record of the
// earlier attempts cannot be read, the attempt does not run and does not
// overwrite the record with one that lacks their logs: the message comes
// back after the back-off.
func TestFailedReadOfTheRecordKeepsEarlierAttemptsLogs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	key := receiver.ResultKey("h", events.ChangeKey("test://nautobot", "c-1"))
	var failReads atomic.Int32
	attempts := make(chan int, 10)
	reg := receiver.NewRegistry()
	reg.HandleFunc("flaky", receiver.JobInfo{},
		func(ctx context.Context, job *receiver.Job, ch *receiver.Change, action events.Action, obj map[string]any) error {
			attempts <- job.Attempt()
			job.Info(fmt.Sprintf("attempt %d ran", job.Attempt()))
			if job.Attempt() == 1 {
				failReads.Store(4) // the next delivery cannot read the record: every one of its 4 tries fails
				return errBoom
			}
			return nil
		})
	acks := e.watchAcks("flaky")
	opts := testOptions(t)
	opts.Consumer.MaxDeliver = 5
	faulty := &faultyJS{JetStream: e.JS, getFail: func(k string) error {
		if k == key && failReads.Add(-1) >= 0 {
			return nats.ErrTimeout
		}
		return nil
	}}
	e.startOn(faulty, reg, opts)
	e.publishJob("h", "flaky", "c-1", change(events.ActionCreate, "1", nil, device("1", "A")), nil)

	assert.Equal(t, 1, recv(t, attempts))
	assert.Equal(t, "-NAK", string(nextSettle(t, acks).Data[:4]), "attempt 1 failed")
	// Delivery 2 cannot read the record: released, not run.
	assert.Equal(t, "-NAK", string(nextSettle(t, acks).Data[:4]), "delivery 2 is released")
	assert.Equal(t, 3, recv(t, attempts), "delivery 3 runs, as attempt 3")

	res := e.waitResult("h", "c-1")
	assert.Equal(t, receiver.StatusCompleted, res.Status)
	assert.Equal(t, 3, res.Attempts)
	assert.Equal(t, []string{
		"info: Running job flaky (attempt 1 of 5)",
		"info: attempt 1 ran",
		"error: Attempt 1 of 5 failed: boom; retrying in 10ms",
		"info: Running job flaky (attempt 3 of 5)",
		"info: attempt 3 ran",
		"success: Job completed",
	}, messages(res), "attempt 1's logs are kept")
	assert.Empty(t, attempts)
}

// TestConcurrentWriteToARecordIsNotLost: a record written by someone else
// before the receiver's write is not overwritten: the write is a
// compare-and-set (on the revision read; for a fresh message, which is not
// read, a create), and on a conflict the receiver writes again on top of
// what is there.
func TestConcurrentWriteToARecordIsNotLost(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var once atomic.Bool
	before := func(kv jetstream.KeyValue, key string, value []byte) {
		var r receiver.Result
		if json.Unmarshal(value, &r) != nil || !r.Status.Final() || !once.CompareAndSwap(false, true) {
			return
		}
		// Another writer (another receiver running a redelivery of the
		// same message, say) stores its entry first.
		_, err := kv.Get(context.Background(), key)
		if !assert.ErrorIs(t, err, jetstream.ErrKeyNotFound, "a quick first run writes its record once, at its end") {
			return
		}
		theirs := r
		theirs.Status, theirs.Logs = receiver.StatusRunning, []receiver.LogEntry{{Time: time.Now().UTC(), Level: receiver.LevelInfo, Message: "written meanwhile"}}
		data, err := json.Marshal(&theirs)
		if assert.NoError(t, err) {
			_, err = kv.Put(context.Background(), key, data)
			assert.NoError(t, err)
		}
	}
	reg := receiver.NewRegistry()
	reg.HandleFunc("audit", receiver.JobInfo{},
		func(ctx context.Context, job *receiver.Job, ch *receiver.Change, action events.Action, obj map[string]any) error {
			job.Info("ours")
			return nil
		})
	e.startOn(&faultyJS{JetStream: e.JS, before: before}, reg, testOptions(t))
	e.publishJob("h", "audit", "c-1", change(events.ActionCreate, "1", nil, device("1", "A")), nil)

	res := e.waitResult("h", "c-1")
	assert.Equal(t, receiver.StatusCompleted, res.Status)
	assert.Equal(t, []string{
		"info: written meanwhile",
		"info: Running job audit (attempt 1 of 3)",
		"info: ours",
		"success: Job completed",
	}, messages(res), "the other writer's entry is kept")
	assert.True(t, once.Load())
}

// TestRedeliveryThatLostItsCountIsNotAttemptOneAgain: a message the server
// delivers again as its first delivery (its consumer's state lost, as
// after a server kill; here the consumer is deleted and the receiver
// recreates it) is numbered after the attempts its record counts. Once its
// record is final, a further such delivery is settled without running.
func TestRedeliveryThatLostItsCountIsNotAttemptOneAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	attempts := make(chan int, 10)
	reg := receiver.NewRegistry()
	reg.HandleFunc("flaky", receiver.JobInfo{},
		func(ctx context.Context, job *receiver.Job, ch *receiver.Change, action events.Action, obj map[string]any) error {
			attempts <- job.Attempt()
			if job.Attempt() == 1 {
				return errBoom
			}
			return nil
		})
	var logs jstest.LogBuffer
	opts := testOptions(t)
	opts.Consumer.BackOff = []time.Duration{time.Hour} // only a lost count brings it back
	opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	e.start(reg, opts)
	e.publishJob("h", "flaky", "c-1", change(events.ActionCreate, "1", nil, device("1", "A")), nil)
	assert.Equal(t, 1, recv(t, attempts))
	e.waitResult("h", "c-1", receiver.StatusRetrying)

	recreate := func(times int) {
		t.Helper()
		require.NoError(t, e.JS.DeleteConsumer(t.Context(), jhjs.StreamJobs, jhjs.ReceiverConsumer("flaky")))
		require.Eventually(t, func() bool { return strings.Count(logs.String(), "consumer recreated") == times },
			waitFor, time.Millisecond, "the receiver recreates its consumer")
	}
	recreate(1)
	assert.Equal(t, 2, recv(t, attempts), "the first delivery of the new consumer is attempt 2")
	res := e.waitResult("h", "c-1")
	assert.Equal(t, receiver.StatusCompleted, res.Status)
	assert.Equal(t, 2, res.Attempts)
	assert.Equal(t, []string{
		"info: Running job flaky (attempt 1 of 3)",
		"error: Attempt 1 of 3 failed: boom; retrying in 1h0m0s",
		"info: Running job flaky (attempt 2 of 3)",
		"success: Job completed",
	}, messages(res))

	recreate(2)
	require.Eventually(t, func() bool {
		cons, err := e.JS.Consumer(t.Context(), jhjs.StreamJobs, jhjs.ReceiverConsumer("flaky"))
		if err != nil {
			return false
		}
		info, err := cons.Info(t.Context())
		return err == nil && info.Delivered.Consumer == 1 && info.NumAckPending == 0 && info.NumPending == 0
	}, waitFor, 5*time.Millisecond, "delivered again and settled")
	assert.Empty(t, attempts, "a message whose record is final does not run again")
	again := e.waitResult("h", "c-1")
	assert.Equal(t, res.Attempts, again.Attempts)
	assert.Equal(t, messages(res), messages(again), "its record is unchanged")
}

// TestReceiverLogLinesAreBounded: what comes from outside (a job's log
// messages and object reference, its error, what it logs through
// Job.Logger) is capped in the receiver's own log lines, and in the dead
// letter's Jobhooks-Error.
func TestReceiverLogLinesAreBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	huge := strings.Repeat("z", 900<<10)
	reg := receiver.NewRegistry()
	reg.HandleFunc("loud", receiver.JobInfo{},
		func(ctx context.Context, job *receiver.Job, ch *receiver.Change, action events.Action, obj map[string]any) error {
			job.Warning(huge, receiver.ObjectRef{ContentType: "dcim.device", ID: huge, Repr: huge})
			job.Logger().Info(huge, "value", huge, "error", errors.New(huge), slog.Group("g", "inner", huge))
			return errors.New(huge)
		})
	var logs jstest.LogBuffer
	opts := testOptions(t)
	opts.Consumer.MaxDeliver = 1
	opts.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	e.start(reg, opts)
	e.publishJob("h", "loud", "c-1", change(events.ActionCreate, "1", nil, device("1", "A")), nil)

	assert.Equal(t, receiver.StatusFailed, e.waitResult("h", "c-1").Status)
	var dls []*receiver.DeadLetter
	require.Eventually(t, func() bool { dls = e.deadLetters("loud"); return len(dls) == 1 }, waitFor, 5*time.Millisecond)
	assert.LessOrEqual(t, len(dls[0].Error), 1024+len("…"), "the dead letter's reason is capped at 1 KiB, one line")
	e.waitSettled("loud")

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	require.NotEmpty(t, lines)
	for _, line := range lines {
		assert.Less(t, len(line), 64<<10, "a log line: %.200s", line)
		var v map[string]any
		assert.NoError(t, json.Unmarshal([]byte(line), &v), "still a valid line: %.200s", line)
	}
	assert.Contains(t, logs.String(), `"inner":"zzz`, "groups are kept, their values capped")
}
