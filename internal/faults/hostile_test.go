package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/hookconfig"
	"github.com/jobhooks/jobhooks/ingest"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
	"github.com/jobhooks/jobhooks/receiver"
	"github.com/jobhooks/jobhooks/router"
)

// What becomes of a hostile input.
const (
	deadLettered  = "dead-lettered" // in deadletter.changes (or deadletter.jobs.<job>) with its reason
	skipped       = "skipped"       // stored, never routed, no dead letter: loop prevention
	ran           = "ran"           // a well-formed job message: its job ran once
	refusedByNATS = "refused by the server"
)

// hostileInput is one message of the corpus, published on its subject.
type hostileInput struct {
	name    string
	subject string
	header  nats.Header
	body    []byte
	outcome string
	reason  string // in Jobhooks-Error, when dead-lettered
}

const updateSubject = "changes.dcim.device.update"

// ceHeader is a valid binary-mode header of change id.
func ceHeader(id string, extra ...string) nats.Header {
	h := nats.Header{}
	h.Set("ce-specversion", "1.0")
	h.Set("ce-id", id)
	h.Set("ce-source", testSource)
	h.Set("ce-type", "jobhooks.change.update")
	h.Set("content-type", "application/json")
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			h.Del(extra[i])
			continue
		}
		h.Set(extra[i], extra[i+1])
	}
	return h
}

// updateBody is the data of a valid update with postchange serial.
func updateBody(serial string) []byte {
	b, _ := json.Marshal(map[string]any{"action": "update", "content_type": "dcim.device", "object_id": "7",
		"prechange": map[string]any{"serial": "A"}, "postchange": map[string]any{"serial": serial}})
	return b
}

// badUTF8Body is an update whose postchange serial holds a byte that is
// not UTF-8 (json.Marshal would have replaced it).
func badUTF8Body() []byte {
	return []byte(`{"action":"update","content_type":"dcim.device","postchange":{"serial":"B` + "\xff" + `2"}}`)
}

// headerLen is the size of h on the wire (NATS/1.0 and one line a value).
func headerLen(h nats.Header) int {
	n := len("NATS/1.0\r\n\r\n")
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(": ") + len(v) + len("\r\n")
		}
	}
	return n
}

// bigBody is an update whose size with header h is just under the max
// payload: the change fits in CHANGES, its job message (the router's
// headers on top) does not.
func bigBody(h nats.Header, maxPayload int) []byte {
	pre, post := `{"action":"update","content_type":"dcim.device","postchange":{"x":"`, `"}}`
	return []byte(pre + strings.Repeat("b", maxPayload-headerLen(h)-len(pre)-len(post)-16) + post)
}

// bigHeader is a valid header of change id, 16 bytes under JetStream's
// 64 KiB of headers: the change fits, its job message's headers do not.
func bigHeader(id string) nats.Header {
	h := ceHeader(id, "ce-note", "n")
	h.Set("ce-note", strings.Repeat("n", 64<<10-headerLen(h)-16))
	return h
}

// deepJSON nests n arrays in postchange.
func deepJSON(n int) []byte {
	return []byte(`{"action":"update","content_type":"dcim.device","postchange":{"x":` +
		strings.Repeat("[", n) + strings.Repeat("]", n) + `}}`)
}

// changeCorpus is the hostile input on CHANGES: the kinds of the fuzz
// seeds of events (FuzzDecode, FuzzDecodeHead), each as a whole message.
func changeCorpus() []hostileInput {
	const maxPayload = 1 << 20 // the server's default
	return []hostileInput{
		{"binary junk body", updateSubject, ceHeader("h-junk"), []byte("\x00\xff\xfe\x01junk\x7f"), deadLettered, "data is not valid UTF-8 at byte 1"},
		{"empty body", updateSubject, ceHeader("h-empty"), nil, deadLettered, "the event has no data"},
		{"JSON null body", updateSubject, ceHeader("h-null"), []byte("null"), deadLettered, `invalid content type ""`},
		{"invalid UTF-8 in the data", updateSubject, ceHeader("h-utf8"), badUTF8Body(), deadLettered, "data is not valid UTF-8 at byte 73"},
		{"invalid UTF-8 in ce-source", updateSubject, ceHeader("h-utf8-src", "ce-source", "s\xc0"), updateBody("X"), deadLettered, "header ce-source: value is not valid UTF-8"},
		{"deep JSON", updateSubject, ceHeader("h-deep"), deepJSON(100000), deadLettered, "exceeded max depth"},
		{"action differs from the subject", updateSubject, ceHeader("h-action"),
			[]byte(`{"action":"delete","content_type":"dcim.device","prechange":{},"postchange":null}`), deadLettered, `action "delete" does not match subject "changes.dcim.device.update"`},
		{"content type differs from the subject", updateSubject, ceHeader("h-ctype"),
			[]byte(`{"action":"update","content_type":"dcim.site","postchange":{}}`), deadLettered, `content_type "dcim.site" does not match subject`},
		{"update without postchange", updateSubject, ceHeader("h-nopost"),
			[]byte(`{"action":"update","content_type":"dcim.device"}`), deadLettered, "an update needs postchange"},
		{"bad action in the subject", "changes.dcim.device.explode", ceHeader("h-subj-action"), updateBody("X"), deadLettered, `invalid action "explode"`},
		{"upper case in the subject", "changes.DCIM.device.update", ceHeader("h-subj-case"), updateBody("X"), deadLettered, `invalid content type "DCIM.device"`},
		{"subject too short", "changes.dcim.update", ceHeader("h-subj-short"), updateBody("X"), deadLettered, "want changes.<app_label>.<model>.<action>"},
		{"subject too long", "changes.dcim.device.update.x", ceHeader("h-subj-long"), updateBody("X"), deadLettered, "want changes.<app_label>.<model>.<action>"},
		{"no ce-id", updateSubject, ceHeader("", "ce-id", ""), updateBody("X"), deadLettered, "id: MUST be a non-empty string"},
		{"ce-id over 256 bytes", updateSubject, ceHeader(strings.Repeat("i", 257)), updateBody("X"), deadLettered, "257 bytes, at most 256 allowed"},
		{"specversion 0.3", updateSubject, ceHeader("h-spec", "ce-specversion", "0.3"), updateBody("X"), deadLettered, `specversion "0.3": want 1.0`},
		{"no ce-type", updateSubject, ceHeader("h-notype", "ce-type", ""), updateBody("X"), deadLettered, "type: MUST be a non-empty string"},
		{"bad ce-time", updateSubject, ceHeader("h-time", "ce-time", "2026-11-22"), updateBody("X"), deadLettered, "header ce-time: invalid value for time"},
		{"structured mode, junk", updateSubject, ceHeader("", "ce-id", "", "content-type", "application/cloudevents+json"),
			[]byte(`{"specversion":"1.0","id":`), deadLettered, "not a valid CloudEvent"},
		{"batch mode", updateSubject, ceHeader("h-batch", "content-type", "application/cloudevents-batch+json"), []byte(`[]`), deadLettered, `"application/cloudevents-batch+json" is not supported`},
		{"oversized header, just fits CHANGES", updateSubject, bigHeader("h-bighdr"), updateBody("X"), deadLettered, "header size exceeds maximum allowed of 64k"},
		{"oversized body, just fits CHANGES", updateSubject, ceHeader("h-bigbody"), bigBody(ceHeader("h-bigbody"), maxPayload), deadLettered, "maximum payload exceeded"},
		{"body over the max payload", updateSubject, ceHeader("h-toobig"),
			[]byte(`{"action":"update","content_type":"dcim.device","postchange":{"x":"` + strings.Repeat("b", maxPayload) + `"}}`), refusedByNATS, ""},
		{"forged ce-hookorigin", updateSubject, ceHeader("h-loop", "ce-hookorigin", "audit", "ce-causationid", "chg-1"), updateBody("LOOP"), skipped, ""},
		{"forged ce-hookorigin, other case", updateSubject, ceHeader("h-loop2", "CE-HookOrigin", "audit"), updateBody("LOOP2"), skipped, ""},
	}
}

// jobMsg is a well-formed job message for hook on job, as a router writes it.
func jobMsg(t *testing.T, id, hook, job string) *nats.Msg {
	t.Helper()
	ch := testChange(0)
	ev, err := events.NewEvent(ch, events.EventOptions{ID: id, Source: testSource})
	require.NoError(t, err)
	msg, err := events.NewJobMsg(&events.ChangeEvent{Event: *ev, Change: *ch}, hook, job, nil)
	require.NoError(t, err)
	return msg
}

// runCounter counts a job's runs by change id.
type runCounter struct {
	mu   sync.Mutex
	runs map[string]int
}

func (c *runCounter) handle(_ context.Context, _ *receiver.Job, ch *receiver.Change, _ events.Action, _ map[string]any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.runs[ch.ID]++
	return nil
}

func (c *runCounter) get() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.runs))
	for k, v := range c.runs {
		out[k] = v
	}
	return out
}

// TestHostileInput publishes the hostile-input corpus on CHANGES and
// forged job messages on JOBS while valid changes flow as fast as the
// publisher can send them, through the router and a receiver in-process.
// Each hostile change is dead-lettered on deadletter.changes with its
// reason (Jobhooks-Error, Jobhooks-Sequence naming it in CHANGES), or, with
// a forged ce-hookorigin, stored and never routed; one over the server's
// max payload is refused at publish. Forged job messages are dead-lettered
// by the receiver (junk; another job's hook) or, well-formed for the job's
// own hook, run once: JetStream cannot tell who published a job message,
// which is why publishers get no permission on jobs.> (least privilege).
// Every valid change is routed and runs its job exactly once.
func TestHostileInput(t *testing.T) {
	n := sized(2000, 10000)
	srv := jstest.StartProvisioned(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelError}))

	audit, secret := &runCounter{runs: map[string]int{}}, &runCounter{runs: map[string]int{}}
	reg := receiver.NewRegistry()
	reg.HandleFunc("audit", receiver.JobInfo{}, audit.handle)
	reg.HandleFunc("secret", receiver.JobInfo{}, secret.handle)
	runner := receiver.NewRunner(srv.JS, reg, receiver.Options{Concurrency: 8, EnableNew: true, Logger: logger,
		Consumer: jhjs.ReceiverConsumerOptions{MaxDeliver: 3, BackOff: []time.Duration{10 * time.Millisecond}}})
	runCtx, stopRun := context.WithCancel(ctx)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	run := func(fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- fn(runCtx)
		}()
	}
	t.Cleanup(func() {
		stopRun()
		wg.Wait()
		close(errs)
		for err := range errs {
			assert.NoError(t, err)
		}
	})
	run(runner.Run)
	<-runner.Ready()
	store := hookconfig.NewStore(srv.KV(t, jhjs.BucketJobHooks), hookconfig.NewJobs(srv.KV(t, jhjs.BucketJobs)))
	for _, job := range []string{"audit", "secret"} {
		_, err := store.Put(ctx, &hookconfig.Hook{Name: hookName(job), Job: job, Enabled: true,
			ContentTypes: []string{map[string]string{"audit": "dcim.device", "secret": "dcim.site"}[job]},
			Events:       []events.Action{events.ActionCreate, events.ActionUpdate, events.ActionDelete}}, 0)
		require.NoError(t, err)
	}
	rt := router.New(srv.JS, router.Options{Logger: logger})
	run(rt.Run)
	<-rt.Ready()

	// Valid traffic at full rate, the hostile input alongside.
	f := feed(ctx, srv.JS, n, 0)
	corpus := changeCorpus()
	seqs := map[uint64]int{} // CHANGES sequence → corpus index
	for i, in := range corpus {
		ack, err := srv.JS.PublishMsg(ctx, &nats.Msg{Subject: in.subject, Header: in.header, Data: in.body})
		if in.outcome == refusedByNATS {
			require.Error(t, err, in.name)
			t.Logf("%s: refused at publish: %v", in.name, err)
			continue
		}
		require.NoError(t, err, in.name)
		seqs[ack.Sequence] = i
	}
	forged := []struct {
		name   string
		msg    *nats.Msg
		want   string // deadLettered with reason, or ran
		reason string
	}{
		{"junk job message", &nats.Msg{Subject: "jobs.audit", Header: nats.Header{"Jobhooks-Hook": {"h-audit"}}, Data: []byte("\x00junk")}, deadLettered, "invalid job message"},
		{"job message without headers", &nats.Msg{Subject: "jobs.audit", Data: updateBody("X")}, deadLettered, "invalid job message"},
		{"another job's hook", jobMsg(t, "forged-secret", hookName("secret"), "audit"), deadLettered, `refused: hook "h-secret" belongs to job "secret", not "audit"`},
		{"well-formed for the job's own hook", jobMsg(t, "forged-own", hookName("audit"), "audit"), ran, ""},
	}
	for _, fj := range forged {
		_, err := srv.JS.PublishMsg(ctx, fj.msg)
		require.NoError(t, err, fj.name)
	}
	f.wait(t)
	t.Logf("published %d valid changes, %d hostile changes and %d forged job messages", n, len(corpus), len(forged))

	// Settled: the router has handled every change, the receiver every job.
	waitConsumersIdle(t, srv.JS, 2*time.Minute, "audit", "secret")

	// deadletter.changes: one per hostile change, by its CHANGES sequence.
	reasons := map[int]string{}
	omitted := map[int]string{}
	// A change too large for its dead letter gets one without what does
	// not fit, saying what it left out (docs/jetstream.md, Dead letters).
	wantOmitted := map[string]string{"oversized header, just fits CHANGES": "body, ce-note", "oversized body, just fits CHANGES": "body"}
	dlCons, err := srv.JS.OrderedConsumer(ctx, jhjs.StreamDeadLetter, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"deadletter.changes"}})
	require.NoError(t, err)
	for {
		batch, err := dlCons.Fetch(100, jetstream.FetchMaxWait(time.Second))
		require.NoError(t, err)
		got := 0
		for m := range batch.Messages() {
			got++
			seq, err := strconv.ParseUint(m.Headers().Get("Jobhooks-Sequence"), 10, 64)
			require.NoError(t, err, "Jobhooks-Sequence")
			i, ok := seqs[seq]
			require.True(t, ok, "a dead letter for CHANGES %d, which is no hostile change: %s", seq, m.Headers().Get("Jobhooks-Error"))
			_, dup := reasons[i]
			require.False(t, dup, "%s dead-lettered twice", corpus[i].name)
			reasons[i] = m.Headers().Get("Jobhooks-Error")
			omitted[i] = m.Headers().Get("Jobhooks-Omitted")
			assert.Equal(t, corpus[i].subject, m.Headers().Get("Jobhooks-Subject"), corpus[i].name)
		}
		if got == 0 {
			break
		}
	}
	jobIDs := readIDs(t, srv.JS, jhjs.StreamJobs, "jobs.>")
	counts := map[string]int{}
	for _, i := range seqs {
		in := corpus[i]
		counts[in.outcome]++
		reason, dl := reasons[i]
		id := in.header.Get("ce-id")
		switch in.outcome {
		case deadLettered:
			if assert.True(t, dl, "%s is dead-lettered", in.name) {
				assert.Contains(t, reason, in.reason, "%s: Jobhooks-Error", in.name)
				assert.Equal(t, wantOmitted[in.name], omitted[i], "%s: Jobhooks-Omitted", in.name)
				t.Logf("%s → dead letter: %s", in.name, reason)
			}
		case skipped:
			assert.False(t, dl, "%s is not dead-lettered: %s", in.name, reason)
			assert.Zero(t, jobIDs[id], "%s is never routed", in.name)
			t.Logf("%s → stored, not routed", in.name)
		}
		if id != "" {
			assert.Zero(t, audit.get()[id]+secret.get()[id], "%s never ran a job", in.name)
		}
	}
	jobDLs, err := receiver.NewDeadLetters(srv.JS).List(ctx, "audit")
	require.NoError(t, err)
	for _, fj := range forged {
		switch fj.want {
		case deadLettered:
			found := false
			for _, dl := range jobDLs {
				if bytes.Equal(dl.Data, fj.msg.Data) && strings.Contains(dl.Error, fj.reason) {
					found = true
					t.Logf("%s → deadletter.jobs.audit: %s", fj.name, dl.Error)
				}
			}
			assert.True(t, found, "%s dead-lettered with %q", fj.name, fj.reason)
		case ran:
			assert.Equal(t, 1, audit.get()[fj.msg.Header.Get("ce-id")], "%s ran once", fj.name)
			t.Logf("%s → ran once (publishers must not be allowed jobs.>)", fj.name)
		}
	}
	assert.Len(t, jobDLs, 3, "one job dead letter per refused forged message")
	assert.Zero(t, secret.get()["forged-secret"], "another job's hook never runs")

	// The valid traffic: every change routed once and run once.
	runs := audit.get()
	missing, twice := 0, 0
	for i := range n {
		switch r := runs[changeID(i)]; {
		case r == 0:
			missing++
		case r > 1:
			twice++
		}
		if jobIDs[changeID(i)] != 1 {
			missing++
		}
	}
	t.Logf("counted: %d hostile changes %v, %d dead letters on deadletter.changes, %d on deadletter.jobs.audit; valid: %d changes, %d missing, %d ran twice; %d publishes sent again",
		len(corpus), counts, len(reasons), len(jobDLs), n, missing, twice, f.retries.Load())
	assert.Zero(t, missing, "every valid change routed and run")
	assert.Zero(t, twice, "no valid change ran twice")
	assert.Len(t, reasons, counts[deadLettered], "no other change dead-lettered")

	t.Run("ingest", func(t *testing.T) { testHostileIngest(t, srv, audit) })
}

// testHostileIngest posts hostile bodies to the HTTP ingest: each gets its
// 4xx with the reason and nothing is stored; a valid change gets 202.
func testHostileIngest(t *testing.T, srv *jstest.Server, audit *runCounter) {
	h := ingest.New(srv.JS, ingest.Options{MaxBody: 64 << 10, Logger: slog.New(slog.DiscardHandler)})
	mux := http.NewServeMux()
	h.Register(mux)
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)

	ceHTTP := func(id string, extra ...string) http.Header {
		hd := http.Header{}
		hd.Set("ce-specversion", "1.0")
		hd.Set("ce-id", id)
		hd.Set("ce-source", testSource)
		hd.Set("ce-type", "jobhooks.change.update")
		hd.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(extra); i += 2 {
			if extra[i+1] == "" {
				hd.Del(extra[i])
				continue
			}
			hd.Set(extra[i], extra[i+1])
		}
		return hd
	}
	netbox := http.Header{"Content-Type": {"application/json"}}
	cases := []struct {
		name   string
		path   string
		header http.Header
		body   []byte
		status int
		reason string
	}{
		{"oversized body", "/changes", ceHTTP("i-big"), bytes.Repeat([]byte("x"), 65<<10), http.StatusRequestEntityTooLarge, "the body is over 65536 bytes"},
		{"oversized NetBox body", "/ingest/netbox", netbox, bytes.Repeat([]byte(" "), 65<<10), http.StatusRequestEntityTooLarge, "the body is over 65536 bytes"},
		{"binary junk", "/changes", ceHTTP("i-junk"), []byte("\x00\xff\xfejunk"), http.StatusBadRequest, "data is not valid UTF-8"},
		{"invalid UTF-8", "/changes", ceHTTP("i-utf8"), badUTF8Body(), http.StatusBadRequest, "data is not valid UTF-8"},
		{"deep JSON", "/changes", ceHTTP("i-deep"), deepJSON(20000), http.StatusBadRequest, "exceeded max depth"},
		{"no ce-id", "/changes", ceHTTP("", "ce-id", ""), updateBody("X"), http.StatusBadRequest, "id: MUST be a non-empty string"},
		{"not a CloudEvent", "/changes", http.Header{"Content-Type": {"application/json"}}, updateBody("X"), http.StatusUnsupportedMediaType, "not a CloudEvent"},
		{"NetBox junk", "/ingest/netbox", netbox, []byte("{not json"), http.StatusBadRequest, "malformed webhook body"},
		{"NetBox job event", "/ingest/netbox", netbox, []byte(`{"event":"job_ended","data":{}}`), http.StatusUnprocessableEntity, `event "job_ended"`},
		{"NetBox body, not JSON content type", "/ingest/netbox", http.Header{"Content-Type": {"text/plain"}},
			[]byte(`{"event":"created","object_type":"dcim.site","data":{"id":1}}`), http.StatusUnsupportedMediaType, `Content-Type "text/plain"`},
		{"forged ce-hookorigin", "/changes", ceHTTP("i-loop", "ce-hookorigin", "audit"), updateBody("LOOP"), http.StatusBadRequest, "never over HTTP"},
		{"valid", "/changes", ceHTTP("i-valid"), updateBody("VALID"), http.StatusAccepted, ""},
	}
	before, ok := streamMsgs(t.Context(), srv.JS, jhjs.StreamChanges)
	require.True(t, ok)
	accepted := 0
	for _, c := range cases {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, hs.URL+c.path, bytes.NewReader(c.body))
		require.NoError(t, err)
		req.Header = c.header
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var answer map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&answer)
		_ = resp.Body.Close()
		assert.Equal(t, c.status, resp.StatusCode, "%s: %v", c.name, answer)
		if c.status >= 400 {
			assert.Contains(t, fmt.Sprint(answer["error"]), c.reason, "%s: the answer says why", c.name)
		} else {
			accepted++
		}
		t.Logf("%s → %d %v", c.name, resp.StatusCode, answer)
	}
	after, ok := streamMsgs(t.Context(), srv.JS, jhjs.StreamChanges)
	require.True(t, ok)
	assert.Equal(t, before+uint64(accepted), after, "only the accepted changes are stored")
	eventually(t, time.Minute, 10*time.Millisecond, "the valid ingested change runs", func() (bool, string) {
		r := audit.get()["i-valid"]
		return r == 1, fmt.Sprintf("%d runs", r)
	})
	waitConsumersIdle(t, srv.JS, time.Minute, "audit")
	assert.Zero(t, audit.get()["i-loop"], "an ingested change with ce-hookorigin is never routed")
	assert.Zero(t, readIDs(t, srv.JS, jhjs.StreamJobs, "jobs.audit")["i-loop"])
}
