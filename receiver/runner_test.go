package receiver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/hookconfig"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
	"github.com/jobhooks/jobhooks/receiver"
)

func TestJobCompletesWithLogs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.putHook("check", "audit", map[string]any{"threshold": 3})

	type call struct {
		action  events.Action
		object  map[string]any
		change  *receiver.Change
		attempt int
	}
	calls := make(chan call, 1)
	reg := receiver.NewRegistry()
	reg.HandleFunc("audit", receiver.JobInfo{Description: "audits"},
		func(ctx context.Context, job *receiver.Job, ch *receiver.Change, action events.Action, obj map[string]any) error {
			job.Info("looking at "+ch.ObjectRepr, ch.Object())
			job.Success("fine")
			calls <- call{action, obj, ch, job.Attempt()}
			return nil
		})
	e.start(reg, testOptions(t))

	pre, post := device("1", "A1"), device("1", "B2")
	e.publishJob("check", "audit", "c-1", change(events.ActionUpdate, "1", pre, post), map[string]any{"site": "ams"})

	res := e.waitResult("check", "c-1")
	assert.Equal(t, receiver.StatusCompleted, res.Status)
	assert.Equal(t, "check", res.Hook)
	assert.Equal(t, "audit", res.Job)
	assert.Equal(t, "c-1", res.ChangeID)
	assert.Equal(t, 1, res.Attempts)
	assert.Empty(t, res.Error)
	require.NotNil(t, res.Completed)
	assert.False(t, res.Started.Before(res.Created))
	assert.False(t, res.Completed.Before(res.Started))
	assert.Equal(t, []string{
		"info: Running job audit (attempt 1 of 3)",
		"info: looking at edge-1",
		"success: fine",
		"success: Job completed",
	}, messages(res))
	assert.Equal(t, &receiver.ObjectRef{ContentType: "dcim.device", ID: "1", Repr: "edge-1"}, res.Logs[1].Object)

	c := <-calls
	assert.Equal(t, events.ActionUpdate, c.action)
	assert.Equal(t, post, c.object)
	assert.Equal(t, 1, c.attempt)
	assert.Equal(t, "c-1", c.change.ID)
	assert.Equal(t, "check", c.change.Hook)
	assert.Equal(t, map[string]any{"site": "ams"}, c.change.Context)
	assert.JSONEq(t, `{"threshold":3}`, string(c.change.Params))
	assert.Equal(t, "test://nautobot", c.change.Event.Source())
	diff := c.change.Snapshots().Differences
	assert.Equal(t, map[string]any{"serial": "B2"}, diff.Added)
	assert.Equal(t, map[string]any{"serial": "A1"}, diff.Removed)

	info := e.waitSettled("audit")
	assert.Equal(t, uint64(1), info.Delivered.Consumer)

	// The key of a change id that is not a plain token is hashed.
	e.publishJob("check", "audit", "urn:change/2", change(events.ActionCreate, "2", nil, device("2", "X")), nil)
	res = e.waitResult("check", "urn:change/2")
	assert.Equal(t, "urn:change/2", res.ChangeID)
	assert.Regexp(t, `^check\.sha-[0-9a-f]{32}$`, res.Key())
}

func TestDeleteGivesNilObjectAndMissingHookNilParams(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	type call struct {
		object map[string]any
		params json.RawMessage
		diff   events.Differences
	}
	calls := make(chan call, 1)
	reg := receiver.NewRegistry()
	reg.HandleFunc("audit", receiver.JobInfo{},
		func(ctx context.Context, job *receiver.Job, ch *receiver.Change, action events.Action, obj map[string]any) error {
			calls <- call{obj, ch.Params, ch.Snapshots().Differences}
			return nil
		})
	e.start(reg, testOptions(t))
	e.publishJob("gone", "audit", "d-1", change(events.ActionDelete, "1", device("1", "A1"), nil), nil)
	assert.Equal(t, receiver.StatusCompleted, e.waitResult("gone", "d-1").Status)
	c := <-calls
	assert.Nil(t, c.object)
	assert.Nil(t, c.params)
	assert.Nil(t, c.diff.Added)
	assert.Equal(t, device("1", "A1"), c.diff.Removed)
}

func TestFailureIsFinal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var runs atomic.Int32
	reg := receiver.NewRegistry()
	reg.HandleFunc("strict", receiver.JobInfo{},
		func(ctx context.Context, job *receiver.Job, ch *receiver.Change, action events.Action, obj map[string]any) error {
			runs.Add(1)
			job.Failure("serial is not allowed", ch.Object())
			return nil
		})
	e.start(reg, testOptions(t))
	e.publishJob("h", "strict", "c-1", change(events.ActionCreate, "1", nil, device("1", "?")), nil)

	res := e.waitResult("h", "c-1")
	assert.Equal(t, receiver.StatusFailed, res.Status)
	assert.Equal(t, 1, res.Attempts)
	assert.Contains(t, messages(res), "failure: serial is not allowed")
	info := e.waitSettled("strict")
	assert.Equal(t, uint64(1), info.Delivered.Consumer, "a logged failure is not retried")
	assert.Equal(t, int32(1), runs.Load())
	assert.Empty(t, e.deadLetters("strict"), "a logged failure is not dead-lettered")
}

func TestErrorRetriedThenDeadLetteredThenReplayed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var (
		healthy  atomic.Bool
		attempts = make(chan int, 10)
	)
	reg := receiver.NewRegistry()
	reg.HandleFunc("flaky", receiver.JobInfo{},
		func(ctx context.Context, job *receiver.Job, ch *receiver.Change, action events.Action, obj map[string]any) error {
			attempts <- job.Attempt()
			if healthy.Load() {
				return nil
			}
			return fmt.Errorf("attempt %d: %w", job.Attempt(), errBoom)
		})
	e.start(reg, testOptions(t))
	e.publishJob("h", "flaky", "c-1", change(events.ActionUpdate, "1", device("1", "A"), device("1", "B")), nil)

	res := e.waitResult("h", "c-1")
	assert.Equal(t, receiver.StatusFailed, res.Status)
	assert.Equal(t, 3, res.Attempts)
	assert.Equal(t, "attempt 3: boom", res.Error)
	assert.Equal(t, []string{
		"info: Running job flaky (attempt 1 of 3)",
		"error: Attempt 1 of 3 failed: attempt 1: boom; retrying in 10ms",
		"info: Running job flaky (attempt 2 of 3)",
		"error: Attempt 2 of 3 failed: attempt 2: boom; retrying in 10ms",
		"info: Running job flaky (attempt 3 of 3)",
		"error: Attempt 3 of 3 failed: attempt 3: boom; giving up: dead-lettered to deadletter.jobs.flaky",
	}, messages(res))
	assert.Equal(t, []int{1, 2, 3}, []int{<-attempts, <-attempts, <-attempts})
	e.waitSettled("flaky")

	dls := e.deadLetters("flaky")
	require.Len(t, dls, 1)
	dl := dls[0]
	assert.Equal(t, "deadletter.jobs.flaky", dl.Subject)
	assert.Equal(t, "flaky", dl.Job)
	assert.Equal(t, "h", dl.Hook)
	assert.Equal(t, "c-1", dl.ChangeID)
	assert.Equal(t, "attempt 3: boom", dl.Error)
	assert.Equal(t, 3, dl.Attempts)
	assert.Equal(t, "attempt 3: boom", dl.Header.Get(events.HeaderError))
	assert.Equal(t, "3", dl.Header.Get(events.HeaderAttempts))
	assert.NotEmpty(t, dl.Header.Get(nats.MsgIdHdr))
	decoded, err := events.DecodeJobMessage("jobs.flaky", dl.Header, dl.Data)
	require.NoError(t, err, "the dead letter keeps the job message's headers and body")
	assert.Equal(t, "c-1", decoded.ID())

	// Replay runs it again, with fresh attempts, and removes the dead letter.
	healthy.Store(true)
	dead := receiver.NewDeadLetters(e.JS)
	rep, err := dead.Replay(t.Context(), dl.Sequence)
	require.NoError(t, err)
	assert.Equal(t, "jobs.flaky", rep.Subject)
	assert.Equal(t, fmt.Sprintf("%s.h.replay-%d", events.ChangeKey("test://nautobot", "c-1"), dl.Sequence), rep.MsgID)
	assert.Equal(t, 1, <-attempts)
	res = e.waitResult("h", "c-1", receiver.StatusCompleted)
	assert.Equal(t, 1, res.Attempts)
	assert.Empty(t, res.Error)
	assert.Len(t, res.Logs, 8, "the replay's log follows the earlier attempts'")
	assert.Empty(t, e.deadLetters("flaky"))
	_, err = dead.Replay(t.Context(), dl.Sequence)
	assert.ErrorIs(t, err, receiver.ErrDeadLetterNotFound)
}

func TestPanicIsErroredAndTheRunnerCarriesOn(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reg := receiver.NewRegistry()
	reg.HandleFunc("fragile", receiver.JobInfo{},
		func(ctx context.Context, job *receiver.Job, ch *receiver.Change, action events.Action, obj map[string]any) error {
			if ch.ObjectID == "1" {
				var m map[string]any
				m["boom"] = 1 // nil map: panics
			}
			return nil
		})
	opts := testOptions(t)
	opts.Consumer.MaxDeliver = 1
	e.start(reg, opts)
	e.publishJob("h", "fragile", "c-1", change(events.ActionCreate, "1", nil, device("1", "A")), nil)
	e.publishJob("h", "fragile", "c-2", change(events.ActionCreate, "2", nil, device("2", "B")), nil)

	res := e.waitResult("h", "c-1")
	assert.Equal(t, receiver.StatusErrored, res.Status)
	assert.Contains(t, res.Error, "job panicked: assignment to entry in nil map")
	assert.Contains(t, res.Logs[1].Message, "runtime/debug.Stack", "the stack is logged")
	assert.Equal(t, receiver.StatusCompleted, e.waitResult("h", "c-2").Status)
	require.Len(t, e.deadLetters("fragile"), 1)
	e.waitSettled("fragile")
}

func TestTimeoutIsRetriedThenErrored(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reg := receiver.NewRegistry()
	reg.HandleFunc("slow", receiver.JobInfo{},
		func(ctx context.Context, job *receiver.Job, ch *receiver.Change, action events.Action, obj map[string]any) error {
			<-ctx.Done()
			if context.Cause(ctx) != receiver.ErrTimeout {
				return fmt.Errorf("unexpected cause %v", context.Cause(ctx))
			}
			return ctx.Err()
		})
	opts := testOptions(t)
	opts.Timeout = 10 * time.Millisecond
	opts.Consumer.MaxDeliver = 2
	e.start(reg, opts)
	e.publishJob("h", "slow", "c-1", change(events.ActionCreate, "1", nil, device("1", "A")), nil)

	res := e.waitResult("h", "c-1")
	assert.Equal(t, receiver.StatusErrored, res.Status)
	assert.Equal(t, 2, res.Attempts)
	assert.Equal(t, "job timed out after 10ms: context deadline exceeded", res.Error)
	assert.Contains(t, messages(res), "error: Attempt 1 of 2 failed: job timed out after 10ms: context deadline exceeded; retrying in 10ms")
	require.Len(t, e.deadLetters("slow"), 1)
}

func TestInvalidJobMessageIsDeadLettered(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reg := receiver.NewRegistry()
	reg.HandleFunc("audit", receiver.JobInfo{},
		func(ctx context.Context, job *receiver.Job, ch *receiver.Change, action events.Action, obj map[string]any) error {
			return nil
		})
	e.start(reg, testOptions(t))
	_, err := e.JS.PublishMsg(t.Context(), &nats.Msg{Subject: "jobs.audit", Data: []byte("not a change")})
	require.NoError(t, err)
	e.publishJob("h", "audit", "c-1", change(events.ActionCreate, "1", nil, device("1", "A")), nil)

	assert.Equal(t, receiver.StatusCompleted, e.waitResult("h", "c-1").Status)
	var dls []*receiver.DeadLetter
	require.Eventually(t, func() bool { dls = e.deadLetters("audit"); return len(dls) == 1 }, waitFor, 5*time.Millisecond)
	assert.Contains(t, dls[0].Error, "invalid job message")
	assert.Equal(t, 1, dls[0].Attempts)
	assert.Equal(t, "not a change", string(dls[0].Data))
	info := e.waitSettled("audit")
	assert.Equal(t, uint64(2), info.Delivered.Consumer, "never redelivered")
}

func TestDisabledJobWaitsUntilEnabled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	attempts := make(chan int, 10)
	reg := receiver.NewRegistry()
	reg.HandleFunc("gated", receiver.JobInfo{},
		func(ctx context.Context, job *receiver.Job, ch *receiver.Change, action events.Action, obj map[string]any) error {
			attempts <- job.Attempt()
			return nil
		})
	opts := testOptions(t)
	opts.EnableNew = false
	jobs := hookconfig.NewJobs(e.jobs)

	// Registered disabled, with a message waiting: after Ready the runner
	// has not asked for it.
	e.publishJob("h", "gated", "c-1", change(events.ActionCreate, "1", nil, device("1", "A")), nil)
	e.start(reg, opts)
	job, _, err := jobs.Get(t.Context(), "gated")
	require.NoError(t, err)
	assert.False(t, job.Enabled)
	info := e.consumerInfo("gated")
	assert.Equal(t, uint64(1), info.NumPending)
	assert.Equal(t, uint64(0), info.Delivered.Consumer)
	assert.Zero(t, info.NumWaiting, "no pull request while disabled")
	_, err = e.results.Get(t.Context(), receiver.ResultKey("h", events.ChangeKey("test://nautobot", "c-1")))
	assert.ErrorIs(t, err, receiver.ErrResultNotFound)

	// Enabled: it runs, on its first delivery.
	job.Enabled = true
	_, err = jobs.Put(t.Context(), job)
	require.NoError(t, err)
	assert.Equal(t, 1, <-attempts)
	assert.Equal(t, receiver.StatusCompleted, e.waitResult("h", "c-1").Status)

	// Disabled again, then re-enabled: a change arriving meanwhile runs
	// once, on its first delivery (waiting used no attempt).
	job.Enabled = false
	_, err = jobs.Put(t.Context(), job)
	require.NoError(t, err)
	e.publishJob("h", "gated", "c-2", change(events.ActionCreate, "2", nil, device("2", "B")), nil)
	job.Enabled = true
	_, err = jobs.Put(t.Context(), job)
	require.NoError(t, err)
	assert.Equal(t, 1, <-attempts)
	res := e.waitResult("h", "c-2")
	assert.Equal(t, receiver.StatusCompleted, res.Status)
	assert.Equal(t, 1, res.Attempts)
}

func TestRegistrationKeepsTheOperatorsEnabledFlag(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	jobs := hookconfig.NewJobs(e.jobs)
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for name, enabled := range map[string]bool{"kept-on": true, "kept-off": false} {
		_, err := jobs.Put(t.Context(), &hookconfig.Job{Name: name, Description: "old", Enabled: enabled, RegisteredAt: old})
		require.NoError(t, err)
	}
	nop := receiver.ReceiverFunc(func(context.Context, *receiver.Job, *receiver.Change, events.Action, map[string]any) error {
		return nil
	})
	reg := receiver.NewRegistry()
	reg.Handle("kept-on", receiver.JobInfo{Description: "new", Enabled: false}, nop)
	reg.Handle("kept-off", receiver.JobInfo{Description: "new", Enabled: true}, nop)
	reg.Handle("new-on", receiver.JobInfo{Description: "new", Enabled: true}, nop)
	reg.Handle("new-off", receiver.JobInfo{Description: "new", ApprovalRequired: true}, nop)
	var logs bytes.Buffer
	opts := testOptions(t)
	opts.EnableNew = false
	opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	r := e.start(reg, opts)
	require.NoError(t, r.stop(t))

	for _, tc := range []struct {
		name     string
		enabled  bool
		approval bool
	}{
		{"kept-on", true, false},
		{"kept-off", false, false},
		{"new-on", true, false},
		{"new-off", false, true},
	} {
		job, _, err := jobs.Get(t.Context(), tc.name)
		require.NoError(t, err)
		assert.Equal(t, tc.enabled, job.Enabled, tc.name)
		assert.Equal(t, "new", job.Description, tc.name)
		assert.Equal(t, tc.approval, job.ApprovalRequired, tc.name)
		assert.True(t, job.RegisteredAt.After(old), tc.name)
	}
	assert.Contains(t, logs.String(), "approval_required is ignored")

	// EnableNew enables only jobs registered for the first time.
	reg.Handle("newer", receiver.JobInfo{}, nop)
	opts.EnableNew = true
	require.NoError(t, e.start(reg, opts).stop(t))
	for name, enabled := range map[string]bool{"newer": true, "kept-off": false, "new-off": false} {
		job, _, err := jobs.Get(t.Context(), name)
		require.NoError(t, err)
		assert.Equal(t, enabled, job.Enabled, name)
	}
}

// TestSameObjectInOrderOthersInParallel: the object comes from the
// Jobhooks-Object header the router adds, or from the change data of a job
// message without one.
func TestSameObjectInOrderOthersInParallel(t *testing.T) {
	t.Parallel()
	for _, header := range []bool{true, false} {
		t.Run(fmt.Sprintf("header=%v", header), func(t *testing.T) {
			t.Parallel()
			testSameObjectInOrder(t, header)
		})
	}
}

func testSameObjectInOrder(t *testing.T, header bool) {
	e := newEnv(t)
	publish := func(changeID string, ch *events.Change) {
		ev, err := events.NewEvent(ch, events.EventOptions{ID: changeID, Source: "test://nautobot"})
		require.NoError(t, err)
		msg, err := events.NewJobMsg(&events.ChangeEvent{Event: *ev, Change: *ch}, "h", "ordered", nil)
		require.NoError(t, err)
		require.Equal(t, "dcim.device "+ch.ObjectID, msg.Header.Get(events.HeaderObject))
		if !header {
			msg.Header.Del(events.HeaderObject)
		}
		_, err = e.JS.PublishMsg(t.Context(), msg)
		require.NoError(t, err)
	}
	var (
		aStarted, bStarted = make(chan struct{}), make(chan struct{})
		mu                 sync.Mutex
		order              []string
		active             = map[string]int{}
		overlap            []string
	)
	reg := receiver.NewRegistry()
	reg.HandleFunc("ordered", receiver.JobInfo{},
		func(ctx context.Context, job *receiver.Job, ch *receiver.Change, action events.Action, obj map[string]any) error {
			mu.Lock()
			active[ch.ObjectID]++
			if active[ch.ObjectID] > 1 {
				overlap = append(overlap, ch.ID)
			}
			order = append(order, ch.ID)
			mu.Unlock()
			defer func() {
				mu.Lock()
				active[ch.ObjectID]--
				mu.Unlock()
			}()
			// The first change of each object waits for the other's: they
			// can only both finish if they run at the same time.
			switch ch.ID {
			case "a-1":
				close(aStarted)
				return wait(ctx, bStarted)
			case "b-1":
				close(bStarted)
				return wait(ctx, aStarted)
			}
			return nil
		})
	e.start(reg, testOptions(t))

	publish("a-1", change(events.ActionUpdate, "A", device("A", "0"), device("A", "1")))
	publish("b-1", change(events.ActionUpdate, "B", device("B", "0"), device("B", "1")))
	const n = 20
	for i := 2; i <= n; i++ {
		publish(fmt.Sprintf("a-%d", i), change(events.ActionUpdate, "A", device("A", fmt.Sprint(i-1)), device("A", fmt.Sprint(i))))
	}
	for i := 1; i <= n; i++ {
		assert.Equal(t, receiver.StatusCompleted, e.waitResult("h", fmt.Sprintf("a-%d", i)).Status)
	}
	assert.Equal(t, receiver.StatusCompleted, e.waitResult("h", "b-1").Status)

	mu.Lock()
	defer mu.Unlock()
	var aOrder []string
	for _, id := range order {
		if id[0] == 'a' {
			aOrder = append(aOrder, id)
		}
	}
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("a-%d", i+1)
	}
	assert.Equal(t, want, aOrder)
	assert.Empty(t, overlap, "changes to one object never overlap")
}

func wait(ctx context.Context, ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestPublishStampsOriginAndIsDeduplicatedAcrossAttempts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reg := receiver.NewRegistry()
	reg.HandleFunc("fixer", receiver.JobInfo{},
		func(ctx context.Context, job *receiver.Job, ch *receiver.Change, action events.Action, obj map[string]any) error {
			fixed := change(events.ActionUpdate, ch.ObjectID, ch.PostChange, device(ch.ObjectID, "FIXED"))
			if err := job.Publish(ctx, fixed); err != nil {
				return err
			}
			if job.Attempt() == 1 {
				return errBoom // the retry publishes the same change again
			}
			return nil
		})
	e.start(reg, testOptions(t))
	e.publishJob("h", "fixer", "c-1", change(events.ActionCreate, "1", nil, device("1", "bad")), nil)

	res := e.waitResult("h", "c-1")
	require.Equal(t, receiver.StatusCompleted, res.Status)
	assert.Equal(t, 2, res.Attempts)

	stream, err := e.JS.Stream(t.Context(), jhjs.StreamChanges)
	require.NoError(t, err)
	info, err := stream.Info(t.Context())
	require.NoError(t, err)
	assert.Equal(t, uint64(1), info.State.Msgs, "the retry's publish was de-duplicated")
	raw, err := stream.GetLastMsgForSubject(t.Context(), "changes.dcim.device.update")
	require.NoError(t, err)
	ce, err := events.Decode(raw.Subject, raw.Header, raw.Data)
	require.NoError(t, err)
	assert.Equal(t, "fixer", ce.HookOrigin())
	assert.Equal(t, "c-1", ce.CausationID())
	assert.Equal(t, receiver.DefaultSource, ce.Event.Source())
	assert.Equal(t, "FIXED", ce.Change.PostChange["serial"])
}

func TestInProgressKeepsALongJobAlive(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acks := e.watchAcks("long")
	reg := receiver.NewRegistry()
	reg.HandleFunc("long", receiver.JobInfo{},
		func(ctx context.Context, job *receiver.Job, ch *receiver.Change, action events.Action, obj map[string]any) error {
			// Outlive the ack deadline (AckWait + back-off): wait for four
			// in-progress acks, sent every AckWait/3.
			for beats := 0; beats < 4; {
				select {
				case m := <-acks:
					if string(m.Data) == "+WPI" {
						beats++
					}
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return nil
		})
	opts := testOptions(t)
	opts.Consumer.AckWait = time.Second
	e.start(reg, opts)
	e.publishJob("h", "long", "c-1", change(events.ActionCreate, "1", nil, device("1", "A")), nil)

	res := e.waitResult("h", "c-1")
	assert.Equal(t, receiver.StatusCompleted, res.Status)
	assert.Equal(t, 1, res.Attempts)
	info := e.waitSettled("long")
	assert.Equal(t, uint64(1), info.Delivered.Consumer, "never redelivered while running")
}

// TestWaitingMessagesAreNotFetchedEarly: a receiver holds at most Prefetch
// messages (running, or waiting to run, with heartbeats); the next
// messages stay on the server. Fetched early, they would sit in a
// client buffer without heartbeats, be redelivered to another receiver
// when their ack wait ran out, and then run twice.
func TestWaitingMessagesAreNotFetchedEarly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acks := e.watchAcks("long")
	release := make(chan struct{})
	reg := receiver.NewRegistry()
	reg.HandleFunc("long", receiver.JobInfo{},
		func(ctx context.Context, job *receiver.Job, ch *receiver.Change, action events.Action, obj map[string]any) error {
			if ch.ID == "c-1" {
				<-release
			}
			return nil
		})
	opts := testOptions(t)
	const n, held = 12, 8
	opts.Concurrency = 2
	opts.Prefetch = held
	opts.Consumer.AckWait = 300 * time.Millisecond
	e.start(reg, opts)
	// c-1 runs long; the rest, about the same object, wait behind it.
	for i := 1; i <= n; i++ {
		e.publishJob("h", "long", fmt.Sprintf("c-%d", i), change(events.ActionUpdate, "1", device("1", "A"), device("1", "B")), nil)
	}
	// Past the ack deadline twice over (AckWait + back-off): every held
	// message is kept alive, two in-progress acks each at least.
	for range 6 * held {
		nextAck(t, acks, "+WPI")
	}
	info := e.consumerInfo("long")
	assert.Equal(t, held, info.NumAckPending, "Prefetch messages are held")
	assert.Equal(t, uint64(n-held), info.NumPending, "the rest wait on the server")
	assert.Zero(t, info.NumRedelivered)
	close(release)

	for i := 1; i <= n; i++ {
		res := e.waitResult("h", fmt.Sprintf("c-%d", i))
		assert.Equal(t, receiver.StatusCompleted, res.Status)
		assert.Equal(t, 1, res.Attempts, res.ChangeID)
	}
	info = e.waitSettled("long")
	assert.Equal(t, uint64(n), info.Delivered.Consumer, "each delivered once")
}

func TestOptionsAreValidated(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	nop := func(context.Context, *receiver.Job, *receiver.Change, events.Action, map[string]any) error {
		return nil
	}
	reg := receiver.NewRegistry()
	reg.HandleFunc("a", receiver.JobInfo{}, nop)
	for _, tc := range []struct {
		name string
		opts receiver.Options
		want string
	}{
		{"unknown job", receiver.Options{Jobs: []string{"nope"}}, `job not in the registry: "nope"`},
		{"twice", receiver.Options{Jobs: []string{"a", "a"}}, `job "a" listed twice`},
		{"concurrency", receiver.Options{Concurrency: -1}, "concurrency must be at least 1"},
		{"prefetch below concurrency", receiver.Options{Concurrency: 4, Prefetch: 3}, "prefetch must be at least the concurrency (4), got 3"},
		{"negative prefetch", receiver.Options{Prefetch: -1}, "prefetch must be at least the concurrency (4), got -1"},
		{"timeout", receiver.Options{Timeout: -time.Second}, "timeout must be positive"},
		{"back-off", receiver.Options{Consumer: jhjs.ReceiverConsumerOptions{MaxDeliver: 1, BackOff: []time.Duration{1, 2}}}, "back-off has 2 delays"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := receiver.NewRunner(e.JS, reg, tc.opts).Run(t.Context())
			require.ErrorIs(t, err, receiver.ErrOptions)
			assert.ErrorContains(t, err, tc.want)
		})
	}
	err := receiver.NewRunner(e.JS, receiver.NewRegistry(), receiver.Options{}).Run(t.Context())
	assert.ErrorContains(t, err, "no jobs to run")
}

func TestRegistryPanicsOnProgrammingErrors(t *testing.T) {
	t.Parallel()
	nop := receiver.ReceiverFunc(func(context.Context, *receiver.Job, *receiver.Change, events.Action, map[string]any) error {
		return nil
	})
	for _, tc := range []struct {
		name string
		do   func(*receiver.Registry)
	}{
		{"invalid name", func(r *receiver.Registry) { r.Handle("Bad Name", receiver.JobInfo{}, nop) }},
		{"dotted name", func(r *receiver.Registry) { r.Handle("a.b", receiver.JobInfo{}, nop) }},
		{"nil receiver", func(r *receiver.Registry) { r.Handle("a", receiver.JobInfo{}, nil) }},
		{"nil func", func(r *receiver.Registry) { r.HandleFunc("a", receiver.JobInfo{}, nil) }},
		{"duplicate", func(r *receiver.Registry) {
			r.Handle("dup", receiver.JobInfo{}, nop)
			r.Handle("dup", receiver.JobInfo{}, nop)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Panics(t, func() { tc.do(receiver.NewRegistry()) })
		})
	}
	var reg receiver.Registry // the zero value works
	reg.Handle("b", receiver.JobInfo{}, nop)
	reg.Handle("a", receiver.JobInfo{Description: "x"}, nop)
	assert.Equal(t, []string{"a", "b"}, reg.Names())
	_, info, ok := reg.Lookup("a")
	assert.True(t, ok)
	assert.Equal(t, "x", info.Description)
}

func TestResultKey(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "h."+events.ChangeKey("s", "c-1"), receiver.ResultKey("h", events.ChangeKey("s", "c-1")))
	r := receiver.Result{Hook: "h", Source: "netbox://lab", ChangeID: "c-1"}
	assert.Equal(t, "h."+events.ChangeKey("netbox://lab", "c-1"), r.Key(), "a record's key is its hook and change key")
}

// TestReceiverDyingInTheLastAttemptStrandsNothing: a receiver that takes a
// message on its last attempt and dies without settling it must not leave
// the message stranded in JOBS; the spare delivery dead-letters it.
func TestReceiverDyingInTheLastAttemptStrandsNothing(t *testing.T) {
	e := newEnv(t)
	opts := testOptions(t)
	opts.Consumer = jhjs.ReceiverConsumerOptions{MaxDeliver: 1, AckWait: 100 * time.Millisecond, BackOff: []time.Duration{10 * time.Millisecond}}
	cfg, err := jhjs.ReceiverConsumerConfig("fragile", opts.Consumer)
	require.NoError(t, err)
	cons, err := jhjs.EnsureConsumer(t.Context(), e.JS, jhjs.StreamJobs, cfg)
	require.NoError(t, err)
	e.publishJob("h", "fragile", "c1", change(events.ActionUpdate, "1", device("1", "A"), device("1", "B")), nil)

	// A receiver takes its one and only attempt, then dies: no ack, no nak.
	batch, err := cons.Fetch(1)
	require.NoError(t, err)
	for m := range batch.Messages() {
		meta, err := m.Metadata()
		require.NoError(t, err)
		require.Equal(t, uint64(1), meta.NumDelivered)
	}

	ran := make(chan struct{}, 1)
	reg := receiver.NewRegistry()
	reg.HandleFunc("fragile", receiver.JobInfo{}, func(context.Context, *receiver.Job, *receiver.Change, events.Action, map[string]any) error {
		ran <- struct{}{}
		return nil
	})
	e.start(reg, opts)

	res := e.waitResult("h", "c1")
	require.Equal(t, receiver.StatusErrored, res.Status)
	require.Equal(t, 1, res.Attempts)
	require.Contains(t, res.Error, "attempt 1 of 1 never finished")
	dls := e.deadLetters("fragile")
	require.Len(t, dls, 1)
	require.Equal(t, 1, dls[0].Attempts)
	require.Contains(t, dls[0].Error, "never finished")
	e.waitSettled("fragile")
	require.Empty(t, ran, "the spare delivery is not another attempt")
}

// TestResultRecordWireShape pins the result record as operators read it
// with `nats kv get job_results KEY`: SPEC's field names, no others.
func TestResultRecordWireShape(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reg := receiver.NewRegistry()
	reg.HandleFunc("audit", receiver.JobInfo{},
		func(ctx context.Context, job *receiver.Job, ch *receiver.Change, action events.Action, obj map[string]any) error {
			job.Warning("serial looks odd", ch.Object())
			return nil
		})
	e.start(reg, testOptions(t))
	e.publishJob("check", "audit", "c-1", change(events.ActionUpdate, "1", device("1", "A"), device("1", "B")), nil)
	e.waitResult("check", "c-1")

	kv, err := e.JS.KeyValue(t.Context(), jhjs.BucketJobResults)
	require.NoError(t, err)
	entry, err := kv.Get(t.Context(), "check."+events.ChangeKey("test://nautobot", "c-1"))
	require.NoError(t, err)
	var record map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(entry.Value(), &record))
	assert.ElementsMatch(t, []string{"hook", "job", "change_id", "source", "status", "attempts", "created", "started", "completed", "logs", "error"},
		slices.Collect(maps.Keys(record)))
	var logs []map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(record["logs"], &logs))
	require.NotEmpty(t, logs)
	for _, l := range logs {
		for k := range l {
			assert.Contains(t, []string{"time", "level", "message", "object"}, k)
		}
	}
	assert.JSONEq(t, `"completed"`, string(record["status"]))
	assert.Contains(t, string(record["logs"]), `"level":"warning","message":"serial looks odd","object":{"content_type":"dcim.device","id":"1","repr":"edge-1"}`)
}

// TestDisablingAJobStopsFetching: once a job is disabled its receiver asks
// the server for no more messages. The one fetch in flight at that moment
// may still take one (it is not cancelled, see puller.drain); nothing
// after it. Repeated, because a random choice once decided it.
func TestDisablingAJobStopsFetching(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reg := receiver.NewRegistry()
	reg.HandleFunc("toggled", receiver.JobInfo{},
		func(context.Context, *receiver.Job, *receiver.Change, events.Action, map[string]any) error {
			return nil
		})
	var logs jstest.LogBuffer
	opts := testOptions(t)
	opts.Concurrency = 32 // free slots: fetching could go on
	opts.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.start(reg, opts)
	jobs := hookconfig.NewJobs(e.jobs)
	setEnabled := func(on bool) {
		t.Helper()
		job, _, err := jobs.Get(t.Context(), "toggled")
		require.NoError(t, err)
		job.Enabled = on
		_, err = jobs.Put(t.Context(), job)
		require.NoError(t, err)
	}
	logged := func(what string, n int) func() bool {
		return func() bool { return strings.Count(logs.String(), what) == n }
	}

	const cycles, batch = 16, 10
	for c := 1; c <= cycles; c++ {
		warm := fmt.Sprintf("warm-%d", c)
		e.publishJob("h", "toggled", warm, change(events.ActionCreate, warm, nil, device(warm, "A")), nil)
		e.waitResult("h", warm, receiver.StatusCompleted)
		before := e.waitSettled("toggled").Delivered.Consumer

		setEnabled(false)
		require.Eventually(t, logged("job disabled", c), waitFor, time.Millisecond)
		ids := make([]string, batch)
		for i := range ids {
			ids[i] = fmt.Sprintf("c-%d-%d", c, i)
			e.publishJob("h", "toggled", ids[i], change(events.ActionCreate, ids[i], nil, device(ids[i], "A")), nil)
		}
		require.Eventually(t, logged("stopped fetching", c), waitFor, time.Millisecond, "the disabled job's fetching ends")
		// The server counts NumPending a moment after the publish acks:
		// wait until it accounts for every message of the batch.
		var info *jetstream.ConsumerInfo
		require.Eventually(t, func() bool {
			info = e.consumerInfo("toggled")
			return info.NumPending+(info.Delivered.Consumer-before) == batch
		}, waitFor, time.Millisecond, "cycle %d: consumer info (last: %+v)", c, info)
		assert.LessOrEqual(t, info.Delivered.Consumer-before, uint64(1), "cycle %d: messages fetched after the job was disabled", c)
		assert.GreaterOrEqual(t, info.NumPending, uint64(batch-1), "cycle %d: the messages wait on the server", c)

		setEnabled(true)
		for _, id := range ids {
			res := e.waitResult("h", id, receiver.StatusCompleted)
			assert.Equal(t, 1, res.Attempts, id)
		}
	}
}

// TestDeletedConsumerIsRestoredWhileADrainedPullerLingers: the consumer is
// deleted while one puller, drained by a disable, may still be fetching and
// another, started by the enable, is: run restores the consumer (under
// -race: without sharing it with the pullers) and the job goes on.
func TestDeletedConsumerIsRestoredWhileADrainedPullerLingers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reg := receiver.NewRegistry()
	reg.HandleFunc("restored", receiver.JobInfo{},
		func(context.Context, *receiver.Job, *receiver.Change, events.Action, map[string]any) error {
			return nil
		})
	var logs jstest.LogBuffer
	opts := testOptions(t)
	opts.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.start(reg, opts)
	jobs := hookconfig.NewJobs(e.jobs)
	setEnabled := func(on bool) {
		t.Helper()
		job, _, err := jobs.Get(t.Context(), "restored")
		require.NoError(t, err)
		job.Enabled = on
		_, err = jobs.Put(t.Context(), job)
		require.NoError(t, err)
	}
	e.publishJob("h", "restored", "c-1", change(events.ActionCreate, "1", nil, device("1", "A")), nil)
	e.waitResult("h", "c-1", receiver.StatusCompleted)

	setEnabled(false)
	// The runner follows the latest flag: wait until it saw this one, so
	// that the next is a change too.
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "job disabled") }, waitFor, time.Millisecond)
	setEnabled(true)
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "job enabled") }, waitFor, time.Millisecond)
	require.NoError(t, e.JS.DeleteConsumer(t.Context(), jhjs.StreamJobs, jhjs.ReceiverConsumer("restored")))
	require.Eventually(t, func() bool { return strings.Count(logs.String(), "JetStream consumer created") == 2 },
		waitFor, time.Millisecond, "the consumer is restored")

	e.publishJob("h", "restored", "c-2", change(events.ActionCreate, "2", nil, device("2", "A")), nil)
	e.waitResult("h", "c-2", receiver.StatusCompleted)
}

// TestConcurrencyBoundsRunningJobs: at most Concurrency jobs run at once,
// however many messages the receiver holds; the rest wait their turn.
func TestConcurrencyBoundsRunningJobs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const concurrency, n = 3, 12
	var running, most atomic.Int32
	started, release := make(chan struct{}, n), make(chan struct{})
	reg := receiver.NewRegistry()
	reg.HandleFunc("bounded", receiver.JobInfo{},
		func(context.Context, *receiver.Job, *receiver.Change, events.Action, map[string]any) error {
			now := running.Add(1)
			for m := most.Load(); now > m && !most.CompareAndSwap(m, now); m = most.Load() {
			}
			started <- struct{}{}
			<-release
			running.Add(-1)
			return nil
		})
	opts := testOptions(t)
	opts.Concurrency = concurrency
	e.start(reg, opts)
	for i := range n { // n objects: nothing but the bound keeps them apart
		id := fmt.Sprint(i)
		e.publishJob("h", "bounded", "c-"+id, change(events.ActionCreate, id, nil, device(id, "A")), nil)
	}
	for range concurrency {
		<-started
	}
	require.Eventually(t, func() bool { return e.consumerInfo("bounded").NumAckPending == n }, 10*time.Second, 5*time.Millisecond,
		"every message is held (Prefetch is %d)", receiver.DefaultPrefetchPerSlot*concurrency)
	close(release)
	for i := range n {
		assert.Equal(t, receiver.StatusCompleted, e.waitResult("h", fmt.Sprintf("c-%d", i)).Status)
	}
	assert.Equal(t, int32(concurrency), most.Load(), "jobs running at once")
}
