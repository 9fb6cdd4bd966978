package e2e_test

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/hookconfig"
	"github.com/jobhooks/jobhooks/internal/natstest"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/receiver"
	"github.com/jobhooks/jobhooks/router"
)

// clusterChanges is how many changes the cluster tests publish; more, e.g.
// -cluster-changes 20000, for a long local run.
var clusterChanges = flag.Int("cluster-changes", 2000, "changes the cluster tests publish")

// clusterJobs are the jobs of the cluster tests, each with one hook
// "<job>-updates" on device updates.
var clusterJobs = []string{"audit", "sync"}

const (
	clusterSource  = "test://cluster"
	clusterObjects = 50 // devices the changes are about
)

// clusterRun is one run of a job, as the job saw it.
type clusterRun struct {
	job, id, object string
	attempt         int
	node            int // of the runner that ran it
}

// runLog records every run of every runner of a test.
type runLog struct {
	mu   sync.Mutex
	runs []clusterRun
	seen map[string]bool // job + " " + id: ran at least once
}

func (l *runLog) add(r clusterRun) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.runs = append(l.runs, r)
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	l.seen[r.job+" "+r.id] = true
}

func (l *runLog) distinct() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.seen)
}

func (l *runLog) snapshot() []clusterRun {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.runs)
}

// clusterPipeline is jobhooks on a 3-node JetStream cluster, everything R3:
// routers and runners are added on the nodes a test chooses.
type clusterPipeline struct {
	t       *testing.T
	ctx     context.Context
	c       *natstest.Cluster
	js      jetstream.JetStream // on node 0, for the test itself
	store   *hookconfig.Store
	results *receiver.Results
	runs    runLog
	logger  *slog.Logger
	routers []*router.Router
}

func newClusterPipeline(t *testing.T) *clusterPipeline {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	c := natstest.StartCluster(t, natstest.ClusterOptions{})
	p := &clusterPipeline{t: t, ctx: ctx, c: c, js: c.JetStream(0),
		logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	cfg := jhjs.DefaultConfig()
	cfg.Replicas = 3
	_, err := jhjs.Provision(ctx, p.js, cfg, p.logger)
	require.NoError(t, err)
	kv := func(b string) jetstream.KeyValue {
		kv, err := p.js.KeyValue(ctx, b)
		require.NoError(t, err)
		return kv
	}
	p.results = receiver.NewResults(kv(jhjs.BucketJobResults))
	p.store = hookconfig.NewStore(kv(jhjs.BucketJobHooks), hookconfig.NewJobs(kv(jhjs.BucketJobs)))
	return p
}

// putHooks stores the hooks of the cluster jobs, once a runner registered
// them.
func (p *clusterPipeline) putHooks() {
	p.t.Helper()
	for _, job := range clusterJobs {
		_, err := p.store.Put(p.ctx, hook(job+"-updates", job, events.ActionUpdate), 0)
		require.NoError(p.t, err)
	}
}

// addRunner starts a runner of every cluster job connected to node.
func (p *clusterPipeline) addRunner(node int) {
	p.t.Helper()
	reg := receiver.NewRegistry()
	for _, job := range clusterJobs {
		reg.HandleFunc(job, receiver.JobInfo{}, func(_ context.Context, j *receiver.Job, ch *receiver.Change, _ events.Action, _ map[string]any) error {
			p.runs.add(clusterRun{job: j.Name(), id: ch.ID, object: ch.ObjectID, attempt: j.Attempt(), node: node})
			return nil
		})
	}
	r := receiver.NewRunner(p.c.JetStream(node), reg, receiver.Options{EnableNew: true, Logger: p.logger,
		Consumer: jhjs.ReceiverConsumerOptions{BackOff: []time.Duration{10 * time.Millisecond}}})
	p.run("runner on node "+strconv.Itoa(node), r.Run)
	select {
	case <-r.Ready():
	case <-p.ctx.Done():
		p.t.Fatal("runner not ready")
	}
}

// addRouter starts a router connected to node.
func (p *clusterPipeline) addRouter(node int) {
	p.t.Helper()
	// A job message a stopped node never confirmed is published again in
	// seconds, not the default 10.
	js, err := jetstream.New(p.c.Connect(node), jetstream.WithPublishAsyncTimeout(time.Minute)) // as the router command's
	require.NoError(p.t, err)
	r := router.New(js, router.Options{Logger: p.logger, AckTimeout: 2 * time.Second})
	p.routers = append(p.routers, r)
	p.run("router on node "+strconv.Itoa(node), r.Run)
	select {
	case <-r.Ready():
	case <-p.ctx.Done():
		p.t.Fatal("router not ready")
	}
}

// run runs fn until the test ends, and checks it then returns nil.
func (p *clusterPipeline) run(what string, fn func(context.Context) error) {
	ctx, cancel := context.WithCancel(p.ctx)
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	p.t.Cleanup(func() {
		cancel()
		require.NoError(p.t, <-done, what)
	})
}

// clusterChange is the i-th change of a test: an update of device d<i mod
// objects>, its serial the device's change count so far.
func clusterChange(i int) (id string, ch *events.Change) {
	obj := fmt.Sprintf("d%02d", i%clusterObjects)
	serial := strconv.Itoa(i / clusterObjects)
	return fmt.Sprintf("u%06d", i), &events.Change{Action: events.ActionUpdate, ContentType: "dcim.device", ObjectID: obj,
		PreChange: map[string]any{"name": obj}, PostChange: map[string]any{"name": obj, "serial": serial}}
}

// publish publishes changes [from, to) through pub, up to a window at a
// time, until each is stored: through a stopped leader's election a publish
// may fail or go unconfirmed, and its Nats-Msg-Id makes publishing it again
// safe. It returns how many publishes were repeated. A repeated change may
// land behind later ones: the order is CHANGES's (changesOrder), not i's.
func (p *clusterPipeline) publish(pub *events.Publisher, from, to int) (repeats int) {
	p.t.Helper()
	const window = 100
	for start := from; start < to; start += window {
		type sent struct {
			i   int
			ack jetstream.PubAckFuture
		}
		var batch []sent
		for i := start; i < min(start+window, to); i++ {
			id, ch := clusterChange(i)
			ack, err := pub.PublishAsync(ch, events.EventOptions{ID: id})
			if err != nil {
				batch = append(batch, sent{i: i})
				continue
			}
			batch = append(batch, sent{i, ack})
		}
		for _, s := range batch {
			if s.ack != nil {
				select {
				case <-s.ack.Ok():
					continue
				case <-s.ack.Err():
				case <-time.After(5 * time.Second):
				case <-p.ctx.Done():
					p.t.Fatalf("publish: %v", p.ctx.Err())
				}
			}
			repeats++
			p.publishOne(pub, s.i)
		}
	}
	return repeats
}

// publishOne publishes change i until it is stored.
func (p *clusterPipeline) publishOne(pub *events.Publisher, i int) {
	p.t.Helper()
	id, ch := clusterChange(i)
	for {
		ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
		_, err := pub.Publish(ctx, ch, events.EventOptions{ID: id})
		cancel()
		if err == nil {
			return
		}
		require.NoError(p.t, p.ctx.Err(), "publish %s: %v", id, err)
	}
}

// settled waits until every job ran every change at least once and the
// router's and receivers' consumers have nothing pending or unacknowledged.
func (p *clusterPipeline) settled(changes int) {
	p.t.Helper()
	want := changes * len(clusterJobs)
	consumers := map[string]string{jhjs.ConsumerRouter: jhjs.StreamChanges}
	for _, job := range clusterJobs {
		consumers[jhjs.ReceiverConsumer(job)] = jhjs.StreamJobs
	}
	require.Eventually(p.t, func() bool {
		if p.runs.distinct() < want {
			return false
		}
		for name, stream := range consumers {
			cons, err := p.js.Consumer(p.ctx, stream, name)
			if err != nil {
				return false
			}
			info, err := cons.Info(p.ctx)
			if err != nil || info.NumPending != 0 || info.NumAckPending != 0 {
				return false
			}
		}
		return true
	}, 3*time.Minute, 20*time.Millisecond, "every change run by every job and every consumer settled (%d of %d runs seen)", p.runs.distinct(), want)
}

// checkOnce checks that every job ran every change, that every result is
// completed, that nothing was dead-lettered, and that a change ran more than
// once only as the documented at-least-once repeat: a redelivery (attempt
// 2 or more) of a message whose first run's ack or record was lost. It
// returns the repeats.
func (p *clusterPipeline) checkOnce(changes int) (repeats int) {
	p.t.Helper()
	byRun := map[string][]clusterRun{}
	for _, r := range p.runs.snapshot() {
		byRun[r.job+" "+r.id] = append(byRun[r.job+" "+r.id], r)
	}
	for i := range changes {
		id, _ := clusterChange(i)
		for _, job := range clusterJobs {
			runs := byRun[job+" "+id]
			require.NotEmpty(p.t, runs, "%s ran %s", job, id)
			firsts := 0
			for _, r := range runs {
				if r.attempt == 1 {
					firsts++
				}
			}
			require.LessOrEqual(p.t, firsts, 1, "%s ran %s as a first attempt more than once: %+v", job, id, runs)
			repeats += len(runs) - 1
		}
	}
	results, err := p.results.List(p.ctx, receiver.ResultFilter{})
	require.NoError(p.t, err)
	require.Len(p.t, results, changes*len(clusterJobs), "one result per change and job")
	for _, r := range results {
		require.Equal(p.t, receiver.StatusCompleted, r.Status, "%s of %s", r.Hook, r.ChangeID)
	}
	for _, stream := range []string{jhjs.StreamJobs, jhjs.StreamDeadLetter} {
		s, err := p.js.Stream(p.ctx, stream)
		require.NoError(p.t, err)
		want := uint64(0)
		if stream == jhjs.StreamJobs {
			want = uint64(changes * len(clusterJobs))
		}
		require.Equal(p.t, want, s.CachedInfo().State.Msgs, "messages in %s", stream)
	}
	return repeats
}

// jobOrder returns the change ids of jobs.<job> in their JOBS order.
func (p *clusterPipeline) jobOrder(job string, n int) []string {
	p.t.Helper()
	return p.order(jhjs.StreamJobs, "jobs."+job, n)
}

// changesOrder returns the change ids in their CHANGES order.
func (p *clusterPipeline) changesOrder(n int) []string {
	p.t.Helper()
	return p.order(jhjs.StreamChanges, "changes.>", n)
}

// order reads the ce-id of the n messages on subject in stream, in stream
// order. A read that fails (a JetStream API request unanswered while the
// loaded machine re-elects a leader) is started again.
func (p *clusterPipeline) order(stream, subject string, n int) []string {
	p.t.Helper()
	var ids []string
	var lastErr error
	require.Eventually(p.t, func() bool {
		ids, lastErr = p.readOrder(stream, subject, n)
		return lastErr == nil
	}, time.Minute, 100*time.Millisecond, "read %s of %s: %v", subject, stream, lastErr)
	return ids
}

func (p *clusterPipeline) readOrder(stream, subject string, n int) ([]string, error) {
	cons, err := p.js.OrderedConsumer(p.ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		return nil, err
	}
	var ids []string
	for len(ids) < n {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return nil, err
		}
		got := 0
		for m := range batch.Messages() {
			ids = append(ids, m.Headers().Get("ce-id"))
			got++
		}
		if err := batch.Error(); err != nil {
			return nil, err
		}
		if got == 0 {
			return nil, fmt.Errorf("%s has %d messages on %s, want %d", stream, len(ids), subject, n)
		}
	}
	return ids, nil
}

// inversions counts the job messages in ids stored ahead of an earlier
// change (in CHANGES order) to the same object.
func inversions(ids, changes []string) int {
	position := map[string]int{}
	for i, id := range changes {
		position[id] = i
	}
	last := map[int]int{} // object: the CHANGES position of its latest job message
	n := 0
	for _, id := range ids {
		i, _ := strconv.Atoi(id[1:])
		if prev, ok := last[i%clusterObjects]; ok && prev > position[id] {
			n++
		}
		last[i%clusterObjects] = position[id]
	}
	return n
}

// TestClusterOneRouterKeepsOrder: with one router, the job messages of each
// job are in JOBS in the order of their changes in CHANGES, and with one
// receiver process per job every object's changes run in that order.
func TestClusterOneRouterKeepsOrder(t *testing.T) {
	p := newClusterPipeline(t)
	p.addRunner(2)
	p.putHooks()
	p.addRouter(1)
	n := *clusterChanges
	start := time.Now()
	p.publish(events.NewPublisher(p.c.JetStream(0), clusterSource), 0, n)
	published := time.Since(start)
	p.settled(n)
	t.Logf("%d changes published in %s, %d runs done in %s", n, published.Round(time.Millisecond), n*len(clusterJobs), time.Since(start).Round(time.Millisecond))
	require.Zero(t, p.checkOnce(n), "no repeats without a fault")

	order := p.changesOrder(n)
	for _, job := range clusterJobs {
		require.Equal(t, order, p.jobOrder(job, n), "jobs.%s is in CHANGES order", job)
	}
	position := map[string]int{}
	for i, id := range order {
		position[id] = i
	}
	last := map[string]int{} // job and object: the CHANGES position of its latest run
	for _, r := range p.runs.snapshot() {
		k := r.job + " " + r.object
		if prev, ok := last[k]; ok {
			require.Greater(t, position[r.id], prev, "%s ran the changes of %s in CHANGES order", r.job, r.object)
		}
		last[k] = position[r.id]
	}
}

// TestClusterScaleOut: two routers and two receiver processes per job,
// each on its own node, share the work; every change runs exactly once per
// job. Order is not kept (see docs/jetstream.md): the inversions are
// counted, not asserted.
func TestClusterScaleOut(t *testing.T) {
	p := newClusterPipeline(t)
	p.addRunner(1)
	p.addRunner(2)
	p.putHooks()
	p.addRouter(0)
	p.addRouter(1)
	n := *clusterChanges
	start := time.Now()
	p.publish(events.NewPublisher(p.c.JetStream(2), clusterSource), 0, n)
	published := time.Since(start)
	p.settled(n)
	t.Logf("%d changes published in %s, %d runs done in %s", n, published.Round(time.Millisecond), n*len(clusterJobs), time.Since(start).Round(time.Millisecond))
	require.Zero(t, p.checkOnce(n), "no repeats without a fault")

	for i, r := range p.routers {
		require.Positive(t, r.Stats().Changes, "router %d took changes", i)
	}
	perRunner := map[int]int{}
	for _, r := range p.runs.snapshot() {
		perRunner[r.node]++
	}
	require.Len(t, perRunner, 2)
	for runner, runs := range perRunner {
		require.Positive(t, runs, "the runner on node %d took work", runner)
	}
	order := p.changesOrder(n)
	for _, job := range clusterJobs {
		t.Logf("jobs.%s: %d of %d job messages stored ahead of an earlier change to their object (two routers)", job, inversions(p.jobOrder(job, n), order), n)
	}
	t.Logf("changes per router: %d, %d; runs per runner: %v", p.routers[0].Stats().Changes, p.routers[1].Stats().Changes, perRunner)
}

// TestClusterStreamLeaderStops: two routers and two runners; the node
// leading CHANGES, JOBS and job_results is stopped a third of the way
// through and started again at two thirds. Nothing is lost, and a change
// runs twice only as a redelivery.
func TestClusterStreamLeaderStops(t *testing.T) {
	p := newClusterPipeline(t)
	leader := p.c.StreamLeader(jhjs.StreamChanges)
	p.c.MoveStreamLeader(jhjs.StreamJobs, leader)
	p.c.MoveStreamLeader("KV_"+jhjs.BucketJobResults, leader)
	others := []int{}
	for i := range p.c.Nodes() {
		if i != leader {
			others = append(others, i)
		}
	}
	// One router and one runner on the node that stops; the publisher and
	// the others on the nodes that stay.
	p.addRunner(leader)
	p.addRunner(others[1])
	p.putHooks()
	p.addRouter(leader)
	p.addRouter(others[0])
	pub := events.NewPublisher(p.c.JetStream(others[0]), clusterSource)
	n := *clusterChanges
	start := time.Now()

	repeats := p.publish(pub, 0, n/3)
	var led []string
	for _, s := range []string{jhjs.StreamChanges, jhjs.StreamJobs, "KV_" + jhjs.BucketJobResults, "KV_" + jhjs.BucketJobHooks} {
		if p.c.StreamLeader(s) == leader {
			led = append(led, s)
		}
	}
	t.Logf("stopping node %s, leader of %v", p.c.Nodes()[leader].Name, led)
	since := func() time.Duration { return time.Since(start).Round(time.Millisecond) }
	p.c.Stop(leader)
	require.NotEqual(t, leader, p.c.StreamLeader(jhjs.StreamChanges), "CHANGES has a new leader")
	t.Logf("%s: node stopped, CHANGES led by %s", since(), p.c.Nodes()[p.c.StreamLeader(jhjs.StreamChanges)].Name)
	repeats += p.publish(pub, n/3, 2*n/3)
	t.Logf("%s: %d changes published, restarting the node", since(), 2*n/3)
	p.c.Restart(leader)
	t.Logf("%s: node back, cluster ready", since())
	repeats += p.publish(pub, 2*n/3, n)
	t.Logf("%s: all published", since())
	p.settled(n)
	runRepeats := p.checkOnce(n)
	t.Logf("%d changes, %d runs in %s with node %s stopped and restarted: %d publishes repeated, %d runs repeated (redeliveries)",
		n, n*len(clusterJobs), time.Since(start).Round(time.Millisecond), p.c.Nodes()[leader].Name, repeats, runRepeats)
	changes := uint64(0)
	for _, r := range p.routers {
		changes += r.Stats().Changes
	}
	t.Logf("changes received by the routers: %d (%d redelivered)", changes, changes-uint64(n))
	require.GreaterOrEqual(t, changes, uint64(n))
}
