package builtin_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/hookconfig"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
	"github.com/jobhooks/jobhooks/receiver"
	"github.com/jobhooks/jobhooks/receiver/builtin"
)

func TestCheckSerialParams(t *testing.T) {
	for _, tt := range []struct {
		params string
		want   string // error substring; "" for valid
	}{
		{``, ""},
		{`{}`, ""},
		{`{"pattern": ""}`, ""},
		{`{"pattern": "^[0-9]{8}$"}`, ""},
		{`{"pattern": "(unclosed"}`, "invalid params: pattern: error parsing regexp: missing closing )"},
		{`{"pattern": "(?<=lookbehind)x"}`, "invalid params: pattern: error parsing regexp"},
		{`{"pattern": 7}`, "invalid params"},
	} {
		t.Run(tt.params, func(t *testing.T) {
			err := builtin.CheckSerialParams(json.RawMessage(tt.params))
			if tt.want == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

// The schemas go through a real registration (receivers write them to the
// jobs bucket) and validated hook writes apply them.
func TestBuiltinParamsSchemas(t *testing.T) {
	s := jstest.StartProvisioned(t)
	reg := receiver.NewRegistry()
	noop := receiver.ReceiverFunc(func(context.Context, *receiver.Job, *receiver.Change, events.Action, map[string]any) error {
		return nil
	})
	reg.Handle(builtin.JobLog, receiver.JobInfo{ParamsSchema: builtin.LogParamsSchema}, noop)
	reg.Handle(builtin.JobSerialValidator, receiver.JobInfo{ParamsSchema: builtin.SerialParamsSchema, CheckParams: builtin.CheckSerialParams}, noop)
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
	store := hookconfig.NewStore(s.KV(t, jhjs.BucketJobHooks), hookconfig.NewJobs(s.KV(t, jhjs.BucketJobs)))

	for _, tt := range []struct {
		name, job, params string
		want              string // the error; "" for valid
	}{
		{"serial: no params", builtin.JobSerialValidator, ``, ""},
		{"serial: a pattern", builtin.JobSerialValidator, `{"pattern": "^[0-9]+$"}`, ""},
		{"serial: pattern not a string", builtin.JobSerialValidator, `{"pattern": ["^x$"]}`, `invalid hook "h": params.pattern: got array, want string`},
		{"serial: misspelt", builtin.JobSerialValidator, `{"patern": "^x$"}`, `invalid hook "h": params: additional properties 'patern' not allowed`},
		{"log: no params", builtin.JobLog, ``, ""},
		{"log: empty params", builtin.JobLog, `{}`, ""},
		{"log: any param is refused", builtin.JobLog, `{"url": "https://x"}`, `invalid hook "h": params: additional properties 'url' not allowed`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := &hookconfig.Hook{Name: "h", ContentTypes: []string{"dcim.device"}, Job: tt.job, Enabled: true, Events: []events.Action{events.ActionCreate}}
			if tt.params != "" {
				h.Params = json.RawMessage(tt.params)
			}
			_, err := store.Put(t.Context(), h, 0)
			if tt.want == "" {
				require.NoError(t, err)
				require.NoError(t, store.Delete(t.Context(), "h", 0))
				return
			}
			require.ErrorIs(t, err, hookconfig.ErrInvalidHook)
			assert.EqualError(t, err, tt.want)
		})
	}
}
