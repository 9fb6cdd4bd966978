package e2e_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/hookconfig"
	"github.com/jobhooks/jobhooks/internal/cli"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
	"github.com/jobhooks/jobhooks/receiver"
	"github.com/jobhooks/jobhooks/receiver/builtin"
	"github.com/jobhooks/jobhooks/router"
)

type pipeline struct {
	t       *testing.T
	ctx     context.Context
	srv     *jstest.Server
	store   *hookconfig.Store
	results *receiver.Results
	pub     *events.Publisher
	router  *router.Router
}

// newPipeline provisions a server and starts the router and a runner of
// reg's jobs (enabled), with fast retries.
func newPipeline(t *testing.T, reg *receiver.Registry, hooks ...*hookconfig.Hook) *pipeline {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	srv := jstest.StartProvisioned(t)
	p := &pipeline{t: t, ctx: ctx, srv: srv,
		store:   hookconfig.NewStore(srv.KV(t, jhjs.BucketJobHooks), hookconfig.NewJobs(srv.KV(t, jhjs.BucketJobs))),
		results: receiver.NewResults(srv.KV(t, jhjs.BucketJobResults)),
		pub:     events.NewPublisher(srv.JS, "test://e2e")}

	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	runner := receiver.NewRunner(srv.JS, reg, receiver.Options{
		EnableNew: true, Logger: logger,
		Consumer: jhjs.ReceiverConsumerOptions{MaxDeliver: 3, BackOff: []time.Duration{10 * time.Millisecond}},
	})
	p.run(runner.Run)
	select {
	case <-runner.Ready():
	case <-ctx.Done():
		t.Fatal("runner not ready")
	}
	for _, h := range hooks {
		_, err := p.store.Put(ctx, h, 0)
		require.NoError(t, err)
	}
	p.router = router.New(srv.JS, router.Options{Logger: logger})
	p.run(p.router.Run)
	select {
	case <-p.router.Ready():
	case <-ctx.Done():
		t.Fatal("router not ready")
	}
	return p
}

// run runs fn until the test ends, and checks it then returns nil.
func (p *pipeline) run(fn func(context.Context) error) {
	ctx, cancel := context.WithCancel(p.ctx)
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	p.t.Cleanup(func() {
		cancel()
		require.NoError(p.t, <-done)
	})
}

func (p *pipeline) publish(id string, ch *events.Change) {
	p.t.Helper()
	_, err := p.pub.Publish(p.ctx, ch, events.EventOptions{ID: id})
	require.NoError(p.t, err)
}

// result waits until the result of hook for change id has a final status.
func (p *pipeline) result(hook, id string) *receiver.Result {
	p.t.Helper()
	return p.resultFrom(hook, "test://e2e", id)
}

// resultFrom waits until the result of hook for change id from source has
// a final status.
func (p *pipeline) resultFrom(hook, source, id string) *receiver.Result {
	p.t.Helper()
	var r *receiver.Result
	require.Eventually(p.t, func() bool {
		var err error
		r, err = p.results.Get(p.ctx, receiver.ResultKey(hook, events.ChangeKey(source, id)))
		return err == nil && r.Status.Final()
	}, time.Minute, 5*time.Millisecond, "result of %s for %s", hook, id)
	return r
}

// routed waits until the router has handled every change in CHANGES.
func (p *pipeline) routed() {
	p.t.Helper()
	cons, err := p.srv.JS.Consumer(p.ctx, jhjs.StreamChanges, jhjs.ConsumerRouter)
	require.NoError(p.t, err)
	require.Eventually(p.t, func() bool {
		info, err := cons.Info(p.ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	}, time.Minute, 5*time.Millisecond)
}

func (p *pipeline) streamMsgs(stream string) uint64 {
	p.t.Helper()
	s, err := p.srv.JS.Stream(p.ctx, stream)
	require.NoError(p.t, err)
	info, err := s.Info(p.ctx)
	require.NoError(p.t, err)
	return info.State.Msgs
}

func hook(name, job string, actions ...events.Action) *hookconfig.Hook {
	return &hookconfig.Hook{Name: name, Job: job, Enabled: true, ContentTypes: []string{"dcim.device"}, Events: actions}
}

func deviceUpdate(id, from, to string) *events.Change {
	return &events.Change{Action: events.ActionUpdate, ContentType: "dcim.device", ObjectID: id,
		PreChange: map[string]any{"name": id, "serial": from}, PostChange: map[string]any{"name": id, "serial": to}}
}

func TestActionsReachJobsWithTheirObject(t *testing.T) {
	type call struct {
		action events.Action
		object map[string]any
	}
	calls := make(chan call, 3)
	reg := receiver.NewRegistry()
	reg.HandleFunc("audit", receiver.JobInfo{}, func(_ context.Context, job *receiver.Job, ch *receiver.Change, action events.Action, object map[string]any) error {
		calls <- call{action, object}
		return nil
	})
	p := newPipeline(t, reg, hook("audit-all", "audit", events.ActionCreate, events.ActionUpdate, events.ActionDelete))

	created := map[string]any{"name": "d1", "serial": "A1"}
	p.publish("c1", &events.Change{Action: events.ActionCreate, ContentType: "dcim.device", ObjectID: "d1", PostChange: created})
	require.Equal(t, receiver.StatusCompleted, p.result("audit-all", "c1").Status)
	p.publish("u1", deviceUpdate("d1", "A1", "B2"))
	require.Equal(t, receiver.StatusCompleted, p.result("audit-all", "u1").Status)
	p.publish("x1", &events.Change{Action: events.ActionDelete, ContentType: "dcim.device", ObjectID: "d1", PreChange: created})
	require.Equal(t, receiver.StatusCompleted, p.result("audit-all", "x1").Status)

	require.Equal(t, call{events.ActionCreate, created}, <-calls)
	require.Equal(t, call{events.ActionUpdate, map[string]any{"name": "d1", "serial": "B2"}}, <-calls)
	require.Equal(t, call{events.ActionDelete, nil}, <-calls, "no object on delete")
}

// TestLoopPrevention: the built-in serial-validator reverts an invalid
// serial by publishing a change of its own; that change is stored in
// CHANGES but triggers no job, though the hook matches it.
func TestLoopPrevention(t *testing.T) {
	reg := receiver.NewRegistry()
	builtin.Register(reg)
	p := newPipeline(t, reg, hook("serial-check", builtin.JobSerialValidator, events.ActionCreate, events.ActionUpdate))

	p.publish("u1", deviceUpdate("d1", "A1", "bad serial"))
	r := p.result("serial-check", "u1")
	require.Equal(t, receiver.StatusCompleted, r.Status)
	require.Eventually(t, func() bool { return p.streamMsgs(jhjs.StreamChanges) == 2 }, time.Minute, 5*time.Millisecond,
		"the revert is stored in CHANGES")
	p.routed()

	require.Equal(t, uint64(1), p.streamMsgs(jhjs.StreamJobs), "the revert was not routed")
	require.Equal(t, uint64(1), p.router.Stats().SkippedLoop)
	changes, err := p.srv.JS.Stream(p.ctx, jhjs.StreamChanges)
	require.NoError(t, err)
	stored, err := changes.GetMsg(p.ctx, 2)
	require.NoError(t, err)
	require.Equal(t, builtin.JobSerialValidator, stored.Header.Get("ce-hookorigin"))
	require.Equal(t, "u1", stored.Header.Get("ce-causationid"))
	revert, err := events.Decode(stored.Subject, stored.Header, stored.Data)
	require.NoError(t, err)
	require.Equal(t, "A1", revert.Change.PostChange["serial"], "reverted to the old serial")
}

func TestFailingJobIsRetriedDeadLetteredAndReplayed(t *testing.T) {
	var fixed atomic.Bool
	var attempts atomic.Int32
	reg := receiver.NewRegistry()
	reg.HandleFunc("flaky", receiver.JobInfo{}, func(_ context.Context, job *receiver.Job, _ *receiver.Change, _ events.Action, _ map[string]any) error {
		attempts.Add(1)
		if !fixed.Load() {
			return errors.New("device API unreachable")
		}
		return nil
	})
	p := newPipeline(t, reg, hook("flaky-hook", "flaky", events.ActionUpdate))

	p.publish("u1", deviceUpdate("d1", "A1", "B2"))
	r := p.result("flaky-hook", "u1")
	require.Equal(t, receiver.StatusFailed, r.Status)
	require.Equal(t, 3, r.Attempts)
	require.Equal(t, int32(3), attempts.Load())
	require.Contains(t, r.Error, "device API unreachable")

	dead := receiver.NewDeadLetters(p.srv.JS)
	var letters []*receiver.DeadLetter
	require.Eventually(t, func() bool {
		var err error
		letters, err = dead.List(p.ctx, "flaky")
		return err == nil && len(letters) == 1
	}, time.Minute, 5*time.Millisecond)
	require.Equal(t, "deadletter.jobs.flaky", letters[0].Subject)
	require.Contains(t, letters[0].Error, "device API unreachable")
	require.Equal(t, 3, letters[0].Attempts)

	fixed.Store(true)
	var out, errOut bytes.Buffer
	code := cli.Receiver(p.ctx, []string{"deadletter", "replay", fmt.Sprint(letters[0].Sequence), "--nats-url", p.srv.URL}, &out, &errOut)
	require.Equal(t, cli.ExitOK, code, errOut.String())
	require.Eventually(t, func() bool {
		r, err := p.results.Get(p.ctx, receiver.ResultKey("flaky-hook", events.ChangeKey("test://e2e", "u1")))
		return err == nil && r.Status == receiver.StatusCompleted
	}, time.Minute, 5*time.Millisecond, "the replayed job runs again and completes")
}

func TestPanickingJobIsErroredAndTheReceiverLivesOn(t *testing.T) {
	reg := receiver.NewRegistry()
	reg.HandleFunc("fragile", receiver.JobInfo{}, func(_ context.Context, _ *receiver.Job, ch *receiver.Change, _ events.Action, object map[string]any) error {
		if object["serial"] == "boom" {
			var m map[string]int
			m["x"]++ // a nil-map write: a real panic
		}
		return nil
	})
	p := newPipeline(t, reg, hook("fragile-hook", "fragile", events.ActionUpdate))

	p.publish("u1", deviceUpdate("d1", "A1", "boom"))
	p.publish("u2", deviceUpdate("d2", "A1", "fine"))
	r := p.result("fragile-hook", "u1")
	require.Equal(t, receiver.StatusErrored, r.Status)
	require.Contains(t, r.Error, "assignment to entry in nil map")
	require.Equal(t, receiver.StatusCompleted, p.result("fragile-hook", "u2").Status)
}

// testWriter sends log lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// TestReceiversShareAJob: two runners of one job (two processes, in
// production) share its consumer: every change runs once, on one of them.
func TestReceiversShareAJob(t *testing.T) {
	const changes = 200
	var runs [2]atomic.Int32
	registry := func(i int) *receiver.Registry {
		reg := receiver.NewRegistry()
		reg.HandleFunc("audit", receiver.JobInfo{}, func(context.Context, *receiver.Job, *receiver.Change, events.Action, map[string]any) error {
			runs[i].Add(1)
			return nil
		})
		return reg
	}
	p := newPipeline(t, registry(0), hook("audit-updates", "audit", events.ActionUpdate))
	second := receiver.NewRunner(p.srv.JS, registry(1), receiver.Options{EnableNew: true,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	p.run(second.Run)
	<-second.Ready()

	for i := range changes {
		_, err := p.pub.PublishAsync(deviceUpdate(fmt.Sprint(i), "A1", "B2"), events.EventOptions{ID: fmt.Sprintf("u%d", i)})
		require.NoError(t, err)
	}
	<-p.pub.PublishAsyncComplete()
	for i := range changes {
		r := p.result("audit-updates", fmt.Sprintf("u%d", i))
		require.Equal(t, receiver.StatusCompleted, r.Status)
		require.Equal(t, 1, r.Attempts)
	}
	t.Logf("runs: %d and %d", runs[0].Load(), runs[1].Load())
	require.Equal(t, int32(changes), runs[0].Load()+runs[1].Load(), "every change ran exactly once across both receivers")
	require.Positive(t, runs[0].Load(), "both receivers took work")
	require.Positive(t, runs[1].Load(), "both receivers took work")
}
