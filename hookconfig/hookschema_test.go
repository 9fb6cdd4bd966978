package hookconfig_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/hookconfig"
)

// docs/hook.schema.json, for editors, must agree with DecodeHook on what
// a hook file is.
func TestHookFileSchema(t *testing.T) {
	raw, err := os.ReadFile("../docs/hook.schema.json")
	require.NoError(t, err)
	sch, err := hookconfig.CompileSchema(raw)
	require.NoError(t, err)

	example, err := os.ReadFile("../examples/serial-check.json")
	require.NoError(t, err)
	require.NoError(t, hookconfig.ValidateAgainst(sch, "hook", example), "examples/serial-check.json")

	for _, tt := range []struct {
		name, doc string
		want      string // the schema's error; "" for a valid hook
	}{
		{"minimal", `{"name":"h","content_types":["dcim.device"],"job":"log","events":["delete"]}`, ""},
		{"null params", `{"name":"h","content_types":["dcim.device"],"job":"log","events":["delete"],"params":null}`, ""},
		{"patterns", `{"name":"h","content_types":["dcim.*","ipam.prefix"],"job":"log","events":["update"]}`, ""},
		{"every content type", `{"name":"h","content_types":["*"],"job":"log","events":["update"]}`, ""},
		{"the filters", `{"name":"h","content_types":["dcim.device"],"job":"log","events":["update"],"conditions":{"attr":"status.value","value":"active"},"changed_fields":["status","serial"],"skip_noop":false}`, ""},
		{"the filters null", `{"name":"h","content_types":["dcim.device"],"job":"log","events":["update"],"conditions":null,"changed_fields":null,"skip_noop":null}`, ""},
		{"a bad pattern", `{"name":"h","content_types":["dcim.dev*"],"job":"log","events":["update"]}`,
			`hook.content_types[0]: 'dcim.dev*' does not match pattern '^(\\*|[a-z][a-z0-9_]*\\.(\\*|[a-z][a-z0-9_]*))$'`},
		{"conditions a list", `{"name":"h","content_types":["dcim.device"],"job":"log","events":["update"],"conditions":[]}`,
			"hook.conditions: got array, want null or object"},
		{"changed_fields empty", `{"name":"h","content_types":["dcim.device"],"job":"log","events":["update"],"changed_fields":[]}`,
			"hook.changed_fields: minItems: got 0, want 1"},
		{"changed_fields a nested path", `{"name":"h","content_types":["dcim.device"],"job":"log","events":["update"],"changed_fields":["status.value"]}`,
			"hook.changed_fields[0]: 'status.value' does not match pattern '^[A-Za-z_][A-Za-z0-9_]{0,99}$'"},
		{"changed_fields a duplicate", `{"name":"h","content_types":["dcim.device"],"job":"log","events":["update"],"changed_fields":["a","a"]}`,
			"hook.changed_fields: items at 0 and 1 are equal"},
		{"skip_noop a string", `{"name":"h","content_types":["dcim.device"],"job":"log","events":["update"],"skip_noop":"no"}`,
			"hook.skip_noop: got string, want null or boolean"},
		{"unknown field", `{"name":"h","content_types":["dcim.device"],"job":"log","events":["delete"],"type_create":true}`,
			"hook: additional properties 'type_create' not allowed"},
		{"field in the wrong case", `{"Name":"h","content_types":["dcim.device"],"job":"log","events":["delete"]}`,
			"hook: additional properties 'Name' not allowed; hook: missing property 'name'"},
		{"bad name", `{"name":"serial check","content_types":["dcim.device"],"job":"log","events":["delete"]}`,
			"hook.name: 'serial check' does not match pattern '^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$'"},
		{"bad content type", `{"name":"h","content_types":["dcim.device","dcim.Device"],"job":"log","events":["delete"]}`,
			`hook.content_types[1]: 'dcim.Device' does not match pattern '^(\\*|[a-z][a-z0-9_]*\\.(\\*|[a-z][a-z0-9_]*))$'`},
		{"no content types", `{"name":"h","content_types":[],"job":"log","events":["delete"]}`,
			"hook.content_types: minItems: got 0, want 1"},
		{"bad job", `{"name":"h","content_types":["dcim.device"],"job":"Log","events":["delete"]}`,
			"hook.job: 'Log' does not match pattern '^[a-z0-9][a-z0-9_-]{0,63}$'"},
		{"bad event", `{"name":"h","content_types":["dcim.device"],"job":"log","events":["created"]}`,
			`hook.events[0]: value must be one of 'create', 'update', 'delete'`},
		{"duplicate event", `{"name":"h","content_types":["dcim.device"],"job":"log","events":["create","create"]}`,
			"hook.events: items at 0 and 1 are equal"},
		{"params not an object", `{"name":"h","content_types":["dcim.device"],"job":"log","events":["delete"],"params":"x"}`,
			"hook.params: got string, want null or object"},
		{"enabled not a boolean", `{"name":"h","content_types":["dcim.device"],"job":"log","events":["delete"],"enabled":"yes"}`,
			"hook.enabled: got string, want boolean"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := hookconfig.ValidateAgainst(sch, "hook", []byte(tt.doc))
			_, decodeErr := hookconfig.DecodeHook([]byte(tt.doc))
			if tt.want == "" {
				assert.NoError(t, err)
				assert.NoError(t, decodeErr, "DecodeHook disagrees with the schema")
				return
			}
			assert.EqualError(t, err, tt.want)
			assert.ErrorIs(t, decodeErr, hookconfig.ErrInvalidHook, "DecodeHook disagrees with the schema")
		})
	}
}
