package builtin_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/hookconfig"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
	"github.com/jobhooks/jobhooks/receiver"
	"github.com/jobhooks/jobhooks/receiver/builtin"
)

// startFast runs the built-in jobs with three attempts and short back-off
// delays (the last, the cap of a Retry-After, is longer).
func startFast(t *testing.T, backoff ...time.Duration) *env {
	if len(backoff) == 0 {
		backoff = []time.Duration{50 * time.Millisecond}
	}
	s := jstest.StartProvisioned(t)
	reg := receiver.NewRegistry()
	builtin.Register(reg)
	r := receiver.NewRunner(s.JS, reg, receiver.Options{
		EnableNew: true,
		Consumer:  jhjs.ReceiverConsumerOptions{MaxDeliver: 3, BackOff: backoff, AckWait: 10 * time.Second},
		Timeout:   30 * time.Second,
		Logger:    slog.New(slog.NewTextHandler(t.Output(), nil)),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done)
	})
	select {
	case <-r.Ready():
	case err := <-done:
		t.Fatalf("runner: %v", err)
	}
	return &env{Server: s, t: t, results: receiver.NewResults(s.KV(t, jhjs.BucketJobResults))}
}

// hit is one request an endpoint received.
type hit struct {
	at     time.Time
	method string
	path   string
	query  string
	header http.Header
	body   []byte
}

// endpoint is a test HTTP server answering the nth request with
// answers[n] (the last repeating); an answer of 0 hangs until the client
// gives up.
type endpoint struct {
	*httptest.Server
	mu      sync.Mutex
	hits    []hit
	answers []int
	header  http.Header // sent with every answer
}

func newEndpoint(t *testing.T, answers ...int) *endpoint {
	e := &endpoint{answers: answers, header: http.Header{}}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		n := len(e.hits)
		e.hits = append(e.hits, hit{at: time.Now(), method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, header: r.Header.Clone(), body: body})
		code := e.answers[min(n, len(e.answers)-1)]
		for k, v := range e.header {
			w.Header()[k] = v
		}
		e.mu.Unlock()
		if code == 0 {
			<-r.Context().Done()
			return
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, "answer "+strconv.Itoa(n+1))
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *endpoint) got() []hit {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]hit(nil), e.hits...)
}

func deviceChange() *events.Change {
	return &events.Change{Action: events.ActionUpdate, ContentType: "dcim.device", ObjectID: "7", ObjectRepr: "edge-07",
		User: "admin", RequestID: "49e3e39e-7333-4b9c-a9af-19f0dc1e7dc9",
		Time:      time.Date(2026, 11, 22, 10, 0, 0, 123456000, time.UTC),
		PreChange: map[string]any{"name": "edge-07", "serial": "A1"}, PostChange: map[string]any{"name": "edge-07", "serial": "B2"}}
}

// attempts returns the delivery records of a result, in order.
func attempts(res *receiver.Result) []map[string]any {
	var out []map[string]any
	for _, l := range res.Logs {
		if m, ok := l.Data.(map[string]any); ok && m["outcome"] != nil {
			out = append(out, m)
		}
	}
	return out
}

func TestWebhookRetries5xxAndKeepsEveryAttempt(t *testing.T) {
	t.Parallel()
	e := startFast(t)
	ep := newEndpoint(t, 503, 503, 200)
	res := e.run("wh", builtin.JobWebhook, "c-1", deviceChange(), map[string]any{"url": ep.URL + "/hook"})
	assert.Equal(t, receiver.StatusCompleted, res.Status)
	assert.Equal(t, 3, res.Attempts)
	require.Len(t, ep.got(), 3)
	as := attempts(res)
	require.Len(t, as, 3, "every attempt is in the result")
	for i, want := range []float64{503, 503, 200} {
		assert.Equal(t, want, as[i]["status_code"])
		assert.Equal(t, "POST", as[i]["method"])
		assert.Equal(t, ep.URL+"/hook", as[i]["url"])
		assert.Equal(t, "answer "+strconv.Itoa(i+1), as[i]["response"])
		assert.NotEmpty(t, as[i]["duration"])
		assert.NotEmpty(t, as[i]["time"])
	}
	assert.Equal(t, []any{"retry", "retry", "delivered"}, []any{as[0]["outcome"], as[1]["outcome"], as[2]["outcome"]})
	assert.Contains(t, logs(res), "warning: POST "+ep.URL+"/hook → 503 in "+as[0]["duration"].(string))
	assert.Contains(t, logs(res), "success: POST "+ep.URL+"/hook → 200 in "+as[2]["duration"].(string))
}

func TestWebhookHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	e := startFast(t, 50*time.Millisecond, 5*time.Second)
	ep := newEndpoint(t, 503, 200)
	ep.header.Set("Retry-After", "1")
	res := e.run("wh", builtin.JobWebhook, "c-1", deviceChange(), map[string]any{"url": ep.URL})
	assert.Equal(t, receiver.StatusCompleted, res.Status)
	hits := ep.got()
	require.Len(t, hits, 2)
	gap := hits[1].at.Sub(hits[0].at)
	assert.GreaterOrEqual(t, gap, 950*time.Millisecond, "the retry waited for Retry-After, not the 50ms back-off")
	assert.Less(t, gap, 4*time.Second)
	assert.Contains(t, logs(res), "error: Attempt 1 of 3 failed: POST "+ep.URL+": HTTP 503; retrying in 1s")
}

func TestWebhook4xxFailsAtOnce(t *testing.T) {
	t.Parallel()
	e := startFast(t)
	ep := newEndpoint(t, 400)
	res := e.run("wh", builtin.JobWebhook, "c-1", deviceChange(), map[string]any{"url": ep.URL})
	assert.Equal(t, receiver.StatusFailed, res.Status)
	assert.Equal(t, 1, res.Attempts)
	assert.Equal(t, "permanent failure: POST "+ep.URL+": HTTP 400", res.Error)
	require.Len(t, attempts(res), 1)
	assert.Equal(t, "permanent", attempts(res)[0]["outcome"])
	require.Eventually(t, func() bool {
		dls, err := receiver.NewDeadLetters(e.JS).List(t.Context(), builtin.JobWebhook)
		return err == nil && len(dls) == 1
	}, waitFor, 5*time.Millisecond, "dead-lettered")
	assert.Len(t, ep.got(), 1)
}

func TestWebhookTimesOutAndRetries(t *testing.T) {
	t.Parallel()
	e := startFast(t)
	ep := newEndpoint(t, 0, 204)
	res := e.run("wh", builtin.JobWebhook, "c-1", deviceChange(), map[string]any{"url": ep.URL, "timeout": "200ms"})
	assert.Equal(t, receiver.StatusCompleted, res.Status)
	assert.Equal(t, 2, res.Attempts)
	as := attempts(res)
	require.Len(t, as, 2)
	assert.Equal(t, "timed out after 200ms", as[0]["error"])
	assert.Equal(t, "retry", as[0]["outcome"])
	assert.Equal(t, float64(204), as[1]["status_code"])
}

func TestWebhookSignsBothWays(t *testing.T) {
	t.Parallel()
	e := startFast(t)
	ep := newEndpoint(t, 500, 200)
	key := []byte("standard-webhooks-key")
	whsec := "whsec_" + base64.StdEncoding.EncodeToString(key)
	res := e.run("wh-signed", builtin.JobWebhook, "c-1", deviceChange(), map[string]any{
		"url": ep.URL, "secret": "netbox-secret", "standard_webhooks_secret": whsec})
	require.Equal(t, receiver.StatusCompleted, res.Status)
	hits := ep.got()
	require.Len(t, hits, 2)
	for _, h := range hits {
		mac := hmac.New(sha512.New, []byte("netbox-secret"))
		mac.Write(h.body)
		assert.Equal(t, hex.EncodeToString(mac.Sum(nil)), h.header.Get("X-Hook-Signature"))

		id, ts := h.header.Get("webhook-id"), h.header.Get("webhook-timestamp")
		assert.Equal(t, receiver.ResultKey("wh-signed", events.ChangeKey("test://nautobot", "c-1")), id)
		sec, err := strconv.ParseInt(ts, 10, 64)
		require.NoError(t, err)
		assert.InDelta(t, time.Now().Unix(), sec, 60)
		std := hmac.New(sha256.New, key)
		std.Write([]byte(id + "." + ts + "." + string(h.body)))
		assert.Equal(t, "v1,"+base64.StdEncoding.EncodeToString(std.Sum(nil)), h.header.Get("webhook-signature"))
		assert.Equal(t, "application/json", h.header.Get("Content-Type"))
	}
	assert.Equal(t, hits[0].header.Get("webhook-id"), hits[1].header.Get("webhook-id"), "webhook-id is stable across retries")
}

func TestWebhookDefaultBodyIsNetBoxPayload(t *testing.T) {
	t.Parallel()
	e := startFast(t)
	ep := newEndpoint(t, 200)
	ch := deviceChange()
	ch.Data = map[string]any{"id": 7, "url": "/api/dcim/devices/7/", "display": "edge-07", "serial": "B2"}
	res := e.run("wh", builtin.JobWebhook, "c-1", ch, map[string]any{"url": ep.URL})
	require.Equal(t, receiver.StatusCompleted, res.Status)
	require.Len(t, ep.got(), 1)
	// The context is what the job message carries (e.run adds {"site":"ams"}).
	assert.Equal(t, `{"event":"updated","timestamp":"2026-11-22T10:00:00.123456+00:00","object_type":"dcim.device",`+
		`"username":"admin","request_id":"49e3e39e-7333-4b9c-a9af-19f0dc1e7dc9",`+
		`"data":{"display":"edge-07","id":7,"serial":"B2","url":"/api/dcim/devices/7/"},`+
		`"snapshots":{"prechange":{"name":"edge-07","serial":"A1"},"postchange":{"name":"edge-07","serial":"B2"}},`+
		`"context":{"site":"ams"}}`, string(ep.got()[0].body))
}

func TestWebhookTemplates(t *testing.T) {
	t.Parallel()
	e := startFast(t)
	ep := newEndpoint(t, 200)
	res := e.run("wh", builtin.JobWebhook, "c-1", deviceChange(), map[string]any{
		"url":     ep.URL + "/{{.ObjectType}}/{{.Data.name}}",
		"method":  "PUT",
		"headers": map[string]any{"X-Event": "{{.Event}} by {{.Username}}"},
		"body_template": `{"text": "{{.Event}} {{.ObjectType}} {{.Data.name}}: serial {{index .Differences.Removed "serial"}} → ` +
			`{{index .Differences.Added "serial"}}", "added": {{json .Differences.Added}}, "site": {{json .Context.site}}, "before": {{json .Snapshots.PreChange}}}`,
	})
	require.Equal(t, receiver.StatusCompleted, res.Status)
	hits := ep.got()
	require.Len(t, hits, 1)
	assert.Equal(t, "PUT", hits[0].method)
	assert.Equal(t, "/dcim.device/edge-07", hits[0].path)
	assert.Equal(t, "updated by admin", hits[0].header.Get("X-Event"))
	assert.JSONEq(t, `{"text": "updated dcim.device edge-07: serial A1 → B2", "added": {"serial": "B2"}, "site": "ams",
		"before": {"name": "edge-07", "serial": "A1"}}`, string(hits[0].body))
}

func TestWebhookNeverStoresSecrets(t *testing.T) {
	t.Parallel()
	e := startFast(t)
	ep := newEndpoint(t, 503, 401)
	u := strings.Replace(ep.URL, "http://", "http://alice:pa55word@", 1) + "/hook?token=query-s3cret"
	whsec := "whsec_" + base64.StdEncoding.EncodeToString([]byte("std-key-s3cret"))
	res := e.run("wh", builtin.JobWebhook, "c-1", deviceChange(), map[string]any{
		"url": u, "secret": "hmac-s3cret", "standard_webhooks_secret": whsec,
		"headers": map[string]any{"Authorization": "Bearer header-s3cret", "X-Api-Key": "key-s3cret"},
	})
	require.Equal(t, receiver.StatusFailed, res.Status)
	hits := ep.got()
	require.Len(t, hits, 2)
	assert.Equal(t, "Bearer header-s3cret", hits[0].header.Get("Authorization"), "the endpoint gets the credentials")
	assert.Equal(t, "token=query-s3cret", hits[0].query)

	entry, err := e.KV(t, jhjs.BucketJobResults).Get(t.Context(), receiver.ResultKey("wh", events.ChangeKey("test://nautobot", "c-1")))
	require.NoError(t, err)
	stored := string(entry.Value())
	for _, secret := range []string{"pa55word", "query-s3cret", "hmac-s3cret", whsec, "header-s3cret", "key-s3cret",
		base64.StdEncoding.EncodeToString([]byte("std-key-s3cret"))} {
		assert.NotContains(t, stored, secret)
	}
	assert.Contains(t, stored, ep.URL+"/hook?…", "the URL is recorded, redacted")
	dls, err := receiver.NewDeadLetters(e.JS).List(t.Context(), builtin.JobWebhook)
	require.NoError(t, err)
	require.Len(t, dls, 1)
	b, err := json.Marshal(dls[0])
	require.NoError(t, err)
	assert.NotContains(t, string(b), "query-s3cret")
	assert.NotContains(t, string(b), "pa55word")
}

func TestWebhookInvalidParamsFailAtOnce(t *testing.T) {
	t.Parallel()
	e := startFast(t)
	ep := newEndpoint(t, 200)
	for i, params := range []map[string]any{
		{"url": "ftp://example.com"},
		{"url": ep.URL, "method": "TRACE"},
		{"url": ep.URL, "body_template": "{{.Event"},
		{"url": ep.URL, "timeout": "soon"},
		{"url": ep.URL, "ca_file": "/nonexistent/ca.pem"},
		{"url": ep.URL, "standard_webhooks_secret": "whsec_!!!"},
		{"url": ep.URL, "unknown": true},
	} {
		hook := "bad-" + strconv.Itoa(i)
		res := e.run(hook, builtin.JobWebhook, "c-1", deviceChange(), params)
		assert.Equal(t, receiver.StatusFailed, res.Status, "%v", params)
		assert.Equal(t, 1, res.Attempts)
		assert.Contains(t, res.Error, "permanent failure: invalid params: ")
	}
	assert.Empty(t, ep.got())
}

// The webhook job's schema, as registered by builtin.Register, is applied
// by validated hook writes.
func TestWebhookParamsSchema(t *testing.T) {
	t.Parallel()
	e := startFast(t)
	store := hookconfig.NewStore(e.KV(t, jhjs.BucketJobHooks), hookconfig.NewJobs(e.KV(t, jhjs.BucketJobs)))
	for _, tt := range []struct {
		params string
		want   string // error substring; "" for valid
	}{
		{`{"url": "https://example.com/hook"}`, ""},
		{`{"url": "http://example.com/{{.ObjectType}}", "method": "PATCH", "headers": {"Authorization": "Bearer x"},
		   "body_template": "{{json .Data}}", "secret": "s", "timeout": "1m30s", "verify_tls": false,
		   "standard_webhooks_secret": "whsec_c2VjcmV0"}`, ""},
		{``, "params: missing property 'url'"},
		{`{"url": "example.com"}`, "params.url"},
		{`{"url": "https://x", "method": "post"}`, "params.method"},
		{`{"url": "https://x", "headers": {"X-N": 1}}`, "params.headers.X-N"},
		{`{"url": "https://x", "timeout": "10"}`, "params.timeout"},
		{`{"url": "https://x", "verify_tls": "no"}`, "params.verify_tls"},
		{`{"url": "https://x", "standard_webhooks_secret": "c2VjcmV0"}`, "params.standard_webhooks_secret"},
		{`{"url": "https://x", "urll": "https://y"}`, "additional properties 'urll' not allowed"},
	} {
		h := &hookconfig.Hook{Name: "h", ContentTypes: []string{"dcim.device"}, Job: builtin.JobWebhook, Enabled: true,
			Events: []events.Action{events.ActionCreate}}
		if tt.params != "" {
			h.Params = json.RawMessage(tt.params)
		}
		_, err := store.Put(t.Context(), h, 0)
		if tt.want == "" {
			require.NoError(t, err, tt.params)
			require.NoError(t, builtin.CheckWebhookParams(h.Params), tt.params)
			require.NoError(t, store.Delete(t.Context(), "h", 0))
			continue
		}
		require.ErrorIs(t, err, hookconfig.ErrInvalidHook, tt.params)
		assert.ErrorContains(t, err, tt.want, tt.params)
	}

	// The documented example hook file is valid.
	raw, err := os.ReadFile("../../examples/webhook-hook.json")
	require.NoError(t, err)
	var h hookconfig.Hook
	require.NoError(t, json.Unmarshal(raw, &h))
	_, err = store.Put(t.Context(), &h, 0)
	require.NoError(t, err)
	require.NoError(t, builtin.CheckWebhookParams(h.Params))
}

func TestWebhookTLS(t *testing.T) {
	t.Parallel()
	e := startFast(t)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }))
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))

	res := e.run("tls-ca", builtin.JobWebhook, "c-1", deviceChange(), map[string]any{"url": srv.URL, "ca_file": caFile})
	assert.Equal(t, receiver.StatusCompleted, res.Status, "the CA file is trusted")
	res = e.run("tls-insecure", builtin.JobWebhook, "c-1", deviceChange(), map[string]any{"url": srv.URL, "verify_tls": false})
	assert.Equal(t, receiver.StatusCompleted, res.Status, "verify_tls false")
	res = e.run("tls-default", builtin.JobWebhook, "c-1", deviceChange(), map[string]any{"url": srv.URL})
	assert.Equal(t, receiver.StatusFailed, res.Status, "an unknown CA fails every attempt")
	assert.Equal(t, 3, res.Attempts)
	assert.Contains(t, attempts(res)[0]["error"], "certificate")
}
