package receiver_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
	"github.com/jobhooks/jobhooks/receiver"
)

// waitFor is how long a test waits for a condition before failing; the
// tests never rely on it passing quickly.
const waitFor = 20 * time.Second

// env is a test's JetStream server with the contract's streams and buckets.
type env struct {
	*jstest.Server
	t       *testing.T
	jobs    jetstream.KeyValue
	hooks   jetstream.KeyValue
	results *receiver.Results
}

func newEnv(t *testing.T) *env {
	t.Helper()
	s := jstest.StartProvisioned(t)
	return &env{Server: s, t: t, jobs: s.KV(t, jhjs.BucketJobs), hooks: s.KV(t, jhjs.BucketJobHooks),
		results: receiver.NewResults(s.KV(t, jhjs.BucketJobResults))}
}

// testOptions are fast settings: three attempts 10ms apart.
func testOptions(t *testing.T) receiver.Options {
	return receiver.Options{
		Concurrency: 4,
		Consumer: jhjs.ReceiverConsumerOptions{
			MaxDeliver: 3,
			BackOff:    []time.Duration{10 * time.Millisecond},
			AckWait:    5 * time.Second,
		},
		Timeout:      time.Minute,
		DrainTimeout: time.Minute,
		EnableNew:    true,
		Logger:       testLogger(t),
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// running is a Runner started by start.
type running struct {
	*receiver.Runner
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returns
	err    error         // what Run returned
}

// stop cancels the runner and returns what Run returned.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
		return r.err
	case <-time.After(waitFor):
		t.Fatal("Run did not return after its context ended")
		return nil
	}
}

// start runs a Runner until the test ends and waits until it is ready.
func (e *env) start(reg *receiver.Registry, opts receiver.Options) *running {
	return e.startOn(e.JS, reg, opts)
}

func (e *env) startOn(js jetstream.JetStream, reg *receiver.Registry, opts receiver.Options) *running {
	t := e.t
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Runner: receiver.NewRunner(js, reg, opts), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = r.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	select {
	case <-r.Ready():
	case <-r.done:
		t.Fatalf("Run returned before it was ready: %v", r.err)
	case <-time.After(waitFor):
		t.Fatal("runner not ready")
	}
	return r
}

func device(id, serial string) map[string]any {
	return map[string]any{"name": "edge-" + id, "serial": serial}
}

// change returns a dcim.device change of object id.
func change(action events.Action, id string, pre, post map[string]any) *events.Change {
	return &events.Change{
		Action: action, ContentType: "dcim.device", ObjectID: id, ObjectRepr: "edge-" + id,
		User: "admin", PreChange: pre, PostChange: post,
	}
}

// publishJob stores the job message of change ch (id changeID) for hook on
// job, as the router would.
func (e *env) publishJob(hook, job, changeID string, ch *events.Change, context map[string]any) {
	t := e.t
	t.Helper()
	ev, err := events.NewEvent(ch, events.EventOptions{ID: changeID, Source: "test://nautobot"})
	require.NoError(t, err)
	msg, err := events.NewJobMsg(&events.ChangeEvent{Event: *ev, Change: *ch}, hook, job, context)
	require.NoError(t, err)
	_, err = e.JS.PublishMsg(t.Context(), msg)
	require.NoError(t, err)
}

// putHook stores a hook config straight into job_hooks.
func (e *env) putHook(name, job string, params map[string]any) {
	t := e.t
	t.Helper()
	data, err := json.Marshal(map[string]any{
		"name": name, "content_types": []string{"dcim.device"}, "job": job,
		"enabled": true, "events": []string{"create", "update", "delete"}, "params": params,
	})
	require.NoError(t, err)
	_, err = e.hooks.Put(t.Context(), name, data)
	require.NoError(t, err)
}

// waitResult waits until the result of hook for changeID is final (or has
// status want, when given) and returns it.
func (e *env) waitResult(hook, changeID string, want ...receiver.Status) *receiver.Result {
	t := e.t
	t.Helper()
	var res *receiver.Result
	require.Eventually(t, func() bool {
		r, err := e.results.Get(t.Context(), receiver.ResultKey(hook, events.ChangeKey("test://nautobot", changeID)))
		if err != nil {
			return false
		}
		res = r
		if len(want) > 0 {
			return r.Status == want[0]
		}
		return r.Status.Final()
	}, waitFor, 5*time.Millisecond, "result of %s/%s (last seen: %+v)", hook, changeID, res)
	return res
}

func (e *env) consumerInfo(job string) *jetstream.ConsumerInfo {
	t := e.t
	t.Helper()
	cons, err := e.JS.Consumer(t.Context(), jhjs.StreamJobs, jhjs.ReceiverConsumer(job))
	require.NoError(t, err)
	info, err := cons.Info(t.Context())
	require.NoError(t, err)
	return info
}

// waitSettled waits until the job's consumer has nothing pending or in
// flight.
func (e *env) waitSettled(job string) *jetstream.ConsumerInfo {
	e.t.Helper()
	var info *jetstream.ConsumerInfo
	require.Eventually(e.t, func() bool {
		info = e.consumerInfo(job)
		return info.NumPending == 0 && info.NumAckPending == 0
	}, waitFor, 5*time.Millisecond)
	return info
}

func (e *env) deadLetters(job string) []*receiver.DeadLetter {
	e.t.Helper()
	dls, err := receiver.NewDeadLetters(e.JS).List(e.t.Context(), job)
	require.NoError(e.t, err)
	return dls
}

func messages(res *receiver.Result) []string {
	var out []string
	for _, l := range res.Logs {
		out = append(out, string(l.Level)+": "+strings.SplitN(l.Message, "\n", 2)[0])
	}
	return out
}

// assertNoLeaks checks that no goroutine of the receiver package, of the
// hook watcher (hookconfig, jetstream's Follow), and no pull iterator, is
// left.
func assertNoLeaks(t *testing.T) {
	t.Helper()
	var leaked string
	require.Eventually(t, func() bool {
		leaked = leakedGoroutines()
		return leaked == ""
	}, waitFor, 10*time.Millisecond, "goroutines left:\n%s", leaked)
}

// leakedGoroutines returns the stacks of the goroutines assertNoLeaks
// looks for.
func leakedGoroutines() string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var leaked string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "testing.tRunner(") {
			continue // a test, e.g. one of the package's own waiting in t.Parallel
		}
		for _, marker := range []string{"jobhooks/jobhooks/receiver.", "jobhooks/jobhooks/hookconfig.",
			"jobhooks/jobhooks/jetstream.", "jetstream.(*pullSubscription)"} {
			if strings.Contains(g, marker) {
				leaked += g + "\n\n"
				break
			}
		}
	}
	return leaked
}

var errBoom = errors.New("boom")

// watchAcks returns the acknowledgements the job's receivers send (their
// subject and body: "+ACK", "-NAK", "+WPI", …), as the server sees them.
func (e *env) watchAcks(job string) <-chan *nats.Msg {
	e.t.Helper()
	acks := make(chan *nats.Msg, 1000)
	sub, err := e.Conn.ChanSubscribe("$JS.ACK."+jhjs.StreamJobs+"."+jhjs.ReceiverConsumer(job)+".>", acks)
	require.NoError(e.t, err)
	e.t.Cleanup(func() { _ = sub.Unsubscribe() })
	return acks
}

// nextAck returns the next acknowledgement with body kind.
func nextAck(t *testing.T, acks <-chan *nats.Msg, kind string) *nats.Msg {
	t.Helper()
	timeout := time.After(waitFor)
	for {
		select {
		case m := <-acks:
			if string(m.Data) == kind {
				return m
			}
		case <-timeout:
			t.Fatalf("no %s", kind)
			return nil
		}
	}
}
