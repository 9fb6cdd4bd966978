package ingest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
	"github.com/jobhooks/jobhooks/webhook"
)

func testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "webhook", "testdata", name))
	require.NoError(t, err)
	return b
}

// startIngest serves a Handler over real HTTP, storing into a real server.
func startIngest(t *testing.T, js jetstream.JetStream, opts Options) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	New(js, opts).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) accepted(t *testing.T) Accepted {
	t.Helper()
	require.Equal(t, http.StatusAccepted, r.status, "body: %s", r.body)
	var a Accepted
	require.NoError(t, json.Unmarshal(r.body, &a))
	return a
}

func (r response) reason(t *testing.T) string {
	t.Helper()
	assert.Equal(t, "application/json", r.header.Get("Content-Type"))
	var e Error
	require.NoError(t, json.Unmarshal(r.body, &e), "body: %s", r.body)
	require.NotEmpty(t, e.Error)
	return e.Error
}

func post(t *testing.T, url string, header http.Header, body []byte) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// stored returns every message in CHANGES, decoded.
func stored(t *testing.T, js jetstream.JetStream) []*events.ChangeEvent {
	t.Helper()
	ctx := context.Background()
	stream, err := js.Stream(ctx, jhjs.StreamChanges)
	require.NoError(t, err)
	info, err := stream.Info(ctx)
	require.NoError(t, err)
	var out []*events.ChangeEvent
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := stream.GetMsg(ctx, seq)
		require.NoError(t, err)
		ce, err := events.Decode(m.Subject, m.Header, m.Data)
		require.NoError(t, err, "stored change %d", seq)
		out = append(out, ce)
	}
	return out
}

func TestWebhookBodiesBecomeChanges(t *testing.T) {
	s := jstest.StartProvisioned(t)
	srv := startIngest(t, s.JS, Options{})
	tests := []struct {
		path, file, subject, objectID, source string
	}{
		{PathNetBox, "netbox-4.6-site-created.json", "changes.dcim.site.create", "4", SourceNetBox},
		{PathNetBox, "netbox-4.3-device-updated.json", "changes.dcim.device.update", "17", SourceNetBox},
		{PathNautobot, "nautobot-2-device-updated.json", "changes.dcim.device.update", "7f3e8a2c-1d4b-4e6f-9a8c-2b5d7e9f1a3c", SourceNautobot},
	}
	for i, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body := testdata(t, tt.file)
			a := post(t, srv.URL+tt.path, nil, body).accepted(t)
			dialect := webhook.NetBox
			if tt.path == PathNautobot {
				dialect = webhook.Nautobot
			}
			assert.Equal(t, webhook.ChangeID(dialect, body, webhook.DecodeOptions{}), a.ID)
			assert.Equal(t, tt.subject, a.Subject)
			assert.False(t, a.Duplicate)
			assert.Equal(t, jhjs.StreamChanges, a.Stream)
			assert.Equal(t, uint64(i+1), a.StreamSeq)

			all := stored(t, s.JS)
			require.Len(t, all, i+1)
			got := all[i]
			assert.Equal(t, a.ID, got.ID())
			assert.Equal(t, tt.source, got.Event.Source())
			assert.Equal(t, tt.objectID, got.Change.ObjectID)
			assert.NotNil(t, got.Change.Data, "the REST serialization is kept")
		})
	}
}

func TestSameBodyTwiceIsStoredOnce(t *testing.T) {
	s := jstest.StartProvisioned(t)
	srv := startIngest(t, s.JS, Options{})
	body := testdata(t, "netbox-4.6-site-created.json")
	first := post(t, srv.URL+PathNetBox, nil, body).accepted(t)
	second := post(t, srv.URL+PathNetBox, nil, body).accepted(t)
	assert.False(t, first.Duplicate)
	assert.True(t, second.Duplicate)
	assert.Equal(t, first.ID, second.ID)
	assert.Equal(t, first.StreamSeq, second.StreamSeq)
	assert.Len(t, stored(t, s.JS), 1)
}

func sign(secret, body []byte) string {
	mac := hmac.New(sha512.New, secret)
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

func TestSignature(t *testing.T) {
	s := jstest.StartProvisioned(t)
	secret := []byte("s3cret-shared-with-netbox")
	logs := &jstest.LogBuffer{}
	srv := startIngest(t, s.JS, Options{Secret: secret, Logger: slogTo(logs)})
	body := testdata(t, "netbox-4.6-site-created.json")

	tests := []struct {
		name      string
		signature string
		want      string
	}{
		{"missing", "", "no X-Hook-Signature header"},
		{"wrong secret", sign([]byte("other"), body), "X-Hook-Signature does not match the body"},
		{"not hex", "zz", "X-Hook-Signature does not match the body"},
		{"of another body", sign(secret, append(body, ' ')), "X-Hook-Signature does not match the body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.signature != "" {
				h.Set(webhook.HeaderSignature, tt.signature)
			}
			for _, path := range []string{PathNetBox, PathNautobot, PathChanges} {
				r := post(t, srv.URL+path, h, body)
				assert.Equal(t, http.StatusUnauthorized, r.status, path)
				assert.Contains(t, r.reason(t), tt.want)
			}
		})
	}
	assert.Empty(t, stored(t, s.JS), "nothing is stored without a good signature")

	// Malformed JSON behind a bad signature is a 401: nothing is parsed first.
	r := post(t, srv.URL+PathNetBox, http.Header{webhook.HeaderSignature: {"00"}}, []byte("{not json"))
	assert.Equal(t, http.StatusUnauthorized, r.status)

	good := post(t, srv.URL+PathNetBox, http.Header{webhook.HeaderSignature: {sign(secret, body)}}, body)
	good.accepted(t)
	assert.Len(t, stored(t, s.JS), 1)
	assert.NotContains(t, logs.String(), string(secret))
	assert.NotContains(t, logs.String(), sign(secret, body))
}

func TestRefusals(t *testing.T) {
	s := jstest.StartProvisioned(t)
	srv := startIngest(t, s.JS, Options{MaxBody: 64 << 10})
	site := testdata(t, "netbox-4.6-site-created.json")
	tests := []struct {
		name   string
		path   string
		header http.Header
		body   string
		status int
		reason string
	}{
		{"malformed JSON", PathNetBox, nil, `{"event": "created",`, http.StatusBadRequest, "invalid JSON"},
		{"not an object", PathNautobot, nil, `"created"`, http.StatusBadRequest, "not a JSON object"},
		{"missing event", PathNetBox, nil, `{"object_type":"dcim.site","data":{"id":1}}`, http.StatusBadRequest, `no "event"`},
		{"missing data", PathNetBox, nil, `{"event":"created","object_type":"dcim.site"}`, http.StatusBadRequest, `no "data" object`},
		{"nautobot without app label", PathNautobot, nil, `{"event":"created","model":"device","data":{"id":"x"}}`, http.StatusBadRequest, "?content_type=<app_label>.device"},
		{"NetBox job event", PathNetBox, nil, `{"event":"job_ended","timestamp":"2026-03-06T15:11:23.503186+00:00","object_type":"core.job","data":{"log":[]}}`, http.StatusUnprocessableEntity, `event "job_ended"`},
		{"unknown event", PathNautobot, nil, `{"event":"archived","model":"device","data":{"object_type":"dcim.device"}}`, http.StatusUnprocessableEntity, `event "archived"`},
		{"not JSON", PathNetBox, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, `event=created`, http.StatusUnsupportedMediaType, `Content-Type "application/x-www-form-urlencoded"`},
		{"over the limit", PathNetBox, nil, `{"event":"created","object_type":"dcim.site","data":{"x":"` + strings.Repeat("a", 64<<10) + `"}}`, http.StatusRequestEntityTooLarge, "over 65536 bytes"},
		{"changes: not a CloudEvent", PathChanges, nil, string(site), http.StatusUnsupportedMediaType, "not a CloudEvent"},
		{"changes: missing source", PathChanges, http.Header{"Ce-Specversion": {"1.0"}, "Ce-Id": {"c-1"}, "Ce-Type": {"jobhooks.change.create"}}, `{"action":"create","content_type":"dcim.site","postchange":{}}`, http.StatusBadRequest, "source"},
		{"changes: invalid change", PathChanges, ceHeader("c-2", "jobhooks.change.create"), `{"action":"create","content_type":"dcim.site"}`, http.StatusBadRequest, "a create needs postchange"},
		{"changes: wrong type", PathChanges, ceHeader("c-3", "jobhooks.change.update"), `{"action":"create","content_type":"dcim.site","postchange":{}}`, http.StatusBadRequest, `want "jobhooks.change.create"`},
		{"changes: hookorigin over HTTP", PathChanges, withHeader(ceHeader("c-4", "jobhooks.change.create"), "Ce-Hookorigin", "serial-validator"), `{"action":"create","content_type":"dcim.site","postchange":{}}`, http.StatusBadRequest, "the hookorigin extension is set only by job hook receivers"},
		{"changes: causationid over HTTP", PathChanges, withHeader(ceHeader("c-5", "jobhooks.change.create"), "Ce-Causationid", "c-1"), `{"action":"create","content_type":"dcim.site","postchange":{}}`, http.StatusBadRequest, "the causationid extension"},
		{"changes: bad structured body", PathChanges, http.Header{"Content-Type": {"application/cloudevents+json"}}, `{"specversion":`, http.StatusBadRequest, "not a valid CloudEvent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := post(t, srv.URL+tt.path, tt.header, []byte(tt.body))
			assert.Equal(t, tt.status, r.status, "body: %s", r.body)
			assert.Contains(t, r.reason(t), tt.reason)
		})
	}
	assert.Empty(t, stored(t, s.JS), "no refused request stored anything")

	t.Run("other methods", func(t *testing.T) {
		resp, err := http.Get(srv.URL + PathNetBox)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
		assert.Equal(t, "POST", resp.Header.Get("Allow"))
	})
}

func ceHeader(id, typ string) http.Header {
	return http.Header{"Ce-Specversion": {"1.0"}, "Ce-Id": {id}, "Ce-Source": {"curl"}, "Ce-Type": {typ}}
}

func withHeader(h http.Header, name, value string) http.Header {
	h.Set(name, value)
	return h
}

// Beyond MaxInFlight requests at once, a request is answered 503 at once,
// before its body is read.
func TestBusy(t *testing.T) {
	s := jstest.StartProvisioned(t)
	h := New(s.JS, Options{MaxInFlight: 1})
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	body := testdata(t, "netbox-4.6-site-created.json")

	pr, pw := io.Pipe()
	first := make(chan response, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+PathNetBox, pr)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			first <- response{}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		first <- response{status: resp.StatusCode, header: resp.Header, body: b}
	}()
	_, err := pw.Write(body[:10])
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(h.inFlight) == 1 }, 10*time.Second, time.Millisecond, "the first request holds the slot")

	busy := post(t, srv.URL+PathNetBox, nil, body)
	assert.Equal(t, http.StatusServiceUnavailable, busy.status)
	assert.Equal(t, "1", busy.header.Get("Retry-After"))
	assert.Contains(t, busy.reason(t), "busy: 1 requests in flight")

	_, err = pw.Write(body[10:])
	require.NoError(t, err)
	require.NoError(t, pw.Close())
	(<-first).accepted(t)
	post(t, srv.URL+PathNetBox, nil, body).accepted(t) // the slot is free again
}

// A JetStream that does not store the change (here: no CHANGES stream)
// gets 503 and stores nothing; the retry after it is back is stored once.
func TestNoStreamThenBack(t *testing.T) {
	s := jstest.StartProvisioned(t)
	srv := startIngest(t, s.JS, Options{PublishTimeout: 2 * time.Second})
	ctx := context.Background()
	require.NoError(t, s.JS.DeleteStream(ctx, jhjs.StreamChanges))
	body := testdata(t, "netbox-4.3-device-updated.json")

	r := post(t, srv.URL+PathNetBox, nil, body)
	assert.Equal(t, http.StatusServiceUnavailable, r.status)
	assert.Contains(t, r.reason(t), "JetStream did not store the change")

	_, err := jhjs.Provision(ctx, s.JS, jhjs.DefaultConfig(), nil)
	require.NoError(t, err)
	a := post(t, srv.URL+PathNetBox, nil, body).accepted(t)
	assert.False(t, a.Duplicate)
	assert.Len(t, stored(t, s.JS), 1)
}

func TestCloudEventsOverHTTP(t *testing.T) {
	s := jstest.StartProvisioned(t)
	srv := startIngest(t, s.JS, Options{})
	data := `{"action":"update","content_type":"dcim.device","object_id":"9","prechange":{"serial":"A"},"postchange":{"serial":"B"}}`

	binary := post(t, srv.URL+PathChanges, ceHeader("change-binary", "jobhooks.change.update"), []byte(data)).accepted(t)
	assert.Equal(t, "change-binary", binary.ID)
	assert.Equal(t, "changes.dcim.device.update", binary.Subject)

	structured := `{"specversion":"1.0","id":"change-structured","source":"nautobot://prod","type":"jobhooks.change.update","datacontenttype":"application/json","data":` + data + `}`
	a := post(t, srv.URL+PathChanges, http.Header{"Content-Type": {"application/cloudevents+json"}}, []byte(structured)).accepted(t)
	assert.Equal(t, "change-structured", a.ID)

	again := post(t, srv.URL+PathChanges, ceHeader("change-binary", "jobhooks.change.update"), []byte(data)).accepted(t)
	assert.True(t, again.Duplicate, "a CloudEvent's id is its change id")

	all := stored(t, s.JS)
	require.Len(t, all, 2)
	assert.Equal(t, "curl", all[0].Event.Source())
	assert.Equal(t, "nautobot://prod", all[1].Event.Source())
	assert.Equal(t, "B", all[1].Change.PostChange["serial"])
}

func TestOverTheServersMaxPayload(t *testing.T) {
	s := jstest.StartProvisioned(t)
	srv := startIngest(t, s.JS, Options{MaxBody: 4 << 20})
	big := `{"event":"created","object_type":"dcim.site","data":{"comments":"` + strings.Repeat("x", int(s.Conn.MaxPayload())) + `"}}`
	r := post(t, srv.URL+PathNetBox, nil, []byte(big))
	assert.Equal(t, http.StatusRequestEntityTooLarge, r.status)
	assert.Contains(t, r.reason(t), "max payload")
	assert.Empty(t, stored(t, s.JS))
}

// With NATS gone a request gets 503 and nothing; once NATS is back the same
// request is stored, once.
func TestNATSDownThenBack(t *testing.T) {
	dir := t.TempDir()
	srv1, err := jhjs.StartEmbedded(jhjs.EmbeddedOptions{Listen: "127.0.0.1:0", StoreDir: dir})
	require.NoError(t, err)
	url := srv1.ClientURL()
	listen := strings.TrimPrefix(url, "nats://")
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx := context.Background()
	_, err = jhjs.Provision(ctx, js, jhjs.DefaultConfig(), nil)
	require.NoError(t, err)
	httpSrv := startIngest(t, js, Options{PublishTimeout: 2 * time.Second})
	body := testdata(t, "nautobot-2-device-updated.json")

	stopCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, srv1.Shutdown(stopCtx))
	require.Eventually(t, func() bool { return !nc.IsConnected() }, 10*time.Second, 10*time.Millisecond)

	down := post(t, httpSrv.URL+PathNautobot, nil, body)
	assert.Equal(t, http.StatusServiceUnavailable, down.status)
	assert.Equal(t, "5", down.header.Get("Retry-After"))
	assert.Contains(t, down.reason(t), "not connected to NATS")

	srv2, err := jhjs.StartEmbedded(jhjs.EmbeddedOptions{Listen: listen, StoreDir: dir})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		assert.NoError(t, srv2.Shutdown(ctx))
	})
	require.Eventually(t, nc.IsConnected, 20*time.Second, 10*time.Millisecond)

	back := post(t, httpSrv.URL+PathNautobot, nil, body).accepted(t)
	assert.False(t, back.Duplicate, "the 503 stored nothing")
	assert.Len(t, stored(t, js), 1)
	assert.True(t, post(t, httpSrv.URL+PathNautobot, nil, body).accepted(t).Duplicate)
	assert.Len(t, stored(t, js), 1)
}

func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
