package hookconfig_test

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/hookconfig"
)

const webhookSchema = `{
	"type": "object",
	"properties": {
		"url": {"type": "string", "pattern": "^https?://"},
		"headers": {"type": "object", "additionalProperties": {"type": "string"}},
		"retries": {"type": "integer", "minimum": 0},
		"targets": {"type": "array", "items": {"type": "string"}}
	},
	"required": ["url"],
	"additionalProperties": false
}`

// registerSchemaJob registers an enabled job with a params schema.
func (e *env) registerSchemaJob(t testing.TB, name, schema string) {
	t.Helper()
	_, err := e.jobs.Put(t.Context(), &hookconfig.Job{Name: name, Enabled: true, ParamsSchema: json.RawMessage(schema), RegisteredAt: time.Now().UTC()})
	require.NoError(t, err)
}

func TestStorePutParamsSchema(t *testing.T) {
	tests := []struct {
		name    string
		job     string // job of the hook: "wh" has webhookSchema, "free" none, "broken" a bad schema
		params  string
		enabled *bool
		err     error
		want    string // the error text; "" for success
	}{
		{name: "valid", job: "wh", params: `{"url": "https://example.com/hook", "retries": 3}`},
		{name: "no schema: anything goes", job: "free", params: `{"whatever": [1, 2]}`},
		{name: "no schema, no params", job: "free"},
		{
			name: "absent params are an empty object", job: "wh",
			err:  hookconfig.ErrInvalidHook,
			want: `invalid hook "x": params: missing property 'url'`,
		},
		{
			name: "wrong type, named by path", job: "wh", params: `{"url": 7}`,
			err:  hookconfig.ErrInvalidHook,
			want: `invalid hook "x": params.url: got number, want string`,
		},
		{
			name: "every problem is named", job: "wh", params: `{"url": "ftp://x", "retries": -1, "targets": ["a", 2]}`,
			err:  hookconfig.ErrInvalidHook,
			want: `invalid hook "x": params.retries: minimum: got -1, want 0; params.targets[1]: got number, want string; params.url: 'ftp://x' does not match pattern '^https?://'`,
		},
		{
			name: "array index in the path", job: "wh", params: `{"url": "https://x", "targets": ["a", 2]}`,
			err:  hookconfig.ErrInvalidHook,
			want: `invalid hook "x": params.targets[1]: got number, want string`,
		},
		{
			name: "odd keys are quoted", job: "wh", params: `{"url": "https://x", "headers": {"X Weird": 1}}`,
			err:  hookconfig.ErrInvalidHook,
			want: `invalid hook "x": params.headers["X Weird"]: got number, want string`,
		},
		{
			name: "unknown param", job: "wh", params: `{"url": "https://x", "uri": "y"}`,
			err:  hookconfig.ErrInvalidHook,
			want: `invalid hook "x": params: additional properties 'uri' not allowed`,
		},
		{name: "a disabled hook is not checked (enabling it is)", job: "wh", params: `{"url": 1}`, enabled: new(false)},
		{
			name: "a schema that does not compile", job: "broken", params: `{}`,
			err:  hookconfig.ErrInvalidJob,
			want: `hook "x": job "broken" registered a params schema that does not compile (fix its receiver)`,
		},
	}
	e := newEnv(t)
	e.registerSchemaJob(t, "wh", webhookSchema)
	e.registerSchemaJob(t, "broken", `{"type": "objekt"}`)
	e.registerJob(t, "free", true)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := hook("x", tt.job, cts("dcim.device"), create)
			if tt.params != "" {
				h.Params = json.RawMessage(tt.params)
			}
			if tt.enabled != nil {
				h.Enabled = *tt.enabled
			}
			_, err := e.store.Put(t.Context(), h, 0)
			if tt.want == "" {
				require.NoError(t, err)
				require.NoError(t, e.store.Delete(t.Context(), "x", 0))
				return
			}
			require.ErrorIs(t, err, tt.err)
			if tt.job == "broken" {
				assert.Contains(t, err.Error(), tt.want)
			} else {
				assert.EqualError(t, err, tt.want)
			}
			_, _, err = e.store.Get(t.Context(), "x")
			assert.ErrorIs(t, err, hookconfig.ErrNotFound, "a rejected hook must not be written")
		})
	}
}

// Concurrent puts share one compiled schema; run with -race.
func TestStorePutParamsSchemaConcurrent(t *testing.T) {
	e := newEnv(t)
	e.registerSchemaJob(t, "wh", webhookSchema)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			// Distinct content types: no conflicts between them.
			h := hook("h"+string(rune('a'+i)), "wh", cts("dcim."+string(rune('a'+i))), create)
			h.Params = json.RawMessage(`{"url": 1}`)
			_, err := e.store.Put(t.Context(), h, 0)
			assert.ErrorIs(t, err, hookconfig.ErrInvalidHook)
		})
	}
	wg.Wait()
}

// A job's schema may change under its hooks: disabling such a hook still
// works, enabling it checks the params again.
func TestStoreModifyParamsSchema(t *testing.T) {
	e := newEnv(t)
	e.registerJob(t, "wh", true)
	h := hook("x", "wh", cts("dcim.device"), create)
	h.Params = json.RawMessage(`{"uri":"https://x"}`)
	_, err := e.store.Put(t.Context(), h, 0)
	require.NoError(t, err)
	e.registerSchemaJob(t, "wh", webhookSchema) // a newer receiver

	_, _, err = e.store.Modify(t.Context(), "x", func(h *hookconfig.Hook) error { h.Enabled = false; return nil })
	require.NoError(t, err)
	_, _, err = e.store.Modify(t.Context(), "x", func(h *hookconfig.Hook) error { h.Enabled = true; return nil })
	require.ErrorIs(t, err, hookconfig.ErrInvalidHook)
	assert.EqualError(t, err, `invalid hook "x": params: additional properties 'uri' not allowed; params: missing property 'url'`)
}
