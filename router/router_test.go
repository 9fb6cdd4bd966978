package router_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/hookconfig"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
	"github.com/jobhooks/jobhooks/router"
)

// env is a provisioned server with helpers to configure hooks and publish
// changes.
type env struct {
	t     testing.TB
	ctx   context.Context
	srv   *jstest.Server
	store *hookconfig.Store
	jobs  *hookconfig.Jobs
	pub   *events.Publisher
	log   *jstest.LogBuffer
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	srv := jstest.StartProvisioned(t)
	jobs := hookconfig.NewJobs(srv.KV(t, jhjs.BucketJobs))
	return &env{t: t, ctx: ctx, srv: srv, jobs: jobs, store: hookconfig.NewStore(srv.KV(t, jhjs.BucketJobHooks), jobs),
		pub: events.NewPublisher(srv.JS, "test://router"), log: &jstest.LogBuffer{}}
}

func (e *env) registerJob(name string, enabled bool) {
	e.t.Helper()
	_, err := e.jobs.Put(e.ctx, &hookconfig.Job{Name: name, Enabled: enabled, RegisteredAt: time.Now()})
	require.NoError(e.t, err)
}

// putHook stores a hook and returns its revision.
func (e *env) putHook(name, job string, contentType string, actions ...events.Action) uint64 {
	e.t.Helper()
	rev, err := e.store.Put(e.ctx, &hookconfig.Hook{Name: name, Job: job, ContentTypes: []string{contentType}, Events: actions, Enabled: true}, 0)
	require.NoError(e.t, err)
	return rev
}

func (e *env) publish(id string, ch *events.Change, opts ...func(*events.EventOptions)) {
	e.t.Helper()
	o := events.EventOptions{ID: id}
	for _, f := range opts {
		f(&o)
	}
	_, err := e.pub.Publish(e.ctx, ch, o)
	require.NoError(e.t, err)
}

// startRouter runs a router until the test ends and waits until it is ready.
func (e *env) startRouter(opts router.Options) *router.Router {
	e.t.Helper()
	return e.startRouterOn(e.srv.JS, opts)
}

// startRouterOn is startRouter with a router publishing through js.
func (e *env) startRouterOn(js jetstream.JetStream, opts router.Options) *router.Router {
	e.t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	r := router.New(js, opts)
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		require.NoError(e.t, <-done)
	})
	select {
	case <-r.Ready():
	case err := <-done:
		e.t.Fatalf("router stopped: %v", err)
	case <-e.ctx.Done():
		e.t.Fatal("router not ready")
	}
	return r
}

// jobMessages waits for n messages on jobs.<job> and fails on any extra one
// already stored.
func (e *env) jobMessages(job string, n int) []*events.JobMessage {
	e.t.Helper()
	stream, err := e.srv.JS.Stream(e.ctx, jhjs.StreamJobs)
	require.NoError(e.t, err)
	subject := "jobs." + job
	require.Eventually(e.t, func() bool {
		info, err := stream.Info(e.ctx, jetstream.WithSubjectFilter(subject))
		return err == nil && info.State.Subjects[subject] >= uint64(n)
	}, 30*time.Second, 5*time.Millisecond, "waiting for %d messages on %s", n, subject)
	cons, err := e.srv.JS.OrderedConsumer(e.ctx, jhjs.StreamJobs, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	require.NoError(e.t, err)
	var out []*events.JobMessage
	for len(out) < n+1 {
		batch, err := cons.FetchNoWait(n + 1 - len(out))
		require.NoError(e.t, err)
		got := 0
		for m := range batch.Messages() {
			got++
			jm, err := events.DecodeJobMessage(m.Subject(), m.Headers(), m.Data())
			require.NoError(e.t, err)
			out = append(out, jm)
		}
		if got == 0 {
			break
		}
	}
	require.Len(e.t, out, n, "messages on %s", subject)
	return out
}

func (e *env) waitRouted(r *router.Router, changes uint64) {
	e.t.Helper()
	require.Eventually(e.t, func() bool { return r.Stats().Changes >= changes && e.pendingChanges() == 0 },
		30*time.Second, 5*time.Millisecond, "router did not finish %d changes: %+v", changes, r.Stats())
}

// pendingChanges is how many changes the router consumer has not
// acknowledged or terminated.
func (e *env) pendingChanges() uint64 {
	cons, err := e.srv.JS.Consumer(e.ctx, jhjs.StreamChanges, jhjs.ConsumerRouter)
	require.NoError(e.t, err)
	info, err := cons.Info(e.ctx)
	require.NoError(e.t, err)
	return info.NumPending + uint64(info.NumAckPending)
}

func device(id, serial string) map[string]any {
	return map[string]any{"id": id, "name": "edge-" + id, "serial": serial}
}

func create(id string) *events.Change {
	return &events.Change{Action: events.ActionCreate, ContentType: "dcim.device", ObjectID: id, PostChange: device(id, "A1")}
}

func update(id, from, to string) *events.Change {
	return &events.Change{Action: events.ActionUpdate, ContentType: "dcim.device", ObjectID: id, PreChange: device(id, from), PostChange: device(id, to)}
}

func remove(id string) *events.Change {
	return &events.Change{Action: events.ActionDelete, ContentType: "dcim.device", ObjectID: id, PreChange: device(id, "A1")}
}

func TestRoutesEachActionToTheMatchingJobs(t *testing.T) {
	e := newEnv(t)
	e.registerJob("audit", true)
	e.registerJob("cleanup", true)
	e.putHook("device-audit", "audit", "dcim.device", events.ActionCreate, events.ActionUpdate)
	e.putHook("device-cleanup", "cleanup", "dcim.device", events.ActionDelete)
	e.putHook("interface-audit", "audit", "dcim.interface", events.ActionCreate, events.ActionUpdate, events.ActionDelete)

	// Published before the router starts: it must load every hook before
	// routing the first change.
	e.publish("c1", create("d1"))
	e.publish("u1", update("d1", "A1", "B2"))
	e.publish("x1", remove("d1"))
	r := e.startRouter(router.Options{})
	e.waitRouted(r, 3)

	audit := e.jobMessages("audit", 2)
	require.Equal(t, "c1", audit[0].ID())
	require.Equal(t, events.ActionCreate, audit[0].Change.Action)
	require.Equal(t, device("d1", "A1"), audit[0].Change.PostChange)
	require.Equal(t, "u1", audit[1].ID())
	require.Equal(t, events.ActionUpdate, audit[1].Change.Action)
	require.Equal(t, map[string]any{"serial": "B2"}, audit[1].Change.Snapshots().Differences.Added)
	for _, m := range audit {
		require.Equal(t, "device-audit", m.Hook)
		require.Equal(t, "audit", m.Job)
	}

	cleanup := e.jobMessages("cleanup", 1)
	require.Equal(t, "x1", cleanup[0].ID())
	require.Equal(t, events.ActionDelete, cleanup[0].Change.Action)
	require.Nil(t, cleanup[0].Change.PostChange, "no object on delete")
	require.Equal(t, device("d1", "A1"), cleanup[0].Change.PreChange)
	require.Equal(t, uint64(3), r.Stats().Routed)
}

func TestJobMessageHeaders(t *testing.T) {
	e := newEnv(t)
	e.registerJob("audit", true)
	_, err := e.store.Put(e.ctx, &hookconfig.Hook{Name: "device-audit", Job: "audit", Enabled: true, ContentTypes: []string{"dcim.device"},
		Events: []events.Action{events.ActionCreate}, Params: []byte(`{"token":"s3cret"}`)}, 0)
	require.NoError(t, err)
	r := e.startRouter(router.Options{})
	e.publish("c1", create("d1"))
	e.waitRouted(r, 1)

	stream, err := e.srv.JS.Stream(e.ctx, jhjs.StreamJobs)
	require.NoError(t, err)
	m, err := stream.GetLastMsgForSubject(e.ctx, "jobs.audit")
	require.NoError(t, err)
	require.Equal(t, events.ChangeKey("test://router", "c1")+".device-audit", m.Header.Get(nats.MsgIdHdr), "<change key>.<hook>")
	require.Equal(t, "device-audit", m.Header.Get(events.HeaderHook))
	require.Equal(t, "audit", m.Header.Get(events.HeaderJob))
	for _, h := range []string{"ce-specversion", "ce-id", "ce-source", "ce-type", "ce-subject", "ce-time", "content-type"} {
		require.NotEmpty(t, m.Header.Get(h), h)
	}
	require.Equal(t, "c1", m.Header.Get("ce-id"))
	require.NotContains(t, string(m.Data), "s3cret", "hook params never travel in job messages")
	for name, values := range m.Header {
		require.NotContains(t, strings.Join(values, " "), "s3cret", name)
	}
}

func TestHookChangesTakeEffectWithoutRestart(t *testing.T) {
	e := newEnv(t)
	e.registerJob("audit", true)
	e.registerJob("sentinel", true)
	e.putHook("sentinel", "sentinel", "dcim.site", events.ActionCreate)
	r := e.startRouter(router.Options{})
	site := &events.Change{Action: events.ActionCreate, ContentType: "dcim.site", PostChange: map[string]any{"name": "DC1"}}

	// No hook yet: the change routes nothing. The router handles changes in
	// order, so once the sentinel after it is routed, it was handled.
	e.publish("before", create("d1"))
	e.publish("s1", site)
	e.jobMessages("sentinel", 1)

	rev := e.putHook("device-audit", "audit", "dcim.device", events.ActionCreate)
	require.NoError(t, r.Hooks().WaitRevision(e.ctx, rev))
	e.publish("during", create("d2"))
	require.Equal(t, "during", e.jobMessages("audit", 1)[0].ID())

	require.NoError(t, e.store.Delete(e.ctx, "device-audit", 0))
	require.Eventually(t, func() bool { return r.Hooks().Index().Len() == 1 }, 10*time.Second, time.Millisecond)
	e.publish("after", create("d3"))
	e.publish("s2", site)
	e.jobMessages("sentinel", 2)
	e.jobMessages("audit", 1) // still only "during"
}

func TestTwoHooksOnOneChangeRunTwoJobs(t *testing.T) {
	e := newEnv(t)
	e.registerJob("audit", true)
	e.registerJob("notify", true)
	e.putHook("device-audit", "audit", "dcim.device", events.ActionUpdate)
	e.putHook("device-notify", "notify", "dcim.device", events.ActionUpdate)
	r := e.startRouter(router.Options{})
	e.publish("u1", update("d1", "A1", "B2"))
	e.waitRouted(r, 1)
	require.Equal(t, "device-audit", e.jobMessages("audit", 1)[0].Hook)
	require.Equal(t, "device-notify", e.jobMessages("notify", 1)[0].Hook)
}

func TestDisabledHookOrJobRoutesNothing(t *testing.T) {
	e := newEnv(t)
	e.registerJob("audit", true)
	e.registerJob("sentinel", true)
	e.putHook("sentinel", "sentinel", "dcim.device", events.ActionCreate)
	_, err := e.store.Put(e.ctx, &hookconfig.Hook{Name: "off", Job: "audit", ContentTypes: []string{"dcim.device"}, Events: []events.Action{events.ActionCreate}}, 0)
	require.NoError(t, err)
	_, _, err = e.store.Modify(e.ctx, "off", func(h *hookconfig.Hook) error { h.Enabled = false; return nil })
	require.NoError(t, err)
	e.registerJob("paused", true)
	e.putHook("on-paused-job", "paused", "dcim.device", events.ActionCreate)
	e.registerJob("paused", false) // disabled after the hook was made

	r := e.startRouter(router.Options{})
	e.publish("c1", create("d1"))
	e.waitRouted(r, 1)
	e.jobMessages("sentinel", 1)
	e.jobMessages("audit", 0)
	e.jobMessages("paused", 0)
	require.Equal(t, uint64(1), r.Stats().SkippedJob)
	require.Contains(t, e.log.String(), "hook skipped: its job is disabled (receiver jobs enable paused)")
}

func TestLoopPreventionChangesFromJobsAreStoredNotRouted(t *testing.T) {
	e := newEnv(t)
	e.registerJob("serial-validator", true)
	e.putHook("serial-check", "serial-validator", "dcim.device", events.ActionUpdate)
	r := e.startRouter(router.Options{})

	e.publish("revert", update("d1", "bad", "A1"), func(o *events.EventOptions) {
		o.HookOrigin, o.CausationID = "serial-validator", "u1"
	})
	e.publish("u2", update("d1", "A1", "B2"))
	e.waitRouted(r, 2)
	msgs := e.jobMessages("serial-validator", 1)
	require.Equal(t, "u2", msgs[0].ID())
	require.Equal(t, uint64(1), r.Stats().SkippedLoop)

	stream, err := e.srv.JS.Stream(e.ctx, jhjs.StreamChanges)
	require.NoError(t, err)
	stored, err := stream.GetMsg(e.ctx, 1)
	require.NoError(t, err)
	require.Equal(t, "serial-validator", stored.Header.Get("ce-hookorigin"), "the job's change is kept in CHANGES")
}

func TestInvalidChangeIsDeadLetteredAndValidOnesAroundItRoute(t *testing.T) {
	e := newEnv(t)
	e.registerJob("audit", true)
	e.putHook("device-audit", "audit", "dcim.device", events.ActionCreate)
	r := e.startRouter(router.Options{})

	e.publish("c1", create("d1"))
	bad := &nats.Msg{Subject: "changes.dcim.device.create", Header: nats.Header{
		"ce-specversion": {"1.0"}, "ce-id": {"bad-1"}, "ce-source": {"cli"}, "ce-type": {"jobhooks.change.create"},
	}, Data: []byte(`{"action":"create","content_type":"dcim.device"}`)}
	_, err := e.srv.JS.PublishMsg(e.ctx, bad)
	require.NoError(t, err)
	e.publish("c2", create("d2"))
	e.waitRouted(r, 3)

	msgs := e.jobMessages("audit", 2)
	require.Equal(t, "c1", msgs[0].ID())
	require.Equal(t, "c2", msgs[1].ID())
	require.Equal(t, uint64(1), r.Stats().DeadLettered)

	stream, err := e.srv.JS.Stream(e.ctx, jhjs.StreamDeadLetter)
	require.NoError(t, err)
	dl, err := stream.GetLastMsgForSubject(e.ctx, events.DeadLetterChanges)
	require.NoError(t, err)
	require.Equal(t, "invalid change: a create needs postchange (the new object)", dl.Header.Get(events.HeaderError))
	require.Equal(t, "bad-1", dl.Header.Get("ce-id"))
	require.Equal(t, "changes.dcim.device.create", dl.Header.Get("Jobhooks-Subject"))
	require.Equal(t, bad.Data, dl.Data)
}

func TestChangesStayInOrderPerJob(t *testing.T) {
	e := newEnv(t)
	e.registerJob("audit", true)
	e.putHook("device-audit", "audit", "dcim.device", events.ActionUpdate)
	r := e.startRouter(router.Options{MaxPending: 16})
	const n = 300
	for i := range n {
		_, err := e.pub.PublishAsync(update("d1", fmt.Sprint(i), fmt.Sprint(i+1)), events.EventOptions{ID: fmt.Sprintf("u%03d", i)})
		require.NoError(t, err)
	}
	<-e.pub.PublishAsyncComplete()
	e.waitRouted(r, n)
	for i, m := range e.jobMessages("audit", n) {
		require.Equal(t, fmt.Sprintf("u%03d", i), m.ID())
	}
}

func TestCallbacksAddContext(t *testing.T) {
	e := newEnv(t)
	e.registerJob("audit", true)
	e.putHook("device-audit", "audit", "dcim.device", events.ActionCreate, events.ActionDelete)
	var callbacks router.Callbacks
	var (
		mu   sync.Mutex
		seen []router.CallbackRequest
	)
	callbacks.Register("site", func(_ context.Context, req router.CallbackRequest) (map[string]any, error) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, req)
		return map[string]any{"site": "DC1", "owner": "first"}, nil
	})
	callbacks.Register("broken", func(context.Context, router.CallbackRequest) (map[string]any, error) {
		return map[string]any{"lost": true}, errors.New("CMDB unreachable")
	})
	callbacks.Register("panicky", func(context.Context, router.CallbackRequest) (map[string]any, error) {
		panic("nil map")
	})
	callbacks.Register("owner", func(context.Context, router.CallbackRequest) (map[string]any, error) {
		return map[string]any{"owner": "second"}, nil
	})
	r := e.startRouter(router.Options{Callbacks: &callbacks})
	require.Panics(t, func() { callbacks.Register("late", nil) }, "registering after start is a programming error")

	ch := create("d1")
	ch.User, ch.RequestID = "admin", "req-1"
	e.publish("c1", ch)
	e.publish("x1", remove("d1"))
	e.waitRouted(r, 2)
	msgs := e.jobMessages("audit", 2)
	require.Equal(t, map[string]any{"site": "DC1", "owner": "second"}, msgs[0].Context, "merged in registration order, later keys win; failures skipped")
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, seen, 2)
	require.Equal(t, router.CallbackRequest{ObjectType: "dcim.device", Event: events.ActionCreate, Data: device("d1", "A1"),
		Request: router.RequestInfo{User: "admin", RequestID: "req-1", ChangeID: "c1"}}, seen[0])
	require.Equal(t, device("d1", "A1"), seen[1].Data, "a delete passes the object as it was")
	require.Contains(t, e.log.String(), "CMDB unreachable")
	require.Contains(t, e.log.String(), "panic: nil map")
}

func TestJobEnabledLaterRoutesWithoutRestart(t *testing.T) {
	e := newEnv(t)
	e.registerJob("audit", true)
	e.putHook("device-audit", "audit", "dcim.device", events.ActionCreate)
	e.registerJob("audit", false)
	r := e.startRouter(router.Options{})

	e.publish("c1", create("d1"))
	e.waitRouted(r, 1)
	require.Equal(t, uint64(1), r.Stats().SkippedJob)

	e.registerJob("audit", true)
	// The router sees the enable soon, not at once: probe until a change
	// routes. Each probe is waited for, so no time is guessed.
	for probe := 0; r.Stats().Routed == 0; probe++ {
		require.Less(t, probe, 10000, "enabling the job takes effect without a restart")
		e.publish(fmt.Sprintf("probe-%d", probe), create("d2"))
		e.waitRouted(r, uint64(probe)+2)
	}
	require.NotEqual(t, "c1", e.jobMessages("audit", 1)[0].ID(), "a change skipped while the job was disabled is not routed later")
}

// TestServerDirectivesOfAnInvalidChangeDoNotBlockTheRouter: a change
// published with a Nats-* directive (here Nats-Expected-Stream, as
// jetstream.WithExpectStream sends it) is dead-lettered without it; copied
// onto the dead letter, the directive would make every store fail and
// stop the router.
func TestServerDirectivesOfAnInvalidChangeDoNotBlockTheRouter(t *testing.T) {
	e := newEnv(t)
	e.registerJob("audit", true)
	e.putHook("device-audit", "audit", "dcim.device", events.ActionCreate)
	r := e.startRouter(router.Options{})

	bad := &nats.Msg{Subject: "changes.dcim.device.create", Header: nats.Header{
		"ce-specversion": {"1.0"}, "ce-id": {"bad-1"}, "ce-source": {"cli"}, "ce-type": {"jobhooks.change.create"},
	}, Data: []byte(`{"action":"create","content_type":"dcim.device"}`)}
	_, err := e.srv.JS.PublishMsg(e.ctx, bad, jetstream.WithExpectStream(jhjs.StreamChanges))
	require.NoError(t, err)
	e.publish("c1", create("d1"))
	e.waitRouted(r, 2)
	require.Equal(t, "c1", e.jobMessages("audit", 1)[0].ID())
	require.Equal(t, uint64(1), r.Stats().DeadLettered)
}

// TestAJobMessageTheServerRefusesDeadLettersItsChange: a job message that
// can never be stored (here over the server's maximum payload, because a
// callback added a huge context) sends its change to the dead letters with
// the reason, and the router carries on.
func TestAJobMessageTheServerRefusesDeadLettersItsChange(t *testing.T) {
	e := newEnv(t)
	e.registerJob("audit", true)
	e.putHook("device-audit", "audit", "dcim.device", events.ActionCreate)
	var callbacks router.Callbacks
	callbacks.Register("huge", func(_ context.Context, req router.CallbackRequest) (map[string]any, error) {
		if req.Request.ChangeID != "huge" {
			return nil, nil
		}
		return map[string]any{"blob": strings.Repeat("x", 2<<20)}, nil
	})
	reg := prometheus.NewRegistry()
	r := e.startRouter(router.Options{Callbacks: &callbacks, Registerer: reg})

	e.publish("huge", create("d1"))
	e.publish("c2", create("d2"))
	e.waitRouted(r, 2)
	require.Equal(t, "c2", e.jobMessages("audit", 1)[0].ID())
	stream, err := e.srv.JS.Stream(e.ctx, jhjs.StreamDeadLetter)
	require.NoError(t, err)
	dl, err := stream.GetLastMsgForSubject(e.ctx, events.DeadLetterChanges)
	require.NoError(t, err)
	require.Equal(t, "huge", dl.Header.Get("ce-id"))
	require.Contains(t, dl.Header.Get(events.HeaderError), "maximum payload exceeded")
	require.Equal(t, 1.0, metricValue(t, reg, "jobhooks_router_changes_dead_lettered_total", "reason", router.DeadLetterRefused))
	require.Equal(t, 0.0, metricValue(t, reg, "jobhooks_router_changes_dead_lettered_total", "reason", router.DeadLetterInvalid))
	require.Equal(t, 1.0, metricValue(t, reg, "jobhooks_router_changes_routed_total"))
	require.Equal(t, 1.0, metricValue(t, reg, "jobhooks_router_job_messages_published_total", "job", "audit"), "the refused one is not counted")
}

// TestStoppingAcknowledgesWhatIsStored: a router stopped while job
// messages are in flight acknowledges every change whose job message was
// stored, so a later start does not route it again (possibly after the
// duplicate window).
func TestStoppingAcknowledgesWhatIsStored(t *testing.T) {
	e := newEnv(t)
	e.registerJob("audit", true)
	e.putHook("device-audit", "audit", "dcim.device", events.ActionUpdate)
	const n = 3000
	for i := range n {
		_, err := e.pub.PublishAsync(update(fmt.Sprint(i%50), "A", fmt.Sprint(i)), events.EventOptions{ID: fmt.Sprintf("u%d", i)})
		require.NoError(t, err)
	}
	<-e.pub.PublishAsyncComplete()

	r := router.New(e.srv.JS, router.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	require.Eventually(t, func() bool { return r.Stats().Routed >= 500 }, 30*time.Second, time.Millisecond)
	cancel()
	require.NoError(t, <-done)

	jobs, err := e.srv.JS.Stream(e.ctx, jhjs.StreamJobs)
	require.NoError(t, err)
	jobsInfo, err := jobs.Info(e.ctx)
	require.NoError(t, err)
	cons, err := e.srv.JS.Consumer(e.ctx, jhjs.StreamChanges, jhjs.ConsumerRouter)
	require.NoError(t, err)
	info, err := cons.Info(e.ctx)
	require.NoError(t, err)
	t.Logf("stopped with %d job messages stored, ack floor %d", jobsInfo.State.Msgs, info.AckFloor.Stream)
	// Acks are not confirmed: the server may not have applied the last ones
	// yet when Run returns (seen on a loaded machine). Nothing is published
	// any more: wait for the floor to reach what is stored (a floor that
	// stays short fails here), then check it is exactly that.
	require.Eventually(t, func() bool {
		info, err = cons.Info(e.ctx)
		return err == nil && info.AckFloor.Stream >= jobsInfo.State.Msgs
	}, 30*time.Second, time.Millisecond, "every change whose job message is stored is acknowledged")
	require.Less(t, jobsInfo.State.Msgs, uint64(n), "stopped mid-way")
	require.Equal(t, jobsInfo.State.Msgs, info.AckFloor.Stream, "every change whose job message is stored is acknowledged, in order")
}

// TestOrderHoldsWhileTheJobsStreamRefusesMessages: while JOBS refuses new
// messages (full, with discard-new), the router retries; once it accepts
// them again, the job messages of one object are stored in the order of
// their changes, each once.
func TestOrderHoldsWhileTheJobsStreamRefusesMessages(t *testing.T) {
	e := newEnv(t)
	e.registerJob("audit", true)
	e.putHook("device-audit", "audit", "dcim.device", events.ActionUpdate)
	jobs, err := e.srv.JS.Stream(e.ctx, jhjs.StreamJobs)
	require.NoError(t, err)
	cfg := jobs.CachedInfo().Config
	full := cfg
	full.MaxMsgs, full.Discard = 40, jetstream.DiscardNew
	_, err = e.srv.JS.UpdateStream(e.ctx, full)
	require.NoError(t, err)

	const n = 300
	for i := range n {
		_, err := e.pub.PublishAsync(update("d1", fmt.Sprint(i), fmt.Sprint(i+1)), events.EventOptions{ID: fmt.Sprintf("u%03d", i)})
		require.NoError(t, err)
	}
	<-e.pub.PublishAsyncComplete()
	r := e.startRouter(router.Options{MaxPending: 16, RetryMin: time.Millisecond, RetryMax: 20 * time.Millisecond})
	// Raise the limit once the router knows and the publishes it had in
	// flight were answered (refused too): from then on, nothing may
	// overtake the refused message. (A publish in flight as the failure
	// clears may: the documented limit of the guarantee.)
	require.Eventually(t, func() bool {
		return strings.Contains(e.log.String(), "store job message failed") && e.srv.JS.PublishAsyncPending() == 0
	}, 30*time.Second, time.Millisecond, "JOBS refuses the 41st message")

	_, err = e.srv.JS.UpdateStream(e.ctx, cfg)
	require.NoError(t, err)
	e.waitRouted(r, n)
	for i, m := range e.jobMessages("audit", n) {
		require.Equal(t, fmt.Sprintf("u%03d", i), m.ID())
	}
}

// TestLostConfirmationsAreNotWaitedOutOneByOne: when the confirmations of
// the job messages in flight are lost (JOBS stores them but answers
// nothing, as when its leader goes away with them in flight), the router
// waits AckTimeout once, not once for each: the rest, overdue by then, are
// published again at once, and stored once.
func TestLostConfirmationsAreNotWaitedOutOneByOne(t *testing.T) {
	e := newEnv(t)
	e.registerJob("audit", true)
	e.putHook("device-audit", "audit", "dcim.device", events.ActionUpdate)
	jobs, err := e.srv.JS.Stream(e.ctx, jhjs.StreamJobs)
	require.NoError(t, err)
	cfg := jobs.CachedInfo().Config
	silent := cfg
	silent.NoAck = true
	_, err = e.srv.JS.UpdateStream(e.ctx, silent)
	require.NoError(t, err)

	const n = 50
	for i := range n {
		_, err := e.pub.PublishAsync(update(fmt.Sprintf("d%d", i), "A", "B"), events.EventOptions{ID: fmt.Sprintf("u%03d", i)})
		require.NoError(t, err)
	}
	<-e.pub.PublishAsyncComplete()
	timeouts := func() int { return strings.Count(e.log.String(), "no confirmation within") }
	// As the router command's handle, it forgets unanswered publishes in
	// time; without that they would stay pending in it for good.
	js, err := jetstream.New(e.srv.Conn, jetstream.WithPublishAsyncTimeout(time.Second))
	require.NoError(t, err)
	r := e.startRouterOn(js, router.Options{MaxPending: n, AckTimeout: 200 * time.Millisecond, RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond})
	// All n changes' job messages were sent at once: once the first one's
	// confirmation is overdue, all are.
	require.Eventually(t, func() bool { return timeouts() >= 1 }, 30*time.Second, time.Millisecond, "the first confirmation times out")
	before := timeouts()
	_, err = e.srv.JS.UpdateStream(e.ctx, cfg)
	require.NoError(t, err)
	e.waitRouted(r, n)
	// At most the head's publish in flight as JOBS answers again, and one
	// that timed out just before it did.
	require.LessOrEqual(t, timeouts()-before, 2, "confirmations waited for once each after JOBS answers again:\n%s", e.log.String())
	require.Len(t, e.jobMessages("audit", n), n, "each stored once")
	require.Eventually(t, func() bool { return js.PublishAsyncPending() == 0 }, 30*time.Second, time.Millisecond, "the lost confirmations are forgotten")
}

// TestStructuredChangesBecomeBinaryJobMessages: a change published in
// structured mode (the whole event JSON in the body) reaches its job as a
// binary-mode job message: ce- headers, the change data as the body.
func TestStructuredChangesBecomeBinaryJobMessages(t *testing.T) {
	e := newEnv(t)
	e.registerJob("audit", true)
	e.putHook("device-audit", "audit", "dcim.device", events.ActionCreate)
	r := e.startRouter(router.Options{})

	data := `{"action":"create","content_type":"dcim.device","object_id":"d1","postchange":{"name":"edge-d1"}}`
	body := `{"specversion":"1.0","id":"s1","source":"nautobot://prod","type":"jobhooks.change.create","datacontenttype":"application/json","data":` + data + `}`
	_, err := e.srv.JS.PublishMsg(e.ctx, &nats.Msg{Subject: "changes.dcim.device.create",
		Header: nats.Header{"content-type": {"application/cloudevents+json"}}, Data: []byte(body)})
	require.NoError(t, err)
	e.waitRouted(r, 1)

	stream, err := e.srv.JS.Stream(e.ctx, jhjs.StreamJobs)
	require.NoError(t, err)
	m, err := stream.GetLastMsgForSubject(e.ctx, "jobs.audit")
	require.NoError(t, err)
	require.Equal(t, "s1", m.Header.Get("ce-id"))
	require.Equal(t, "nautobot://prod", m.Header.Get("ce-source"))
	require.Equal(t, "application/json", m.Header.Get("content-type"))
	require.JSONEq(t, data, string(m.Data))
}

// TestRunFailsWhenItsConsumerIsDeleted: a router whose consumer disappears
// (say, `nats consumer rm CHANGES router`) stops with an error, so that its
// supervisor restarts it; it does not stop quietly as if asked to.
func TestRunFailsWhenItsConsumerIsDeleted(t *testing.T) {
	e := newEnv(t)
	r := router.New(e.srv.JS, router.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	done := make(chan error, 1)
	go func() { done <- r.Run(e.ctx) }()
	<-r.Ready()
	require.NoError(t, e.srv.JS.DeleteConsumer(e.ctx, jhjs.StreamChanges, jhjs.ConsumerRouter))
	select {
	case err := <-done:
		t.Logf("Run: %v", err)
		require.ErrorContains(t, err, "consume CHANGES")
	case <-e.ctx.Done():
		t.Fatal("the router did not notice its consumer was deleted")
	}
}

// CloudEvents identity is source + id: two sources' changes with one id
// are two job messages, and ids a header cannot tell apart ("a\nb", "a b")
// are too.
func TestDistinctChangesNeverShareAJobMessageID(t *testing.T) {
	e := newEnv(t)
	e.registerJob("audit", true)
	e.putHook("device-audit", "audit", "dcim.device", events.ActionCreate)
	r := e.startRouter(router.Options{})
	e.publish("same", create("d1"), func(o *events.EventOptions) { o.Source = "netbox://prod" })
	e.publish("same", create("d2"), func(o *events.EventOptions) { o.Source = "netbox://lab" })
	e.publish("a\nb", create("d3"))
	e.publish("a b", create("d4"))
	e.waitRouted(r, 4)
	got := e.jobMessages("audit", 4)
	objects := map[string]bool{}
	for _, m := range got {
		objects[m.Change.ObjectID] = true
	}
	require.Equal(t, map[string]bool{"d1": true, "d2": true, "d3": true, "d4": true}, objects)
}

// TestJobMessagesCarryTheChangeHeadersAsTheyArrived: a job message has the
// change's ce- headers byte for byte as they arrived, not decoded and
// encoded again. A 60 KB UTF-8 extension percent-encoded would be 180 KB,
// over JetStream's 64 KiB header limit, and the change dead-lettered.
func TestJobMessagesCarryTheChangeHeadersAsTheyArrived(t *testing.T) {
	e := newEnv(t)
	e.registerJob("audit", true)
	e.putHook("device-audit", "audit", "dcim.device", events.ActionCreate)
	r := e.startRouter(router.Options{})

	note := strings.Repeat("é", 30000) // 60,000 bytes of UTF-8
	change := &nats.Msg{Subject: "changes.dcim.device.create", Header: nats.Header{
		"ce-specversion": {"1.0"}, "ce-id": {"big-1"}, "ce-source": {"nautobot://prod"}, "ce-type": {"jobhooks.change.create"},
		"ce-subject": {"edge%2001"}, "content-type": {"application/json"}, "ce-note": {note},
		"Nats-Msg-Id": {"big-1"}, "X-Other": {"not an attribute"},
	}, Data: []byte(`{"action":"create","content_type":"dcim.device","object_id":"d1","postchange":{"name":"edge 01"}}`)}
	_, err := e.srv.JS.PublishMsg(e.ctx, change)
	require.NoError(t, err)
	e.waitRouted(r, 1)
	require.Zero(t, r.Stats().DeadLettered, "the change is routed, not dead-lettered")

	stream, err := e.srv.JS.Stream(e.ctx, jhjs.StreamJobs)
	require.NoError(t, err)
	m, err := stream.GetLastMsgForSubject(e.ctx, "jobs.audit")
	require.NoError(t, err)
	for name, values := range change.Header {
		if strings.HasPrefix(name, "ce-") || name == "content-type" {
			require.Equal(t, values, m.Header.Values(name), "%s as it arrived", name)
		}
	}
	require.Empty(t, m.Header.Get("X-Other"), "only the change's attributes")
	require.Equal(t, events.ChangeKey("nautobot://prod", "big-1")+".device-audit", m.Header.Get(nats.MsgIdHdr))
	jm, err := events.DecodeJobMessage(m.Subject, m.Header, m.Data)
	require.NoError(t, err)
	require.Equal(t, note, jm.Event.Extensions()["note"])
	require.Equal(t, "edge 01", jm.Event.Subject(), "a receiver decodes the values as the binding says")
}

// watchJS is a JetStream whose KV watches a test can end, as a closed
// connection or a deleted bucket ends them (nats.go notices a deleted
// bucket only after its ordered consumer gives up, some seconds later).
type watchJS struct {
	jetstream.JetStream
	mu       sync.Mutex
	watchers map[string][]jetstream.KeyWatcher // bucket → its watches
}

type watchKV struct {
	jetstream.KeyValue
	js *watchJS
}

func (j *watchJS) KeyValue(ctx context.Context, bucket string) (jetstream.KeyValue, error) {
	kv, err := j.JetStream.KeyValue(ctx, bucket)
	if err != nil {
		return nil, err
	}
	return &watchKV{kv, j}, nil
}

func (k *watchKV) Watch(ctx context.Context, keys string, opts ...jetstream.WatchOpt) (jetstream.KeyWatcher, error) {
	return k.record(k.KeyValue.Watch(ctx, keys, opts...))
}

func (k *watchKV) WatchAll(ctx context.Context, opts ...jetstream.WatchOpt) (jetstream.KeyWatcher, error) {
	return k.record(k.KeyValue.WatchAll(ctx, opts...))
}

func (k *watchKV) record(w jetstream.KeyWatcher, err error) (jetstream.KeyWatcher, error) {
	if err == nil {
		k.js.mu.Lock()
		defer k.js.mu.Unlock()
		k.js.watchers[k.Bucket()] = append(k.js.watchers[k.Bucket()], w)
	}
	return w, err
}

// end ends every watch of bucket.
func (j *watchJS) end(t *testing.T, bucket string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	require.NotEmpty(t, j.watchers[bucket], "the router watches %s", bucket)
	for _, w := range j.watchers[bucket] {
		require.NoError(t, w.Stop())
	}
}

// TestRunFailsWhenATableWatchEnds: once ready, a router whose hook or job
// watch ends (the connection closed, the bucket deleted) stops with an
// error, for its supervisor to restart it, instead of routing on a table
// that no longer follows its bucket.
func TestRunFailsWhenATableWatchEnds(t *testing.T) {
	for _, bucket := range []string{jhjs.BucketJobHooks, jhjs.BucketJobs} {
		t.Run(bucket, func(t *testing.T) {
			e := newEnv(t)
			js := &watchJS{JetStream: e.srv.JS, watchers: map[string][]jetstream.KeyWatcher{}}
			r := router.New(js, router.Options{Logger: slog.New(slog.NewTextHandler(e.log, nil))})
			done := make(chan error, 1)
			go func() { done <- r.Run(e.ctx) }()
			select {
			case <-r.Ready():
			case err := <-done:
				t.Fatalf("router stopped: %v", err)
			}
			js.end(t, bucket)
			select {
			case err := <-done:
				t.Logf("Run: %v", err)
				require.ErrorContains(t, err, "the watch of bucket "+bucket+" ended")
			case <-e.ctx.Done():
				t.Fatalf("the router did not notice that the watch of %s ended", bucket)
			}
		})
	}
}

// TestCallbacksOfAChangeInHandOutliveTheStop: callbacks get a context of
// their own, not Run's: a router stopped while a callback runs lets it
// finish, and the change is routed with its context.
func TestCallbacksOfAChangeInHandOutliveTheStop(t *testing.T) {
	e := newEnv(t)
	e.registerJob("audit", true)
	e.putHook("device-audit", "audit", "dcim.device", events.ActionCreate)
	entered, release := make(chan struct{}), make(chan struct{})
	var callbacks router.Callbacks
	callbacks.Register("owner", func(ctx context.Context, _ router.CallbackRequest) (map[string]any, error) {
		close(entered)
		select {
		case <-release:
		case <-ctx.Done():
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return map[string]any{"owner": "neteng"}, nil
	})
	r := router.New(e.srv.JS, router.Options{Callbacks: &callbacks, Logger: slog.New(slog.NewTextHandler(e.log, nil))})
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	e.publish("c1", create("d1"))
	<-entered
	cancel()
	close(release)
	require.NoError(t, <-done)

	msgs := e.jobMessages("audit", 1)
	require.Equal(t, map[string]any{"owner": "neteng"}, msgs[0].Context, "routed with its context")
	require.Zero(t, e.pendingChanges(), "and acknowledged")
}

// TestASlowCallbackTimesOut: each callback has CallbackTimeout; one that
// takes longer is logged and skipped (NetBox's rule for a failing
// callback), and routing goes on.
func TestASlowCallbackTimesOut(t *testing.T) {
	e := newEnv(t)
	e.registerJob("audit", true)
	e.putHook("device-audit", "audit", "dcim.device", events.ActionCreate)
	var callbacks router.Callbacks
	callbacks.Register("slow", func(ctx context.Context, _ router.CallbackRequest) (map[string]any, error) {
		<-ctx.Done() // a CMDB that never answers
		return map[string]any{"lost": true}, ctx.Err()
	})
	callbacks.Register("site", func(context.Context, router.CallbackRequest) (map[string]any, error) {
		return map[string]any{"site": "DC1"}, nil
	})
	r := e.startRouter(router.Options{Callbacks: &callbacks, CallbackTimeout: 20 * time.Millisecond})
	e.publish("c1", create("d1"))
	e.publish("c2", create("d2"))
	e.waitRouted(r, 2)
	for _, m := range e.jobMessages("audit", 2) {
		require.Equal(t, map[string]any{"site": "DC1"}, m.Context)
	}
	require.Contains(t, e.log.String(), "context callback failed; skipped")
	require.Contains(t, e.log.String(), "context deadline exceeded")
}

// TestACallbackFailingAtTheStopLeavesTheChangeForLater: a callback that
// fails while the router stops may have failed because of the stop; the
// change is not routed without its context but left for redelivery, and the
// next router routes it with its context.
func TestACallbackFailingAtTheStopLeavesTheChangeForLater(t *testing.T) {
	e := newEnv(t)
	e.registerJob("audit", true)
	e.putHook("device-audit", "audit", "dcim.device", events.ActionCreate)
	entered, release := make(chan struct{}), make(chan struct{})
	var first router.Callbacks
	first.Register("owner", func(ctx context.Context, _ router.CallbackRequest) (map[string]any, error) {
		close(entered)
		<-release
		return nil, errors.New("CMDB connection closed")
	})
	r := router.New(e.srv.JS, router.Options{Callbacks: &first, Logger: slog.New(slog.NewTextHandler(e.log, nil))})
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	e.publish("c1", create("d1"))
	<-entered
	cancel()
	close(release)
	require.NoError(t, <-done)
	e.jobMessages("audit", 0)
	require.Equal(t, uint64(1), e.pendingChanges(), "not acknowledged")

	var second router.Callbacks
	second.Register("owner", func(context.Context, router.CallbackRequest) (map[string]any, error) {
		return map[string]any{"owner": "neteng"}, nil
	})
	r = e.startRouter(router.Options{Callbacks: &second})
	e.waitRouted(r, 1)
	require.Equal(t, map[string]any{"owner": "neteng"}, e.jobMessages("audit", 1)[0].Context)
}

// stallJS refuses the async publishes of one job message, as nats.go does
// when too many publishes are outstanding, until the message after it has
// been published or it has refused it `tries` times.
type stallJS struct {
	jetstream.JetStream
	stall, next string // Nats-Msg-Id of the stalled message and of the one after it
	mu          sync.Mutex
	tries       int
	nextSent    bool
}

func (j *stallJS) PublishMsgAsync(m *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	if j.refuse(m.Header.Get(nats.MsgIdHdr)) {
		return nil, jetstream.ErrTooManyStalledMsgs
	}
	return j.JetStream.PublishMsgAsync(m, opts...)
}

func (j *stallJS) PublishMsg(ctx context.Context, m *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	if j.refuse(m.Header.Get(nats.MsgIdHdr)) {
		return nil, jetstream.ErrTooManyStalledMsgs
	}
	return j.JetStream.PublishMsg(ctx, m, opts...)
}

func (j *stallJS) refuse(id string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	switch id {
	case j.next:
		j.nextSent = true
	case j.stall:
		if !j.nextSent && j.tries > 0 {
			j.tries--
			return true
		}
	}
	return false
}

// TestOrderHoldsWhenAPublishFailsAtOnce: a job message whose publish fails
// at once (no confirmation to wait for) is published again before any
// later change's, so the job messages of one object stay in order.
func TestOrderHoldsWhenAPublishFailsAtOnce(t *testing.T) {
	e := newEnv(t)
	e.registerJob("audit", true)
	e.putHook("device-audit", "audit", "dcim.device", events.ActionUpdate)
	const n = 60
	for i := range n {
		_, err := e.pub.PublishAsync(update("d1", fmt.Sprint(i), fmt.Sprint(i+1)), events.EventOptions{ID: fmt.Sprintf("u%03d", i)})
		require.NoError(t, err)
	}
	<-e.pub.PublishAsyncComplete()
	msgID := func(i int) string {
		return events.ChangeKey("test://router", fmt.Sprintf("u%03d", i)) + ".device-audit"
	}
	js := &stallJS{JetStream: e.srv.JS, stall: msgID(10), next: msgID(11), tries: 200}
	r := e.startRouterOn(js, router.Options{MaxPending: 16, RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(e.log, nil))})
	e.waitRouted(r, n)
	for i, m := range e.jobMessages("audit", n) {
		require.Equal(t, fmt.Sprintf("u%03d", i), m.ID())
	}
}

// TestHeldChangesAreKeptAliveWhileJobsRefusesMessages: while the router
// holds changes because JOBS refuses their job messages, it sends
// in-progress acks for them, so they are not delivered again after the ack
// wait (and routed again, which past the duplicate window would store their
// job messages twice).
func TestHeldChangesAreKeptAliveWhileJobsRefusesMessages(t *testing.T) {
	e := newEnv(t)
	e.registerJob("audit", true)
	e.putHook("device-audit", "audit", "dcim.device", events.ActionUpdate)
	jobs, err := e.srv.JS.Stream(e.ctx, jhjs.StreamJobs)
	require.NoError(t, err)
	cfg := jobs.CachedInfo().Config
	full := cfg
	full.MaxMsgs, full.Discard = 5, jetstream.DiscardNew
	_, err = e.srv.JS.UpdateStream(e.ctx, full)
	require.NoError(t, err)

	// Count the in-progress acks of each change (by stream sequence).
	var mu sync.Mutex
	progress := map[string]int{}
	sub, err := e.srv.NewConn(t).Subscribe("$JS.ACK."+jhjs.StreamChanges+"."+jhjs.ConsumerRouter+".>", func(m *nats.Msg) {
		if string(m.Data) == "+WPI" {
			mu.Lock()
			defer mu.Unlock()
			progress[strings.Split(m.Subject, ".")[6]]++
		}
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	kept := func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, n := range progress {
			if n >= 4 { // the router's period is a third of the ack wait: more than an ack wait went by
				return true
			}
		}
		return false
	}
	cons := func() *jetstream.ConsumerInfo {
		c, err := e.srv.JS.Consumer(e.ctx, jhjs.StreamChanges, jhjs.ConsumerRouter)
		require.NoError(t, err)
		info, err := c.Info(e.ctx)
		require.NoError(t, err)
		return info
	}

	const n = 20
	for i := range n {
		e.publish(fmt.Sprintf("u%03d", i), update("d1", fmt.Sprint(i), fmt.Sprint(i+1)))
	}
	opts := router.Options{RetryMin: time.Millisecond, RetryMax: 20 * time.Millisecond}
	router.SetConsumerAckWait(&opts, 500*time.Millisecond)
	r := e.startRouter(opts)
	require.Eventually(t, func() bool { return kept() || cons().NumRedelivered > 0 }, 30*time.Second, time.Millisecond)
	require.Zero(t, cons().NumRedelivered, "no held change is delivered again")
	require.Equal(t, uint64(n), r.Stats().Changes, "each change received once")

	_, err = e.srv.JS.UpdateStream(e.ctx, cfg)
	require.NoError(t, err)
	e.waitRouted(r, n)
	for i, m := range e.jobMessages("audit", n) {
		require.Equal(t, fmt.Sprintf("u%03d", i), m.ID())
	}
	require.Equal(t, uint64(n), r.Stats().Changes, "each change received once")
}

// TestSlowCallbacksKeepTheirChangeAlive: callbacks that take longer in all
// than the ack wait send their change in-progress acks, so it is not
// delivered (and routed) again meanwhile.
func TestSlowCallbacksKeepTheirChangeAlive(t *testing.T) {
	e := newEnv(t)
	e.registerJob("audit", true)
	e.putHook("device-audit", "audit", "dcim.device", events.ActionCreate)
	const slow = 10 // × CallbackTimeout: more than the ack wait
	finished := make(chan struct{})
	var callbacks router.Callbacks
	for i := range slow {
		callbacks.Register(fmt.Sprint("slow-", i), func(ctx context.Context, req router.CallbackRequest) (map[string]any, error) {
			if req.Request.ChangeID != "c1" {
				return nil, nil
			}
			<-ctx.Done() // each callback takes its whole CallbackTimeout
			if i == slow-1 {
				select {
				case <-finished:
				default:
					close(finished)
				}
			}
			return nil, ctx.Err()
		})
	}
	opts := router.Options{Callbacks: &callbacks, CallbackTimeout: 150 * time.Millisecond}
	router.SetConsumerAckWait(&opts, time.Second)
	r := e.startRouter(opts)
	e.publish("c1", create("d1"))
	<-finished
	// Delivered after c1's callbacks: a redelivery of c1 would come first.
	e.publish("c2", create("d2"))
	got := e.jobMessages("audit", 2)
	require.Equal(t, "c1", got[0].ID())
	require.Equal(t, "c2", got[1].ID())
	require.Equal(t, uint64(2), r.Stats().Changes, "c1 was not delivered again")
}

// invalidChange publishes a change the router dead-letters (a create
// without postchange).
func (e *env) invalidChange(id string) *nats.Msg {
	e.t.Helper()
	bad := &nats.Msg{Subject: "changes.dcim.device.create", Header: nats.Header{
		"ce-specversion": {"1.0"}, "ce-id": {id}, "ce-source": {"cli"}, "ce-type": {"jobhooks.change.create"},
	}, Data: []byte(`{"action":"create","content_type":"dcim.device","object_id":"` + id + `"}`)}
	_, err := e.srv.JS.PublishMsg(e.ctx, bad)
	require.NoError(e.t, err)
	return bad
}

// deadLetters returns the messages on deadletter.changes.
func (e *env) deadLetters() []*jetstream.RawStreamMsg {
	e.t.Helper()
	stream, err := e.srv.JS.Stream(e.ctx, jhjs.StreamDeadLetter)
	require.NoError(e.t, err)
	info, err := stream.Info(e.ctx)
	require.NoError(e.t, err)
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := stream.GetMsg(e.ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		require.NoError(e.t, err)
		if m.Subject == events.DeadLetterChanges {
			out = append(out, m)
		}
	}
	return out
}

// TestADeadLetterOutageDoesNotStopRouting: while DEADLETTER cannot store
// anything (here: deleted), an invalid change is tried a few times and then
// released for redelivery; the changes after it are routed. Once
// DEADLETTER is back, the invalid change is dead-lettered.
func TestADeadLetterOutageDoesNotStopRouting(t *testing.T) {
	e := newEnv(t)
	e.registerJob("audit", true)
	e.putHook("device-audit", "audit", "dcim.device", events.ActionCreate)
	r := e.startRouter(router.Options{RetryMin: time.Millisecond, RetryMax: 10 * time.Millisecond})
	dlStream, err := e.srv.JS.Stream(e.ctx, jhjs.StreamDeadLetter)
	require.NoError(t, err)
	dlConfig := dlStream.CachedInfo().Config
	require.NoError(t, e.srv.JS.DeleteStream(e.ctx, jhjs.StreamDeadLetter))

	e.invalidChange("bad-1")
	e.publish("c1", create("d1"))
	e.publish("c2", create("d2"))
	got := e.jobMessages("audit", 2)
	require.Equal(t, "c1", got[0].ID())
	require.Equal(t, "c2", got[1].ID())
	require.Eventually(t, func() bool { return strings.Contains(e.log.String(), "released for redelivery") },
		30*time.Second, time.Millisecond, "the invalid change is tried a few times, then released")

	_, err = e.srv.JS.CreateStream(e.ctx, dlConfig)
	require.NoError(t, err)
	e.waitRouted(r, 3)
	require.Equal(t, uint64(1), r.Stats().DeadLettered)
	dls := e.deadLetters()
	require.Len(t, dls, 1)
	require.Equal(t, "bad-1", dls[0].Header.Get("ce-id"))
}

// noMetaJS hands the router changes whose metadata cannot be read.
type noMetaJS struct{ jetstream.JetStream }
type noMetaConsumer struct{ jetstream.Consumer }
type noMetaIter struct{ jetstream.MessagesContext }
type noMetaMsg struct{ jetstream.Msg }

func (j noMetaJS) Consumer(ctx context.Context, stream, name string) (jetstream.Consumer, error) {
	c, err := j.JetStream.Consumer(ctx, stream, name)
	if err != nil {
		return nil, err
	}
	return noMetaConsumer{c}, nil
}

func (c noMetaConsumer) Messages(opts ...jetstream.PullMessagesOpt) (jetstream.MessagesContext, error) {
	it, err := c.Consumer.Messages(opts...)
	if err != nil {
		return nil, err
	}
	return noMetaIter{it}, nil
}

func (it noMetaIter) Next(opts ...jetstream.NextOpt) (jetstream.Msg, error) {
	m, err := it.MessagesContext.Next(opts...)
	if err != nil {
		return nil, err
	}
	return noMetaMsg{m}, nil
}

func (noMetaMsg) Metadata() (*jetstream.MsgMetadata, error) { return nil, jetstream.ErrNotJSMessage }

// TestDeadLettersWithoutMetadataStayDistinct: the dead letters of two
// changes whose metadata cannot be read do not share a message id (and
// collapse into one).
func TestDeadLettersWithoutMetadataStayDistinct(t *testing.T) {
	e := newEnv(t)
	_, err := jhjs.EnsureConsumer(e.ctx, e.srv.JS, jhjs.StreamChanges, jhjs.RouterConsumerConfig())
	require.NoError(t, err)
	r := router.New(noMetaJS{e.srv.JS}, router.Options{Logger: slog.New(slog.NewTextHandler(e.log, nil))})
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	e.invalidChange("bad-1")
	e.invalidChange("bad-2")
	e.waitRouted(r, 2)
	dls := e.deadLetters()
	require.Len(t, dls, 2)
	require.NotEqual(t, dls[0].Header.Get(nats.MsgIdHdr), dls[1].Header.Get(nats.MsgIdHdr))
}

// TestAChangeTooLargeForItsDeadLetterIsStillDeadLettered: a valid change
// that fits in CHANGES but whose job message does not (the router's own
// headers push it over the maximum payload, or over JetStream's 64 KiB of
// headers) is dead-lettered; its whole dead letter would not fit either, so
// it carries the reason, the subject, the change's CHANGES sequence and the
// headers that fit, and no body. The change is found with
// `nats stream get CHANGES <seq>`.
func TestAChangeTooLargeForItsDeadLetterIsStillDeadLettered(t *testing.T) {
	for _, tc := range []struct {
		name    string
		note    bool // a ce-note header as large as CHANGES takes
		body    int  // bytes of padding in the body
		omitted string
		reason  string
	}{
		{name: "payload", body: -1, omitted: "body", reason: "maximum payload exceeded"},
		{name: "headers", note: true, omitted: "body, ce-note", reason: "header size exceeds maximum"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.registerJob("audit", true)
			e.putHook("device-audit", "audit", "dcim.device", events.ActionCreate)
			r := e.startRouter(router.Options{})

			header := nats.Header{"ce-specversion": {"1.0"}, "ce-id": {"big-1"}, "ce-source": {"nautobot://prod"},
				"ce-type": {"jobhooks.change.create"}, "content-type": {"application/json"}}
			if tc.note {
				header["ce-note"] = []string{""}
				header["ce-note"] = []string{strings.Repeat("n", events.MaxHeaderBytes-events.HeaderSize(header))}
				require.Equal(t, events.MaxHeaderBytes, events.HeaderSize(header))
			}
			body := func(pad int) []byte {
				return []byte(`{"action":"create","content_type":"dcim.device","object_id":"d1","postchange":{"name":"edge","pad":"` +
					strings.Repeat("p", pad) + `"}}`)
			}
			data := body(0)
			if tc.body < 0 { // as large as CHANGES takes
				size := func(m *nats.Msg) int { return events.HeaderSize(m.Header) + len(m.Data) }
				max := int(e.srv.Conn.MaxPayload())
				data = body(max - size(&nats.Msg{Header: header, Data: body(0)}))
				require.Equal(t, max, size(&nats.Msg{Header: header, Data: data}))
			}
			ack, err := e.srv.JS.PublishMsg(e.ctx, &nats.Msg{Subject: "changes.dcim.device.create", Header: header, Data: data})
			require.NoError(t, err)
			e.publish("c2", create("d2"))
			e.waitRouted(r, 2)
			require.Equal(t, "c2", e.jobMessages("audit", 1)[0].ID(), "routing goes on")
			require.Equal(t, uint64(1), r.Stats().DeadLettered)

			dls := e.deadLetters()
			require.Len(t, dls, 1)
			dl := dls[0]
			require.Contains(t, dl.Header.Get(events.HeaderError), tc.reason)
			require.Equal(t, "changes.dcim.device.create", dl.Header.Get(events.HeaderSubject))
			require.Equal(t, fmt.Sprint(ack.Sequence), dl.Header.Get(events.HeaderSequence))
			require.Equal(t, tc.omitted, dl.Header.Get(events.HeaderOmitted))
			require.Equal(t, "big-1", dl.Header.Get("ce-id"), "the headers that fit")
			require.Empty(t, dl.Data)

			changes, err := e.srv.JS.Stream(e.ctx, jhjs.StreamChanges)
			require.NoError(t, err)
			orig, err := changes.GetMsg(e.ctx, ack.Sequence)
			require.NoError(t, err)
			require.Equal(t, data, orig.Data, "the change is in CHANGES at that sequence")
		})
	}
}

// TestChangesAfterAReleasedOneAreReleasedToo: a change left for
// redelivery at the stop (its callbacks failed) must not be overtaken by a
// later change already in hand: that one is released with it, not routed.
func TestChangesAfterAReleasedOneAreReleasedToo(t *testing.T) {
	e := newEnv(t)
	e.registerJob("audit", true)
	e.putHook("device-audit", "audit", "dcim.device", events.ActionCreate)
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	var first router.Callbacks
	first.Register("owner", func(ctx context.Context, _ router.CallbackRequest) (map[string]any, error) {
		if calls.Add(1) > 1 {
			return map[string]any{"owner": "neteng"}, nil // the later change's callbacks succeed
		}
		close(entered)
		<-release
		return nil, errors.New("CMDB connection closed")
	})
	r := router.New(e.srv.JS, router.Options{Callbacks: &first, Logger: slog.New(slog.NewTextHandler(e.log, nil))})
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	e.publish("c1", create("d1"))
	<-entered
	e.publish("c2", create("d1"))
	cons, err := e.srv.JS.Consumer(e.ctx, jhjs.StreamChanges, jhjs.ConsumerRouter)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		info, err := cons.Info(e.ctx)
		return err == nil && info.NumAckPending == 2
	}, 30*time.Second, time.Millisecond, "the second change is in the router's hands")
	cancel()
	close(release)
	require.NoError(t, <-done)
	e.jobMessages("audit", 0)
	require.Equal(t, uint64(2), e.pendingChanges(), "neither is acknowledged")

	// Both come back. (In which order is the server's: a pull request the
	// stopped router left at the server may take the first one released
	// and hand it back after the second.)
	r = e.startRouter(router.Options{})
	e.waitRouted(r, 2)
	got := e.jobMessages("audit", 2)
	require.ElementsMatch(t, []string{"c1", "c2"}, []string{got[0].ID(), got[1].ID()})
}

// pendingJS records the most asynchronous publishes its handle had
// unconfirmed, just after each one.
type pendingJS struct {
	jetstream.JetStream
	most atomic.Int64
}

func (j *pendingJS) PublishMsgAsync(m *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	f, err := j.JetStream.PublishMsgAsync(m, opts...)
	for n, most := int64(j.JetStream.PublishAsyncPending()), j.most.Load(); n > most && !j.most.CompareAndSwap(most, n); most = j.most.Load() {
	}
	return f, err
}

// TestJobMessagesInFlightAreBounded: MaxPendingMessages bounds the job
// messages published and not yet confirmed, whatever the fan-out, so a
// change matching many hooks never runs the JetStream handle out of
// asynchronous publishes (where a publish stalls, then fails).
func TestJobMessagesInFlightAreBounded(t *testing.T) {
	e := newEnv(t)
	const hooks, n, bound = 5, 200, 12
	for i := range hooks { // one job each: hooks for one job may not overlap
		job := fmt.Sprintf("audit-%d", i)
		e.registerJob(job, true)
		e.putHook(job, job, "dcim.device", events.ActionUpdate)
	}
	for i := range n {
		_, err := e.pub.PublishAsync(update(fmt.Sprint(i%7), fmt.Sprint(i), fmt.Sprint(i+1)), events.EventOptions{ID: fmt.Sprintf("u%03d", i)})
		require.NoError(t, err)
	}
	<-e.pub.PublishAsyncComplete()
	js := &pendingJS{JetStream: e.srv.JS}
	r := e.startRouterOn(js, router.Options{MaxPendingMessages: bound, Logger: slog.New(slog.NewTextHandler(e.log, nil))})
	e.waitRouted(r, n)
	for i := range hooks {
		require.Len(t, e.jobMessages(fmt.Sprintf("audit-%d", i), n), n)
	}
	require.LessOrEqual(t, js.most.Load(), int64(bound), "job messages in flight")
}
