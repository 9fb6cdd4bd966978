package faults

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/hookconfig"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/receiver"
)

// testSource is the ce-source of the changes the tests publish.
const testSource = "test://faults"

// builtinJobs are two of cmd/receiver's jobs that complete on the changes
// these tests publish (serial-validator finds every serial valid), so every
// change runs two jobs, one hook each.
var builtinJobs = []string{"log", "serial-validator"}

func hookName(job string) string { return "h-" + job }

// provision creates the contract's streams and buckets, as the router does
// at start, so receivers can start (and register their jobs) before it.
func provision(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, err := jhjs.Provision(ctx, js, jhjs.DefaultConfig(), nil)
	require.NoError(t, err)
}

// putHooks waits until receivers have registered jobs, enabled, and stores
// one validated hook per job for dcim.device updates.
func putHooks(t *testing.T, js jetstream.JetStream, jobs ...string) {
	t.Helper()
	ctx := t.Context()
	kvJobs, err := js.KeyValue(ctx, jhjs.BucketJobs)
	require.NoError(t, err)
	kvHooks, err := js.KeyValue(ctx, jhjs.BucketJobHooks)
	require.NoError(t, err)
	registry := hookconfig.NewJobs(kvJobs)
	store := hookconfig.NewStore(kvHooks, registry)
	for _, job := range jobs {
		require.Eventually(t, func() bool {
			j, _, err := registry.Get(ctx, job)
			return err == nil && j.Enabled
		}, time.Minute, 10*time.Millisecond, "job %s registered and enabled", job)
		_, err := store.Put(ctx, &hookconfig.Hook{Name: hookName(job), Job: job, Enabled: true,
			ContentTypes: []string{"dcim.device"}, Events: []events.Action{events.ActionUpdate}}, 0)
		require.NoError(t, err)
	}
}

// changeID is the id of the i-th change a test publishes.
func changeID(i int) string { return fmt.Sprintf("chg-%05d", i) }

// testChange is the i-th change: an update of one of 100 devices, in order
// per device, with a valid serial.
func testChange(i int) *events.Change {
	return &events.Change{Action: events.ActionUpdate, ContentType: "dcim.device", ObjectID: fmt.Sprint(i % 100),
		ObjectRepr: fmt.Sprintf("edge-%d", i%100), User: "admin",
		PreChange:  map[string]any{"name": fmt.Sprintf("edge-%d", i%100), "serial": "OLD-SERIAL"},
		PostChange: map[string]any{"name": fmt.Sprintf("edge-%d", i%100), "serial": fmt.Sprintf("S-%05d", i)}}
}

// feeder publishes changes 0..n-1 one by one, each until JetStream has
// stored it: a publish that fails (server away) is sent again with the same
// id, which the duplicate window stores once.
type feeder struct {
	js        jetstream.JetStream
	n         int
	pace      time.Duration // between batches of 50; 0: as fast as it can
	published atomic.Int64  // changes acknowledged
	retries   atomic.Int64  // publishes sent again after an error
	dups      atomic.Int64  // acks saying the change was already stored
	done      chan error
}

func feed(ctx context.Context, js jetstream.JetStream, n int, pace time.Duration) *feeder {
	f := &feeder{js: js, n: n, pace: pace, done: make(chan error, 1)}
	go func() { f.done <- f.run(ctx) }()
	return f
}

func (f *feeder) run(ctx context.Context) error {
	pub := events.NewPublisher(f.js, testSource)
	for i := range f.n {
		if f.pace > 0 && i%50 == 0 && i > 0 {
			select {
			case <-time.After(f.pace):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		for {
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			ack, err := pub.Publish(pctx, testChange(i), events.EventOptions{ID: changeID(i)})
			cancel()
			if err == nil {
				if ack.Duplicate {
					f.dups.Add(1)
				}
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("change %d not stored: %w", i, err)
			}
			f.retries.Add(1)
			select { // back off while the server is away
			case <-time.After(20 * time.Millisecond):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		f.published.Add(1)
	}
	return nil
}

// wait waits until every change is stored.
func (f *feeder) wait(t *testing.T) {
	t.Helper()
	select {
	case err := <-f.done:
		require.NoError(t, err)
	case <-time.After(5 * time.Minute):
		t.Fatal("publishing did not finish")
	}
}

// streamMsgs returns how many messages stream holds; ok false while the
// server cannot say (restarting).
func streamMsgs(ctx context.Context, js jetstream.JetStream, stream string) (uint64, bool) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, false
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, false
	}
	return info.State.Msgs, true
}

// waitResults waits until job_results holds want records, all final.
func waitResults(t *testing.T, js jetstream.JetStream, want int, within time.Duration) {
	t.Helper()
	ctx := t.Context()
	kv, err := js.KeyValue(ctx, jhjs.BucketJobResults)
	require.NoError(t, err)
	results := receiver.NewResults(kv)
	eventually(t, within, 100*time.Millisecond, fmt.Sprintf("%d final job results", want), func() (bool, string) {
		n, ok := streamMsgs(ctx, js, "KV_"+jhjs.BucketJobResults)
		if !ok || n < uint64(want) {
			return false, fmt.Sprintf("%d records stored", n)
		}
		list, err := results.List(ctx, receiver.ResultFilter{})
		if err != nil {
			return false, err.Error()
		}
		final := 0
		for _, r := range list {
			if r.Status.Final() {
				final++
			}
		}
		return final >= want, fmt.Sprintf("%d records, %d final", len(list), final)
	})
}

// eventually waits until cond holds, checking every tick; when it does not
// within the time given, the test fails with what cond last said.
func eventually(t *testing.T, within, tick time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	var last atomic.Pointer[string]
	if !assert.Eventually(t, func() bool {
		ok, s := cond()
		last.Store(&s)
		return ok
	}, within, tick) {
		seen := "nothing"
		if s := last.Load(); s != nil {
			seen = *s
		}
		t.Fatalf("%s: not within %s (last seen: %s)", what, within, seen)
	}
}

// runs counts the attempts that ran (not just delivered): the receiver logs
// "Running job J (attempt N of M)" at the start of each. again says whether
// one attempt number ran twice, which the contract rules out: a delivery
// after the record is final is settled without running, and one that runs
// is a later attempt than the record counts ("never attempt 1 again").
func runs(r *receiver.Result) (n int, again bool) {
	seen := map[string]bool{}
	for _, e := range r.Logs {
		if strings.HasPrefix(e.Message, "Running job ") {
			n++
			again = again || seen[e.Message]
			seen[e.Message] = true
		}
	}
	return n, again
}

// tally is what a run produced, counted once it has settled.
type tally struct {
	changes     uint64         // messages in CHANGES
	jobMsgs     map[string]int // job → messages in JOBS
	jobChanges  map[string]int // job → distinct changes in JOBS
	results     map[string]int // hook → records
	completed   map[string]int // hook → completed records
	repeated    map[string]int // hook → records whose job ran more than once
	extraRuns   map[string]int // hook → runs beyond one per record
	sameAttempt map[string]int // hook → records with one attempt run twice
	attempts    map[int]int    // attempts → records
}

func (tl tally) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "CHANGES %d", tl.changes)
	jobs := make([]string, 0, len(tl.jobMsgs))
	for j := range tl.jobMsgs {
		jobs = append(jobs, j)
	}
	sort.Strings(jobs)
	for _, j := range jobs {
		h := hookName(j)
		fmt.Fprintf(&b, "; job %s: JOBS %d messages (%d changes), results %d (%d completed), %d ran again (%d extra runs, %d as the same attempt)",
			j, tl.jobMsgs[j], tl.jobChanges[j], tl.results[h], tl.completed[h], tl.repeated[h], tl.extraRuns[h], tl.sameAttempt[h])
	}
	fmt.Fprintf(&b, "; attempts→records %v", tl.attempts)
	return b.String()
}

// count reads CHANGES, JOBS and job_results to their ends.
func count(t *testing.T, js jetstream.JetStream, jobs ...string) tally {
	t.Helper()
	ctx := t.Context()
	tl := tally{jobMsgs: map[string]int{}, jobChanges: map[string]int{}, results: map[string]int{},
		completed: map[string]int{}, repeated: map[string]int{}, extraRuns: map[string]int{}, sameAttempt: map[string]int{},
		attempts: map[int]int{}}
	var ok bool
	tl.changes, ok = streamMsgs(ctx, js, jhjs.StreamChanges)
	require.True(t, ok)
	for _, job := range jobs {
		seen := readIDs(t, js, jhjs.StreamJobs, "jobs."+job)
		for _, n := range seen {
			tl.jobMsgs[job] += n
		}
		tl.jobChanges[job] = len(seen)
	}
	kv, err := js.KeyValue(ctx, jhjs.BucketJobResults)
	require.NoError(t, err)
	list, err := receiver.NewResults(kv).List(ctx, receiver.ResultFilter{})
	require.NoError(t, err)
	for _, r := range list {
		tl.results[r.Hook]++
		if r.Status == receiver.StatusCompleted {
			tl.completed[r.Hook]++
		}
		n, again := runs(r)
		if again {
			if tl.sameAttempt[r.Hook] == 0 {
				t.Logf("%s ran one attempt twice: %+v", r.Key(), r.Logs)
			}
			tl.sameAttempt[r.Hook]++
		}
		if n > 1 {
			tl.repeated[r.Hook]++
			tl.extraRuns[r.Hook] += n - 1
		}
		tl.attempts[r.Attempts]++
	}
	return tl
}

// readIDs reads every message on subject of stream and counts them by
// ce-id, so a message stored twice is counted twice. It reads until the
// consumer has nothing pending: a fetch that comes back empty (a slow
// server) is no end.
func readIDs(t *testing.T, js jetstream.JetStream, stream, subject string) map[string]int {
	t.Helper()
	cons, err := js.OrderedConsumer(t.Context(), stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	require.NoError(t, err)
	seen := map[string]int{}
	info, err := cons.Info(t.Context())
	require.NoError(t, err)
	if info.NumPending == 0 {
		return seen
	}
	deadline := time.Now().Add(time.Minute)
	for read := 0; ; {
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(time.Second))
		require.NoError(t, err)
		for m := range batch.Messages() {
			seen[events.HeaderValue(m.Headers(), "ce-id")]++
			read++
			meta, err := m.Metadata()
			require.NoError(t, err)
			if meta.NumPending == 0 {
				return seen
			}
		}
		require.True(t, time.Now().Before(deadline), "reading %s of %s: %d messages read in a minute, more pending", subject, stream, read)
	}
}

// assertExactlyOnce checks a settled run of n changes through jobs: every
// change stored once, one job message per change and job, one completed
// record each; and that jobs ran again at most maxRepeats times per job,
// the at-least-once repeats the faults may cause.
func assertExactlyOnce(t *testing.T, tl tally, n, maxRepeats int, jobs ...string) {
	t.Helper()
	assert.Equal(t, uint64(n), tl.changes, "every change stored once in CHANGES")
	for _, job := range jobs {
		h := hookName(job)
		assert.Equal(t, n, tl.jobChanges[job], "every change reached job %s", job)
		assert.Equal(t, n, tl.jobMsgs[job], "no change stored twice for job %s (Nats-Msg-Id de-duplication)", job)
		assert.Equal(t, n, tl.results[h], "one result per change for hook %s", h)
		assert.Equal(t, n, tl.completed[h], "every result of hook %s completed", h)
		assert.Zero(t, tl.sameAttempt[h], "no attempt of hook %s ran twice (a delivery after its final record is settled without running)", h)
		assert.LessOrEqual(t, tl.extraRuns[h], maxRepeats,
			"job %s ran again only for messages in flight when a fault hit", job)
	}
}

// waitConsumersIdle waits until the router's and each job's consumer have
// nothing pending or unacknowledged.
func waitConsumersIdle(t *testing.T, js jetstream.JetStream, within time.Duration, jobs ...string) {
	t.Helper()
	ctx := t.Context()
	type consumer struct{ stream, name string }
	all := []consumer{{jhjs.StreamChanges, jhjs.ConsumerRouter}}
	for _, job := range jobs {
		all = append(all, consumer{jhjs.StreamJobs, jhjs.ReceiverConsumer(job)})
	}
	for _, c := range all {
		eventually(t, within, 50*time.Millisecond, "consumer "+c.name+" settles", func() (bool, string) {
			cons, err := js.Consumer(ctx, c.stream, c.name)
			if err != nil {
				return false, err.Error()
			}
			info, err := cons.Info(ctx)
			if err != nil {
				return false, err.Error()
			}
			return info.NumPending == 0 && info.NumAckPending == 0,
				fmt.Sprintf("pending %d, ack pending %d", info.NumPending, info.NumAckPending)
		})
	}
}
