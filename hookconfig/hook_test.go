package hookconfig_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/hookconfig"
)

const (
	wantContentType = `want <app_label>.<model>, lower-case tokens matching [a-z][a-z0-9_]* (e.g. dcim.device)`
	wantJobName     = `want 1-64 characters of a-z, 0-9, '_' and '-', starting with a letter or digit`
	wantHookName    = `want 1-128 characters of A-Z, a-z, 0-9, '_' and '-', starting with a letter or digit`
	wantFields      = `(want name, content_types, job, enabled, events, params, conditions, changed_fields, skip_noop)`
)

func TestDecodeHook(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want *hookconfig.Hook
	}{
		{
			name: "the contract's example",
			in:   `{"name": "serial-check", "content_types": ["dcim.device"], "job": "serial-validator", "enabled": true, "events": ["create", "update"], "params": {}}`,
			want: &hookconfig.Hook{Name: "serial-check", ContentTypes: []string{"dcim.device"}, Job: "serial-validator",
				Enabled: true, Events: []events.Action{"create", "update"}, Params: json.RawMessage(`{}`)},
		},
		{
			name: "enabled defaults to true, as in Nautobot",
			in:   `{"name": "h", "content_types": ["dcim.device"], "job": "j", "events": ["delete"]}`,
			want: &hookconfig.Hook{Name: "h", ContentTypes: []string{"dcim.device"}, Job: "j", Enabled: true, Events: []events.Action{"delete"}},
		},
		{
			name: "an explicit false stays false",
			in:   `{"enabled": false, "name": "h", "content_types": ["dcim.device"], "job": "j", "events": ["delete"]}`,
			want: &hookconfig.Hook{Name: "h", ContentTypes: []string{"dcim.device"}, Job: "j", Enabled: false, Events: []events.Action{"delete"}},
		},
		{
			name: "enabled null is as if absent",
			in:   `{"enabled": null, "name": "h", "content_types": ["dcim.device"], "job": "j", "events": ["delete"]}`,
			want: &hookconfig.Hook{Name: "h", ContentTypes: []string{"dcim.device"}, Job: "j", Enabled: true, Events: []events.Action{"delete"}},
		},
		{
			name: "params null is as if absent",
			in:   `{"name": "h", "content_types": ["dcim.device"], "job": "j", "events": ["delete"], "params": null}`,
			want: &hookconfig.Hook{Name: "h", ContentTypes: []string{"dcim.device"}, Job: "j", Enabled: true, Events: []events.Action{"delete"}},
		},
		{
			name: "params are compacted as json.Marshal writes them",
			in:   "{\"name\": \"h\", \"content_types\": [\"dcim.device\"], \"job\": \"j\", \"events\": [\"delete\"],\n \"params\": {\"url\": \"https://x/?a=1&b=2\", \"n\": [1, 2.50]}}\n",
			want: &hookconfig.Hook{Name: "h", ContentTypes: []string{"dcim.device"}, Job: "j", Enabled: true, Events: []events.Action{"delete"},
				Params: json.RawMessage(`{"url":"https://x/?a=1\u0026b=2","n":[1,2.50]}`)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := hookconfig.DecodeHook([]byte(tt.in))
			require.NoError(t, err)
			assert.Equal(t, tt.want, h)
			assertRoundTrip(t, h)
		})
	}
}

func TestDecodeHookErrors(t *testing.T) {
	const valid = `"content_types": ["dcim.device"], "job": "serial-validator", "events": ["update"]`
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", ``, `invalid hook: empty document: want a JSON object`},
		{"not an object", `["dcim.device"]`, `invalid hook: want a JSON object, got an array`},
		{"syntax error", `{"name": "x",}`, `invalid hook "x": invalid character '}' looking for beginning of object key string`},
		{"unknown field", `{"name": "x", ` + valid + `, "filter": {"status": "active"}}`,
			`invalid hook "x": unknown field "filter" ` + wantFields},
		{"unknown field before the name", `{"type_create": true, "name": "x", ` + valid + `}`,
			`invalid hook: unknown field "type_create" ` + wantFields},
		{"field names are case-sensitive", `{"Name": "x", ` + valid + `}`,
			`invalid hook: unknown field "Name" ` + wantFields},
		{"duplicate field", `{"name": "x", ` + valid + `, "job": "other"}`,
			`invalid hook "x": duplicate field "job"`},
		{"events not a list", `{"name": "x", "content_types": ["dcim.device"], "job": "j", "events": "update"}`,
			`invalid hook "x": events: json: cannot unmarshal string into Go value of type []events.Action`},
		{"name a number", `{"name": 7, ` + valid + `}`,
			`invalid hook: name: json: cannot unmarshal number into Go value of type string`},
		{"enabled a string", `{"name": "x", ` + valid + `, "enabled": "yes"}`,
			`invalid hook "x": enabled: json: cannot unmarshal string into Go value of type bool`},
		{"trailing object", `{"name": "x", ` + valid + `} {}`,
			`invalid hook "x": data after the hook object: an object`},
		{"trailing garbage", `{"name": "x", ` + valid + `}x`,
			`invalid hook "x": data after the hook object: invalid character 'x' looking for beginning of value`},
		{"unterminated", `{"name": "x", ` + valid,
			`invalid hook "x": the object is not closed: unexpected EOF`},

		// Validation, through DecodeHook.
		{"no name", `{` + valid + `}`, `invalid hook: name: invalid hook name "": ` + wantHookName},
		{"name with a dot", `{"name": "a.b", ` + valid + `}`, `invalid hook: name: invalid hook name "a.b": ` + wantHookName},
		{"name too long", `{"name": "` + strings.Repeat("n", 129) + `", ` + valid + `}`,
			`invalid hook: name: invalid hook name "` + strings.Repeat("n", 129) + `": ` + wantHookName},
		{"no content types", `{"name": "x", "content_types": [], "job": "j", "events": ["update"]}`,
			`invalid hook "x": content_types: at least one content type is required (e.g. ["dcim.device"])`},
		{"content types absent", `{"name": "x", "job": "j", "events": ["update"]}`,
			`invalid hook "x": content_types: at least one content type is required (e.g. ["dcim.device"])`},
		{"upper-case content type", `{"name": "x", "content_types": ["dcim.device", "DCIM.device"], "job": "j", "events": ["update"]}`,
			`invalid hook "x": content_types[1]: invalid content type "DCIM.device": ` + wantContentType},
		{"content type without a model", `{"name": "x", "content_types": ["dcim"], "job": "j", "events": ["update"]}`,
			`invalid hook "x": content_types[0]: invalid content type "dcim": ` + wantContentType},
		{"duplicate content type", `{"name": "x", "content_types": ["dcim.device", "ipam.prefix", "dcim.device"], "job": "j", "events": ["update"]}`,
			`invalid hook "x": content_types[2]: "dcim.device" is already content_types[0]`},
		{"no job", `{"name": "x", "content_types": ["dcim.device"], "events": ["update"]}`,
			`invalid hook "x": job: invalid job name "": ` + wantJobName},
		{"job with a dot", `{"name": "x", "content_types": ["dcim.device"], "job": "jobs.x", "events": ["update"]}`,
			`invalid hook "x": job: invalid job name "jobs.x": ` + wantJobName},
		{"no events", `{"name": "x", "content_types": ["dcim.device"], "job": "j", "events": []}`,
			`invalid hook "x": events: at least one event is required: create, update and/or delete`},
		{"Nautobot's type flag as an event", `{"name": "x", "content_types": ["dcim.device"], "job": "j", "events": ["type_update"]}`,
			`invalid hook "x": events[0]: invalid action "type_update": want create, update or delete`},
		{"duplicate event", `{"name": "x", "content_types": ["dcim.device"], "job": "j", "events": ["update", "delete", "update"]}`,
			`invalid hook "x": events[2]: "update" is already events[0]`},
		{"params a list", `{"name": "x", ` + valid + `, "params": ["https://example.com"]}`,
			`invalid hook "x": params: want a JSON object (or null), got an array`},
		{"params a string", `{"name": "x", ` + valid + `, "params": "https://example.com"}`,
			`invalid hook "x": params: want a JSON object (or null), got a string`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := hookconfig.DecodeHook([]byte(tt.in))
			require.ErrorIs(t, err, hookconfig.ErrInvalidHook)
			assert.EqualError(t, err, tt.want)
			assert.Nil(t, h)
		})
	}
}

func TestValidateWrapsNameErrors(t *testing.T) {
	h := &hookconfig.Hook{Name: "x", ContentTypes: []string{"Dcim.Device"}, Job: "j", Events: []events.Action{"update"}}
	err := h.Validate()
	require.ErrorIs(t, err, hookconfig.ErrInvalidHook)
	require.ErrorIs(t, err, events.ErrInvalidContentType)

	h = &hookconfig.Hook{Name: "x", ContentTypes: []string{"dcim.device"}, Job: "j", Events: []events.Action{"update"}, Params: json.RawMessage(`{"a":`)}
	require.EqualError(t, h.Validate(), `invalid hook "x": params: not valid JSON`)
}

func TestHookMatches(t *testing.T) {
	h := &hookconfig.Hook{Name: "x", ContentTypes: []string{"dcim.device", "ipam.prefix"}, Job: "j",
		Events: []events.Action{events.ActionCreate, events.ActionDelete}}
	tests := []struct {
		contentType string
		action      events.Action
		want        bool
	}{
		{"dcim.device", events.ActionCreate, true},
		{"ipam.prefix", events.ActionDelete, true},
		{"dcim.device", events.ActionUpdate, false},
		{"dcim.interface", events.ActionCreate, false},
		{"dcim", events.ActionCreate, false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, h.Matches(tt.contentType, tt.action), "%s %s", tt.contentType, tt.action)
	}
}

func TestHookClone(t *testing.T) {
	h := &hookconfig.Hook{Name: "x", ContentTypes: []string{"dcim.device"}, Job: "j", Enabled: true,
		Events: []events.Action{events.ActionCreate}, Params: json.RawMessage(`{"a":1}`)}
	c := h.Clone()
	require.Equal(t, h, c)
	c.ContentTypes[0] = "ipam.prefix"
	c.Events[0] = events.ActionDelete
	c.Params[1] = 'b'
	assert.Equal(t, []string{"dcim.device"}, h.ContentTypes)
	assert.Equal(t, []events.Action{events.ActionCreate}, h.Events)
	assert.JSONEq(t, `{"a":1}`, string(h.Params))
}

// assertRoundTrip checks that encoding h and decoding it again gives h.
func assertRoundTrip(t *testing.T, h *hookconfig.Hook) {
	t.Helper()
	data, err := json.Marshal(h)
	require.NoError(t, err)
	again, err := hookconfig.DecodeHook(data)
	require.NoError(t, err, "decode %s", data)
	require.Equal(t, h, again, "encoded as %s", data)
}

func FuzzDecodeHook(f *testing.F) {
	for _, seed := range []string{
		`{"name": "serial-check", "content_types": ["dcim.device"], "job": "serial-validator", "enabled": true, "events": ["create", "update"], "params": {}}`,
		`{"name": "h", "content_types": ["dcim.device", "ipam.prefix"], "job": "webhook", "events": ["delete"], "params": {"url": "https://x/?a=<b>&c", "headers": {"X": ["1"]}}}`,
		`{"name": "h", "content_types": ["dcim.device"], "job": "j", "enabled": false, "events": ["update"], "params": null}`,
		`{"name": "h", "content_types": ["dcim.device"], "job": "j", "events": ["update"], "filter": 1}`,
		`{"Name": "h", "content_types": ["dcim.device"], "job": "j", "events": ["update"]}`,
		`{"name": "h", "name": "i", "content_types": ["dcim.device"], "job": "j", "events": ["update"]}`,
		`{"name": 1, "content_types": "dcim.device", "job": true, "events": [1]}`,
		`{"name": "h", "content_types": ["dcim.device"], "job": "j", "events": ["update"], "params": [1, 2]}`,
		`{"name": "` + strings.Repeat("h", 128) + `", "content_types": ["dcim.device"], "job": "` + strings.Repeat("j", 64) + `", "events": ["update"]}`,
		`{"name": "` + strings.Repeat("h", 5000) + `", "content_types": ["dcim.device"], "job": "j", "events": ["update"]}`,
		`{"name": "h", "content_types": ["dcim.device"], "job": "j", "events": ["update"]} {}`,
		`{"name": "h", "content_types": ["dcim.device"], "job": "j", "events": ["update"]}x`,
		`{"name": "h", "content_types": ["dcim.device"], "job": "j", "events": ["update"], "params": {"s": "\u2028\ud800"}}`,
		`{"name": "h", "content_types": ["dcim.*", "ipam.prefix"], "job": "j", "events": ["update"], "conditions": {"and": [{"attr": "status.value", "value": "active"}, {"or": [{"attr": "tags.slug", "op": "contains", "value": "core"}, {"attr": "name", "op": "regex", "value": "^edge-[0-9]+"}]}]}, "changed_fields": ["status", "tags"], "skip_noop": false}`,
		`{"name": "h", "content_types": ["*"], "job": "j", "events": ["update"], "conditions": {"attr": "snapshots.postchange.serial", "op": "changed", "negate": true}, "skip_noop": true}`,
		`{"name": "h", "content_types": ["dcim.device"], "job": "j", "events": ["update"], "conditions": {"attr": "serial", "value": 1e400, "op": "gt"}}`,
		`{"name": "h", "content_types": ["dcim.device"], "job": "j", "events": ["update"], "conditions": {"AND": [{"attr": "a", "value": [1, "x", null], "op": "in"}]}}`,
		`{"name": "h", "content_types": ["dcim.device"], "job": "j", "events": ["update"], "conditions": null, "changed_fields": null, "skip_noop": null}`,
		`{"name": "h", "content_types": ["dcim.device"], "job": "j", "events": ["update"], "conditions": {"attr": "x", "op": "bogus"}}`,
		`{"name": "h", "content_types": ["dcim.device", "dcim.*"], "job": "j", "events": ["update"]}`,
		`{"name": "h", "content_types": ["dcim.dev*", "*.*"], "job": "j", "events": ["update"], "changed_fields": ["a.b", ""]}`,
		`{"name": "h", "content_types": ["dcim.device"], "job": "j", "events": ["update"], "conditions": {}, "changed_fields": []}`,
		``, `null`, `[]`, `{}`, `{"name":`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := hookconfig.DecodeHook(data)
		if err != nil {
			if !errors.Is(err, hookconfig.ErrInvalidHook) {
				t.Fatalf("error does not wrap ErrInvalidHook: %v", err)
			}
			if h != nil {
				t.Fatalf("hook %+v returned with error %v", h, err)
			}
			return
		}
		if err := h.Validate(); err != nil {
			t.Fatalf("decoded hook does not validate: %v", err)
		}
		encoded, err := json.Marshal(h)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		again, err := hookconfig.DecodeHook(encoded)
		if err != nil {
			t.Fatalf("decode %s: %v", encoded, err)
		}
		assert.Equal(t, h, again, "encoded as %s", encoded)
	})
}

// The watcher validates whatever is stored; a hook with very many content
// types must not make that quadratic.
func TestValidateManyContentTypes(t *testing.T) {
	h := &hookconfig.Hook{Name: "x", Job: "j", Events: []events.Action{events.ActionCreate}}
	for i := range 100_000 {
		h.ContentTypes = append(h.ContentTypes, fmt.Sprintf("app.model_%d", i))
	}
	start := time.Now()
	require.NoError(t, h.Validate())
	assert.Less(t, time.Since(start), 3*time.Second, "quadratic duplicate check?")
}
