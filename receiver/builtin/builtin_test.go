package builtin_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
	"github.com/jobhooks/jobhooks/receiver"
	"github.com/jobhooks/jobhooks/receiver/builtin"
)

const waitFor = 20 * time.Second

type env struct {
	*jstest.Server
	t       *testing.T
	results *receiver.Results
}

// start runs the built-in jobs, enabled, against a fresh server.
func start(t *testing.T) *env {
	s := jstest.StartProvisioned(t)
	reg := receiver.NewRegistry()
	builtin.Register(reg)
	r := receiver.NewRunner(s.JS, reg, receiver.Options{EnableNew: true, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
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

func (e *env) run(hook, job, id string, ch *events.Change, params map[string]any) *receiver.Result {
	t := e.t
	if params != nil {
		data, err := json.Marshal(map[string]any{"name": hook, "content_types": []string{ch.ContentType}, "job": job,
			"enabled": true, "events": []string{"create", "update", "delete"}, "params": params})
		require.NoError(t, err)
		_, err = e.KV(t, jhjs.BucketJobHooks).Put(t.Context(), hook, data)
		require.NoError(t, err)
	}
	ev, err := events.NewEvent(ch, events.EventOptions{ID: id, Source: "test://nautobot"})
	require.NoError(t, err)
	msg, err := events.NewJobMsg(&events.ChangeEvent{Event: *ev, Change: *ch}, hook, job, map[string]any{"site": "ams"})
	require.NoError(t, err)
	_, err = e.JS.PublishMsg(t.Context(), msg)
	require.NoError(t, err)
	var res *receiver.Result
	require.Eventually(t, func() bool {
		res, err = e.results.Get(t.Context(), receiver.ResultKey(hook, events.ChangeKey("test://nautobot", id)))
		return err == nil && res.Status.Final()
	}, waitFor, 5*time.Millisecond)
	return res
}

func logs(res *receiver.Result) []string {
	var out []string
	for _, l := range res.Logs {
		out = append(out, string(l.Level)+": "+l.Message)
	}
	return out
}

func TestLogJob(t *testing.T) {
	t.Parallel()
	e := start(t)
	ch := &events.Change{Action: events.ActionUpdate, ContentType: "dcim.device", ObjectID: "7", ObjectRepr: "edge-07",
		User: "admin", PreChange: map[string]any{"serial": "A1"}, PostChange: map[string]any{"serial": "B2"}}
	res := e.run("log-all", builtin.JobLog, "c-1", ch, nil)
	assert.Equal(t, receiver.StatusCompleted, res.Status)
	assert.Equal(t, []string{
		"info: Running job log (attempt 1 of 5)",
		"info: update dcim.device edge-07 (id 7) by admin",
		`info: differences: {"added":{"serial":"B2"},"removed":{"serial":"A1"}}`,
		`info: context: {"site":"ams"}`,
		"success: Job completed",
	}, logs(res))
}

func TestSerialValidatorJob(t *testing.T) {
	t.Parallel()
	e := start(t)
	changes, err := e.JS.Stream(t.Context(), jhjs.StreamChanges)
	require.NoError(t, err)

	// A create with an invalid serial: cleared (Nautobot's example crashes).
	create := &events.Change{Action: events.ActionCreate, ContentType: "dcim.device", ObjectID: "1", ObjectRepr: "edge-01",
		User: "admin", PostChange: map[string]any{"name": "edge-01", "serial": "bad"}}
	res := e.run("serial-check", builtin.JobSerialValidator, "c-1", create, map[string]any{})
	assert.Equal(t, receiver.StatusCompleted, res.Status)
	assert.Contains(t, logs(res), `warning: serial "bad" is invalid (want ^[A-Z0-9-]{4,32}$) and there is no earlier one: cleared it`)
	raw, err := changes.GetLastMsgForSubject(t.Context(), "changes.dcim.device.update")
	require.NoError(t, err)
	fix, err := events.Decode(raw.Subject, raw.Header, raw.Data)
	require.NoError(t, err)
	assert.Equal(t, builtin.JobSerialValidator, fix.HookOrigin())
	assert.Equal(t, "c-1", fix.CausationID())
	assert.Equal(t, "", fix.Change.PostChange["serial"])

	// An update to an invalid serial: reverted to the old one.
	update := &events.Change{Action: events.ActionUpdate, ContentType: "dcim.device", ObjectID: "2", ObjectRepr: "edge-02",
		PreChange: map[string]any{"serial": "GOOD-1"}, PostChange: map[string]any{"serial": "bad"}}
	res = e.run("serial-check", builtin.JobSerialValidator, "c-2", update, nil)
	assert.Equal(t, receiver.StatusCompleted, res.Status)
	raw, err = changes.GetLastMsgForSubject(t.Context(), "changes.dcim.device.update")
	require.NoError(t, err)
	fix, err = events.Decode(raw.Subject, raw.Header, raw.Data)
	require.NoError(t, err)
	assert.Equal(t, "c-2", fix.CausationID())
	assert.Equal(t, "GOOD-1", fix.Change.PostChange["serial"])
	assert.Equal(t, "bad", fix.Change.PreChange["serial"])

	// A valid serial under the hook's own pattern: success, nothing published.
	valid := &events.Change{Action: events.ActionCreate, ContentType: "dcim.device", ObjectID: "3",
		PostChange: map[string]any{"serial": "sn42"}}
	res = e.run("serial-lower", builtin.JobSerialValidator, "c-3", valid, map[string]any{"pattern": "^sn[0-9]+$"})
	assert.Equal(t, receiver.StatusCompleted, res.Status)
	assert.Contains(t, logs(res), `success: serial "sn42" is valid`)

	// A bad pattern is the hook's fault: failed, not retried.
	res = e.run("serial-broken", builtin.JobSerialValidator, "c-4", valid, map[string]any{"pattern": "("})
	assert.Equal(t, receiver.StatusFailed, res.Status)
	assert.Equal(t, 1, res.Attempts)

	info, err := changes.Info(t.Context())
	require.NoError(t, err)
	assert.Equal(t, uint64(2), info.State.Msgs, "two fixes published")
}
