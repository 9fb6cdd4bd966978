package hookconfig_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/conditions"
	"github.com/jobhooks/jobhooks/hookconfig"
)

func ptr[T any](v T) *T { return &v }

func TestDecodeHookFilters(t *testing.T) {
	const base = `"name": "h", "content_types": ["dcim.device"], "job": "j", "events": ["update"]`
	tests := []struct {
		name       string
		fields     string // added to base
		conditions string // want Conditions as stored; "" for none
		changed    []string
		skipNoop   *bool
		skips      bool // SkipsNoop
	}{
		{name: "none of them: skip_noop defaults to true", skips: true},
		{name: "skip_noop false", fields: `"skip_noop": false`, skipNoop: ptr(false), skips: false},
		{name: "skip_noop true, as written", fields: `"skip_noop": true`, skipNoop: ptr(true), skips: true},
		{name: "skip_noop null is as if absent", fields: `"skip_noop": null`, skips: true},
		{name: "changed_fields", fields: `"changed_fields": ["serial", "status", "_custom", "primary_ip4"]`,
			changed: []string{"serial", "status", "_custom", "primary_ip4"}, skips: true},
		{name: "changed_fields null is as if absent", fields: `"changed_fields": null`, skips: true},
		{name: "conditions are compacted", fields: "\"conditions\": {\"and\": [\n  {\"attr\": \"status.value\", \"value\": \"active\"},\n  {\"attr\": \"name\", \"value\": \"^a&b\", \"op\": \"regex\"}]}",
			conditions: `{"and":[{"attr":"status.value","value":"active"},{"attr":"name","value":"^a\u0026b","op":"regex"}]}`, skips: true},
		{name: "a bare condition", fields: `"conditions": {"attr": "serial", "op": "changed"}`,
			conditions: `{"attr":"serial","op":"changed"}`, skips: true},
		{name: "conditions null is as if absent", fields: `"conditions": null`, skips: true},
		{name: "all three", fields: `"conditions": {"attr": "status.value", "value": "active"}, "changed_fields": ["status"], "skip_noop": false`,
			conditions: `{"attr":"status.value","value":"active"}`, changed: []string{"status"}, skipNoop: ptr(false)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := `{` + base + `}`
			if tt.fields != "" {
				in = `{` + base + `, ` + tt.fields + `}`
			}
			h, err := hookconfig.DecodeHook([]byte(in))
			require.NoError(t, err)
			assert.Equal(t, tt.conditions, string(h.Conditions))
			assert.Equal(t, tt.changed, h.ChangedFields)
			assert.Equal(t, tt.skipNoop, h.SkipNoop)
			assert.Equal(t, tt.skips, h.SkipsNoop())
			if tt.conditions == "" {
				assert.Nil(t, h.ConditionSet())
			} else {
				assert.NotNil(t, h.ConditionSet(), "compiled when decoded")
			}
			assertRoundTrip(t, h)

			// What is absent stays absent when encoded: a default is not
			// written into a hook that never chose it.
			data, err := json.Marshal(h)
			require.NoError(t, err)
			for field, absent := range map[string]bool{
				`"skip_noop"`: tt.skipNoop == nil, `"changed_fields"`: tt.changed == nil, `"conditions"`: tt.conditions == "",
			} {
				assert.Equal(t, absent, !strings.Contains(string(data), field), "%s in %s", field, data)
			}
		})
	}
}

func TestDecodeHookFilterErrors(t *testing.T) {
	const base = `"name": "x", "content_types": ["dcim.device"], "job": "j", "events": ["update"]`
	tests := []struct {
		name   string
		fields string
		want   string
		is     error // wrapped besides ErrInvalidHook
	}{
		{"unknown op", `"conditions": {"attr": "status.value", "value": "active", "op": "bogus"}`,
			`invalid hook "x": conditions.op: unknown op "bogus": one of eq, gt, gte, lt, lte, in, contains, regex, changed, unchanged`, conditions.ErrUnknownOp},
		{"a bad regex, nested", `"conditions": {"and": [{"attr": "status.value", "value": "active"}, {"attr": "name", "value": "(", "op": "regex"}]}`,
			"invalid hook \"x\": conditions.and[1].value: regex \"(\" does not compile: missing closing ): `(`", conditions.ErrRegex},
		{"an op the value's type does not allow", `"conditions": {"attr": "serial", "value": "x", "op": "gt"}`,
			`invalid hook "x": conditions.op: "gt" is not allowed for a string value (a string value allows eq, contains, regex)`, conditions.ErrOpNotAllowed},
		{"a value where none is taken", `"conditions": {"attr": "serial", "value": 1, "op": "changed"}`,
			`invalid hook "x": conditions.value: "changed" takes no value: it compares attr between the prechange and postchange snapshots`, conditions.ErrValueNotTaken},
		{"conditions a list", `"conditions": [{"attr": "serial", "value": "x"}]`,
			`invalid hook "x": conditions: must be an object (a condition, or an "and"/"or" set), not a list`, conditions.ErrShape},
		{"changed_fields empty", `"changed_fields": []`,
			`invalid hook "x": changed_fields: at least one field name, or leave the field out (every update)`, nil},
		{"changed_fields an empty name", `"changed_fields": ["serial", ""]`,
			`invalid hook "x": changed_fields[1]: "": want a top-level key of the object, ^[A-Za-z_][A-Za-z0-9_]{0,99}$ (e.g. serial)`, nil},
		{"changed_fields a duplicate", `"changed_fields": ["serial", "status", "serial"]`,
			`invalid hook "x": changed_fields[2]: "serial" is already changed_fields[0]`, nil},
		{"changed_fields last_updated", `"changed_fields": ["last_updated"]`,
			`invalid hook "x": changed_fields[0]: "last_updated" is ignored when snapshots are compared (it changes on every save), so it never counts as changed: leave it out`, nil},
		{"changed_fields last_updated among others", `"changed_fields": ["serial", "last_updated"]`,
			`invalid hook "x": changed_fields[1]: "last_updated" is ignored when snapshots are compared (it changes on every save), so it never counts as changed: leave it out`, nil},
		{"changed_fields a nested path", `"changed_fields": ["status.value"]`,
			`invalid hook "x": changed_fields[0]: "status.value": a top-level key only; for a nested value use conditions with op "changed" (snapshots paths)`, nil},
		{"changed_fields a space", `"changed_fields": ["asset tag"]`,
			`invalid hook "x": changed_fields[0]: "asset tag": want a top-level key of the object, ^[A-Za-z_][A-Za-z0-9_]{0,99}$ (e.g. serial)`, nil},
		{"changed_fields a leading digit", `"changed_fields": ["4serial"]`,
			`invalid hook "x": changed_fields[0]: "4serial": want a top-level key of the object, ^[A-Za-z_][A-Za-z0-9_]{0,99}$ (e.g. serial)`, nil},
		{"changed_fields a name too long", `"changed_fields": ["` + strings.Repeat("s", 101) + `"]`,
			`invalid hook "x": changed_fields[0]: a field name of 101 bytes: want at most 100`, nil},
		{"changed_fields a string", `"changed_fields": "serial"`,
			`invalid hook "x": changed_fields: json: cannot unmarshal string into Go value of type []string`, nil},
		{"skip_noop a string", `"skip_noop": "no"`,
			`invalid hook "x": skip_noop: json: cannot unmarshal string into Go value of type bool`, nil},
		{"skip_noop twice", `"skip_noop": false, "skip_noop": true`,
			`invalid hook "x": duplicate field "skip_noop"`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := hookconfig.DecodeHook([]byte(`{` + base + `, ` + tt.fields + `}`))
			require.ErrorIs(t, err, hookconfig.ErrInvalidHook)
			if tt.is != nil {
				require.ErrorIs(t, err, tt.is)
			}
			assert.EqualError(t, err, tt.want)
			assert.Nil(t, h)
		})
	}
}

// Conditions are compiled once per change of the hook's conditions: an
// unchanged hook validated again keeps its Set, a changed one gets no Set
// until it is validated.
func TestConditionSetCompiledOnce(t *testing.T) {
	h := hook("h", "j", cts("dcim.device"), update)
	h.Conditions = json.RawMessage(`{"attr":"status.value","value":"active"}`)
	assert.Nil(t, h.ConditionSet(), "not compiled before Validate")
	require.NoError(t, h.Validate())
	set := h.ConditionSet()
	require.NotNil(t, set)
	require.NoError(t, h.Validate())
	assert.Same(t, set, h.ConditionSet(), "validating an unchanged hook again does not compile again")

	active := conditions.Input{Data: map[string]any{"status": map[string]any{"value": "active"}}}
	ok, _ := set.Eval(active)
	assert.True(t, ok)

	h.Conditions = json.RawMessage(`{"attr":"status.value","value":"planned"}`)
	assert.Nil(t, h.ConditionSet(), "a stale Set is never returned for changed conditions")
	require.NoError(t, h.Validate())
	require.NotNil(t, h.ConditionSet())
	ok, _ = h.ConditionSet().Eval(active)
	assert.False(t, ok, "the new conditions, not the old ones")

	h.Conditions = nil
	require.NoError(t, h.Validate())
	assert.Nil(t, h.ConditionSet())
}

func TestHookCloneFilters(t *testing.T) {
	h, err := hookconfig.DecodeHook([]byte(`{"name": "h", "content_types": ["dcim.*"], "job": "j", "events": ["update"],
		"conditions": {"attr": "serial", "op": "changed"}, "changed_fields": ["serial"], "skip_noop": false}`))
	require.NoError(t, err)
	c := h.Clone()
	require.Equal(t, h, c)
	assert.Same(t, h.ConditionSet(), c.ConditionSet(), "the immutable Set is shared")
	*c.SkipNoop = true
	c.ChangedFields[0] = "status"
	c.Conditions[2] = 'x'
	assert.False(t, h.SkipsNoop())
	assert.Equal(t, []string{"serial"}, h.ChangedFields)
	assert.JSONEq(t, `{"attr":"serial","op":"changed"}`, string(h.Conditions))
	assert.NotNil(t, h.ConditionSet())
	assert.Nil(t, c.ConditionSet(), "the copy's conditions changed")
}
