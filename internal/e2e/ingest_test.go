package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/hookconfig"
	"github.com/jobhooks/jobhooks/ingest"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/receiver"
	"github.com/jobhooks/jobhooks/receiver/builtin"
	"github.com/jobhooks/jobhooks/webhook"
)

// jobRuns records the changes a job ran for, by change id.
type jobRuns struct {
	mu   sync.Mutex
	runs map[string][]*receiver.Change
}

func (j *jobRuns) handle(_ context.Context, _ *receiver.Job, ch *receiver.Change, _ events.Action, _ map[string]any) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.runs[ch.ID] = append(j.runs[ch.ID], ch)
	return nil
}

func (j *jobRuns) of(id string) []*receiver.Change {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]*receiver.Change(nil), j.runs[id]...)
}

func postBody(t *testing.T, url string, body []byte) ingest.Accepted {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, "%s", b)
	var a ingest.Accepted
	require.NoError(t, json.Unmarshal(b, &a))
	return a
}

// NetBox 4.6, NetBox 4.3 and Nautobot 2.x webhook bodies posted to ingest
// run the hooks of their content type and action, with the source's REST
// serialization; the same body posted twice runs once.
func TestWebhookIngestRunsHooks(t *testing.T) {
	runs := &jobRuns{runs: map[string][]*receiver.Change{}}
	reg := receiver.NewRegistry()
	reg.HandleFunc("audit", receiver.JobInfo{}, runs.handle)
	sites := &hookconfig.Hook{Name: "audit-sites", Job: "audit", Enabled: true, ContentTypes: []string{"dcim.site"}, Events: []events.Action{events.ActionCreate}}
	devices := hook("audit-devices", "audit", events.ActionUpdate)
	p := newPipeline(t, reg, sites, devices)
	mux := http.NewServeMux()
	ingest.New(p.srv.JS, ingest.Options{}).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	tests := []struct {
		path, file, hook, subject, objectID string
	}{
		{ingest.PathNetBox, "netbox-4.6-site-created.json", "audit-sites", "changes.dcim.site.create", "4"},
		{ingest.PathNetBox, "netbox-4.3-device-updated.json", "audit-devices", "changes.dcim.device.update", "17"},
		{ingest.PathNautobot, "nautobot-2-device-updated.json", "audit-devices", "changes.dcim.device.update", "7f3e8a2c-1d4b-4e6f-9a8c-2b5d7e9f1a3c"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body, err := os.ReadFile("../../webhook/testdata/" + tt.file)
			require.NoError(t, err)
			a := postBody(t, srv.URL+tt.path, body)
			assert.Equal(t, tt.subject, a.Subject)
			source := ingest.SourceNetBox
			if tt.path == ingest.PathNautobot {
				source = ingest.SourceNautobot
			}
			r := p.resultFrom(tt.hook, source, a.ID)
			assert.Equal(t, receiver.StatusCompleted, r.Status)
			got := runs.of(a.ID)
			require.Len(t, got, 1)
			assert.Equal(t, tt.objectID, got[0].Change.ObjectID)
			var sent struct {
				Data map[string]any `json:"data"`
			}
			require.NoError(t, json.Unmarshal(body, &sent))
			assert.Equal(t, sent.Data, got[0].Change.Data, "the job sees the source's REST serialization")
		})
	}

	t.Run("the same body twice runs once", func(t *testing.T) {
		body, err := os.ReadFile("../../webhook/testdata/netbox-4.6-site-created.json")
		require.NoError(t, err)
		jobsBefore := p.streamMsgs(jhjs.StreamJobs)
		again := postBody(t, srv.URL+ingest.PathNetBox, body)
		assert.True(t, again.Duplicate)
		p.routed()
		assert.Equal(t, uint64(len(tests)), p.streamMsgs(jhjs.StreamChanges), "one change per body")
		assert.Equal(t, jobsBefore, p.streamMsgs(jhjs.StreamJobs), "no second job message")
		assert.Len(t, runs.of(again.ID), 1, "one job run")
	})
}

// A NetBox body in, through the webhook job, is a NetBox body out: a
// receiver written for NetBox's webhooks gets the same data.
func TestNetBoxInWebhookOut(t *testing.T) {
	delivered := make(chan []byte, 1)
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		delivered <- b
	}))
	t.Cleanup(endpoint.Close)
	reg := receiver.NewRegistry()
	builtin.Register(reg)
	params, err := json.Marshal(map[string]any{"url": endpoint.URL, "secret": "downstream"})
	require.NoError(t, err)
	forward := &hookconfig.Hook{Name: "forward-sites", Job: builtin.JobWebhook, Enabled: true,
		ContentTypes: []string{"dcim.site"}, Events: []events.Action{events.ActionCreate}, Params: params}
	p := newPipeline(t, reg, forward)
	mux := http.NewServeMux()
	ingest.New(p.srv.JS, ingest.Options{}).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	in, err := os.ReadFile("../../webhook/testdata/netbox-4.6-site-created.json")
	require.NoError(t, err)
	a := postBody(t, srv.URL+ingest.PathNetBox, in)
	require.Equal(t, receiver.StatusCompleted, p.resultFrom("forward-sites", ingest.SourceNetBox, a.ID).Status)
	out := <-delivered

	var sent, got webhook.Payload
	require.NoError(t, json.Unmarshal(in, &sent))
	require.NoError(t, json.Unmarshal(out, &got))
	assert.Equal(t, sent.Event, got.Event)
	assert.Equal(t, sent.ObjectType, got.ObjectType)
	assert.Equal(t, sent.Timestamp, got.Timestamp)
	assert.Equal(t, sent.Username, got.Username)
	assert.Equal(t, sent.RequestID, got.RequestID)
	assert.Equal(t, sent.Data, got.Data)
	assert.Equal(t, sent.Snapshots, got.Snapshots)
}
