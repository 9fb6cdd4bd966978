package faults

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/hookconfig"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
	"github.com/jobhooks/jobhooks/receiver"
)

// endpoint is a webhook endpoint that takes a little time per delivery
// and counts the deliveries of each change, by the serial in its body.
type endpoint struct {
	mu         sync.Mutex
	deliveries map[string]int
}

func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Data struct {
			Serial string `json:"serial"`
		} `json:"data"`
	}
	data, err := io.ReadAll(r.Body)
	if err == nil {
		err = json.Unmarshal(data, &body)
	}
	if err != nil || body.Data.Serial == "" {
		http.Error(w, "no serial in the body", http.StatusBadRequest)
		return
	}
	e.mu.Lock()
	e.deliveries[body.Data.Serial]++
	e.mu.Unlock()
	time.Sleep(20 * time.Millisecond) // the endpoint's work: keeps jobs in flight
	w.WriteHeader(http.StatusNoContent)
}

func (e *endpoint) count() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]int, len(e.deliveries))
	for k, v := range e.deliveries {
		out[k] = v
	}
	return out
}

var attemptRE = regexp.MustCompile(`^Running job \S+ \(attempt (\d+) of \d+\)$`)

// attemptsRun returns the attempt numbers that ran, in the record's order.
func attemptsRun(r *receiver.Result) []int {
	var out []int
	for _, e := range r.Logs {
		if m := attemptRE.FindStringSubmatch(e.Message); m != nil {
			n, _ := strconv.Atoi(m[1])
			out = append(out, n)
		}
	}
	return out
}

// TestPausedReceiver SIGSTOPs one of two receiver processes of the webhook
// job while it holds job messages, for longer than the ack wait: the server
// redelivers them to the other receiver, which completes everything. Then
// the paused receiver is resumed (SIGCONT) with its stale deliveries, and
// stopped with SIGTERM once it has dealt with each of them. Every change
// then has one completed result (none stuck running, none final status
// lost); its attempts count every attempt that ran, each attempt in its log
// once; and every delivery the endpoint saw is an attempt in the record. A
// change is delivered to the endpoint more than once only if the paused
// receiver was running it when it stopped (at most its concurrency): what
// it held but had not started went without heartbeats past the ack wait, so
// its attempt reads the record first and finds it settled by the other
// receiver.
func TestPausedReceiver(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the receiver binary")
	}
	const (
		job         = "webhook"
		concurrency = 4
		prefetch    = 8
	)
	n := sized(400, 3000)
	_, receiverBin := bins.get(t)
	srv := jstest.StartProvisioned(t)
	ep := &endpoint{deliveries: map[string]int{}}
	hs := httptest.NewServer(ep)
	t.Cleanup(hs.Close)

	args := []string{"--nats-url", srv.URL, "--jobs", job, "--enable", "--concurrency", fmt.Sprint(concurrency), "--prefetch", fmt.Sprint(prefetch),
		"--ack-wait", "3s", "--backoff", "100ms"}
	// The paused receiver logs at info: how it deals with each stale
	// delivery (see dealtWith).
	paused := startProc(t, "receiver-paused", receiverBin, append(slices.Clip(args), "--log-level", "info")...)
	other := startProc(t, "receiver-other", receiverBin, append(slices.Clip(args), "--log-level", "warn")...)
	registry := hookconfig.NewJobs(srv.KV(t, jhjs.BucketJobs))
	require.Eventually(t, func() bool {
		j, _, err := registry.Get(t.Context(), job)
		return err == nil && j.Enabled
	}, time.Minute, 10*time.Millisecond)
	store := hookconfig.NewStore(srv.KV(t, jhjs.BucketJobHooks), registry)
	hook := hookName(job)
	params, err := json.Marshal(map[string]any{"url": hs.URL})
	require.NoError(t, err)
	_, err = store.Put(t.Context(), &hookconfig.Hook{Name: hook, Job: job, Enabled: true, Params: params,
		ContentTypes: []string{"dcim.device"}, Events: []events.Action{events.ActionUpdate}}, 0)
	require.NoError(t, err)

	for i := range n { // the job messages, as the router stores them
		ch := testChange(i)
		ev, err := events.NewEvent(ch, events.EventOptions{ID: changeID(i), Source: testSource})
		require.NoError(t, err)
		msg, err := events.NewJobMsg(&events.ChangeEvent{Event: *ev, Change: *ch}, hook, job, nil)
		require.NoError(t, err)
		_, err = srv.JS.PublishMsgAsync(msg)
		require.NoError(t, err)
	}
	select {
	case <-srv.JS.PublishAsyncComplete():
	case <-time.After(time.Minute):
		t.Fatal("publishing timed out")
	}
	jobs, err := srv.JS.Stream(t.Context(), jhjs.StreamJobs)
	require.NoError(t, err)
	require.Equal(t, uint64(n), jobs.CachedInfo().State.LastSeq, "chg-i is JOBS sequence i+1")

	// Pause one receiver once both are under way.
	eventually(t, time.Minute, time.Millisecond, "deliveries begun", func() (bool, string) {
		c := len(ep.count())
		return c >= n/10, fmt.Sprintf("%d changes delivered", c)
	})
	paused.signal(syscall.SIGSTOP)
	atPause := len(ep.count())
	t.Logf("paused a receiver with %d of %d changes delivered", atPause, n)

	// The other receiver completes everything, the paused one's too.
	waitResults(t, srv.JS, n, 2*time.Minute)
	cons, err := srv.JS.Consumer(t.Context(), jhjs.StreamJobs, jhjs.ReceiverConsumer(job))
	require.NoError(t, err)
	eventually(t, time.Minute, 20*time.Millisecond, "the other receiver settles every message", func() (bool, string) {
		info, err := cons.Info(t.Context())
		if err != nil {
			return false, err.Error()
		}
		return info.NumPending == 0 && info.NumAckPending == 0,
			fmt.Sprintf("pending %d, ack pending %d", info.NumPending, info.NumAckPending)
	})
	beforeResume := len(ep.count())
	require.Equal(t, n, beforeResume, "every change delivered while one receiver was paused")

	// Resume it: it goes on with what it held, stale deliveries all, and
	// is stopped once it has dealt with each (so that what it held but had
	// not started is attempted, not released at the stop). What it held:
	// the messages redelivered (their records count more than one attempt),
	// less any it never read (a reply that came as it stopped, to a fetch
	// that expired meanwhile), and those it had settled but for the ack.
	// Right after the resume, its heartbeats name what it still holds. It
	// has dealt with a message when it logged so, or acked it; it is done
	// when it has dealt with every message redelivered, or with every one
	// its heartbeats named.
	results := receiver.NewResults(srv.KV(t, jhjs.BucketJobResults))
	list, err := results.List(t.Context(), receiver.ResultFilter{Hook: hook})
	require.NoError(t, err)
	var stale []uint64
	for _, r := range list {
		if r.Attempts > 1 {
			stale = append(stale, uint64(mustIndex(t, r.ChangeID))+1) // its JOBS sequence: published in order
		}
	}
	acks := acksOf(t, srv, jhjs.ReceiverConsumer(job))
	paused.signal(syscall.SIGCONT)
	eventually(t, time.Minute, 20*time.Millisecond, "the resumed receiver deals with its stale deliveries", func() (bool, string) {
		done := dealtWith(t, paused)
		held, settled := acks.seqs()
		left := func(seqs []uint64) []uint64 {
			return slices.DeleteFunc(slices.Clone(seqs), func(seq uint64) bool { return done[seq] || slices.Contains(settled, seq) })
		}
		return len(left(stale)) == 0 || len(held) > 0 && len(left(held)) == 0,
			fmt.Sprintf("redelivered, not dealt with: %v of %v; named by heartbeats, not dealt with: %v of %v", left(stale), stale, left(held), held)
	})
	paused.stop()
	require.True(t, other.alive())
	other.stop()

	list, err = results.List(t.Context(), receiver.ResultFilter{Hook: hook})
	require.NoError(t, err)
	deliveries := ep.count()
	statuses := map[receiver.Status]int{}
	redelivered, repeated, extra := 0, 0, 0
	for _, r := range list {
		statuses[r.Status]++
		ran := attemptsRun(r)
		serial := fmt.Sprint(testChange(mustIndex(t, r.ChangeID)).PostChange["serial"])
		assert.Equal(t, deliveries[serial], len(ran), "%s: every delivery is an attempt in its record", r.Key())
		seen := map[int]bool{}
		for _, a := range ran {
			assert.False(t, seen[a], "%s: attempt %d ran twice: %v", r.Key(), a, ran)
			seen[a] = true
			assert.LessOrEqual(t, a, r.Attempts, "%s: attempts %d counts attempt %d that ran", r.Key(), r.Attempts, a)
		}
		if r.Attempts > 1 {
			redelivered++
		}
		if len(ran) > 1 {
			repeated++
			extra += len(ran) - 1
		}
	}
	t.Logf("counted: %d results %v; %d delivered again (attempts > 1), %d ran more than once (%d extra deliveries); %d changes reached the endpoint",
		len(list), statuses, redelivered, repeated, extra, len(deliveries))
	assert.Len(t, list, n, "one result per change")
	assert.Equal(t, n, statuses[receiver.StatusCompleted], "every result completed: none left running, no final status lost")
	assert.Positive(t, redelivered, "the paused receiver's messages were redelivered")
	assert.LessOrEqual(t, extra, concurrency, "only what the paused receiver was running ran twice")
}

// dealtRE matches the log lines of a receiver dealing with a stale
// delivery: it finds the record final and settles the message without
// running it, or its attempt finds a later attempt's record (see
// receiver's attempt).
var dealtRE = regexp.MustCompile(`msg="(?:job message delivered again after it was settled|job attempt overtaken)[^"]*".* stream_seq=(\d+)`)

// dealtWith returns the JOBS sequences of the stale deliveries p has dealt
// with, by the log of its current life.
func dealtWith(t *testing.T, p *proc) map[uint64]bool {
	t.Helper()
	out, err := os.ReadFile(p.logs[len(p.logs)-1])
	require.NoError(t, err)
	done := map[uint64]bool{}
	for _, m := range dealtRE.FindAllSubmatch(out, -1) {
		seq, err := strconv.ParseUint(string(m[1]), 10, 64)
		require.NoError(t, err)
		done[seq] = true
	}
	return done
}

// ackSeqs collects the JOBS sequences of the messages a consumer's
// receivers send acknowledgements for: in-progress (heartbeats), or any
// other (settled).
type ackSeqs struct {
	mu      sync.Mutex
	beating map[uint64]bool
	settled map[uint64]bool
}

// acksOf follows the acknowledgements sent to consumer from now on.
func acksOf(t *testing.T, srv *jstest.Server, consumer string) *ackSeqs {
	t.Helper()
	a := &ackSeqs{beating: map[uint64]bool{}, settled: map[uint64]bool{}}
	sub, err := srv.Conn.Subscribe("$JS.ACK.>", func(m *nats.Msg) {
		// $JS.ACK[.<domain>.<account hash>].<stream>.<consumer>.<delivered>.<stream seq>.…
		tokens := strings.Split(m.Subject, ".")
		i := slices.Index(tokens, consumer)
		if i < 0 || i+2 >= len(tokens) {
			return
		}
		seq, err := strconv.ParseUint(tokens[i+2], 10, 64)
		if err != nil {
			return
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		if string(m.Data) == "+WPI" {
			a.beating[seq] = true
		} else {
			a.settled[seq] = true
		}
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	require.NoError(t, srv.Conn.Flush())
	return a
}

// seqs returns the sequences with heartbeats and those settled, sorted.
func (a *ackSeqs) seqs() (beating, settled []uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Sorted(maps.Keys(a.beating)), slices.Sorted(maps.Keys(a.settled))
}

// mustIndex returns i of changeID(i).
func mustIndex(t *testing.T, id string) int {
	t.Helper()
	var i int
	_, err := fmt.Sscanf(id, "chg-%05d", &i)
	require.NoError(t, err, id)
	return i
}
