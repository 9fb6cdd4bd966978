package cli_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/internal/cli"
)

// TestHooksTest: `router hooks test` says whether a change would fire a
// hook, from a CloudEvent or change data, a file or stdin, and if not
// which filter stopped it and, for a condition, with what value; exit 0
// fires, 6 does not.
func TestHooksTest(t *testing.T) {
	e := newCmdEnv(t)
	e.registerJob("serial-validator", true)
	const hook = `{"name":"serial-check","content_types":["dcim.*"],"job":"serial-validator","enabled":true,"events":["create","update"],
		"conditions":{"and":[{"attr":"status.value","value":"active"},{"attr":"serial","op":"changed"}]},
		"changed_fields":["serial","status"]}`
	code, _, stderr := e.hooks(hook, "put", "-")
	require.Equal(t, cli.ExitOK, code, stderr)
	const disabled = `{"name":"off","content_types":["ipam.prefix"],"job":"serial-validator","enabled":false,"events":["create"]}`
	code, _, stderr = e.hooks(disabled, "put", "-")
	require.Equal(t, cli.ExitOK, code, stderr)

	update := func(preSerial, preStatus, postSerial, postStatus string) string {
		snap := func(serial, status string) string {
			return `{"name":"edge-1","serial":"` + serial + `","status":{"value":"` + status + `"},"last_updated":"` + serial + status + `"}`
		}
		return `{"action":"update","content_type":"dcim.device","object_id":"7","prechange":` + snap(preSerial, preStatus) + `,"postchange":` + snap(postSerial, postStatus) + `}`
	}
	cloudEvent := `{"specversion":"1.0","id":"chg-1","source":"nautobot://prod","type":"jobhooks.change.update","datacontenttype":"application/json","data":` +
		update("A1", "active", "B2", "active") + `}`
	const ceHead = `{"specversion":"1.0","id":"chg-1","source":"nautobot://prod","type":"jobhooks.change.update","datacontenttype":"application/json"`
	fromReceiver := ceHead + `,"hookorigin":"serial-validator","data":` + update("A1", "active", "B2", "active") + `}`
	base64Event := ceHead + `,"data_base64":"` + base64.StdEncoding.EncodeToString([]byte(update("A1", "active", "B2", "active"))) + `"}`
	base64Planned := ceHead + `,"data_base64":"` + base64.StdEncoding.EncodeToString([]byte(update("A1", "active", "B2", "planned"))) + `"}`

	for _, tc := range []struct {
		name     string
		hook     string
		stdin    string // the change, on stdin; "" reads it from a file
		file     string
		json     bool
		wantCode int
		wantOut  []string
		wantErr  string
	}{
		{name: "fires, change data on stdin", hook: "serial-check", stdin: update("A1", "active", "B2", "active"), wantCode: cli.ExitOK,
			wantOut: []string{"fires", "yes", "dcim.device update 7"}},
		{name: "fires, a CloudEvent in a file", hook: "serial-check", file: cloudEvent, wantCode: cli.ExitOK, wantOut: []string{"yes"}},
		{name: "made by a job hook receiver: loop prevention", hook: "serial-check", file: fromReceiver, wantCode: cli.ExitNoFire,
			wantOut: []string{`no: loop: made by a job hook receiver (loop prevention): hookorigin "serial-validator"`}},
		{name: "loop prevention, json", hook: "serial-check", file: fromReceiver, json: true, wantCode: cli.ExitNoFire,
			wantOut: []string{`"fires": false`, `"reason": "loop"`}},
		{name: "a CloudEvent with data_base64", hook: "serial-check", file: base64Event, wantCode: cli.ExitOK, wantOut: []string{"yes", "dcim.device update 7"}},
		{name: "a CloudEvent with data_base64, a condition fails", hook: "serial-check", file: base64Planned, wantCode: cli.ExitNoFire,
			wantOut: []string{`no: condition: conditions.and[0]: status.value eq "active": false: status.value is "planned"`}},
		{name: "a CloudEvent with bad data_base64", hook: "serial-check", stdin: ceHead + `,"data_base64":"%%%"}`, wantCode: cli.ExitInvalid,
			wantErr: "data_base64 is not base64"},
		{name: "a CloudEvent without data", hook: "serial-check", stdin: ceHead + `}`, wantCode: cli.ExitInvalid,
			wantErr: `the CloudEvent has no data (neither "data" nor "data_base64")`},
		{name: "a condition fails, with its value", hook: "serial-check", stdin: update("A1", "active", "B2", "planned"), wantCode: cli.ExitNoFire,
			wantOut: []string{`no: condition: conditions.and[0]: status.value eq "active": false: status.value is "planned"`}},
		{name: "changed_fields", hook: "serial-check", stdin: strings.Replace(update("A1", "active", "A1", "active"), `"name":"edge-1"`, `"name":"edge-2"`, 1),
			wantCode: cli.ExitNoFire, wantOut: []string{"no: changed_fields: none of serial,status changed"}},
		{name: "a no-op update", hook: "serial-check", stdin: update("A1", "active", "A1", "active"), wantCode: cli.ExitNoFire,
			wantOut: []string{"no: noop: an update without differences (skip_noop)"}},
		{name: "a delete with a postchange is invalid", hook: "serial-check", stdin: strings.Replace(update("A1", "active", "B2", "active"), `"update"`, `"delete"`, 1) + "",
			wantCode: cli.ExitInvalid, wantErr: "postchange"},
		{name: "not selected by its events", hook: "serial-check",
			stdin:    `{"action":"delete","content_type":"dcim.device","object_id":"7","prechange":{"serial":"A1"},"postchange":null}`,
			wantCode: cli.ExitNoFire, wantOut: []string{"no: not_selected: content types dcim.*, events create,update"}},
		{name: "disabled", hook: "off", stdin: `{"action":"create","content_type":"ipam.prefix","postchange":{"prefix":"10.0.0.0/8"}}`,
			wantCode: cli.ExitNoFire, wantOut: []string{"no: disabled"}},
		{name: "json", hook: "serial-check", stdin: update("A1", "active", "B2", "planned"), json: true, wantCode: cli.ExitNoFire,
			wantOut: []string{`"fires": false`, `"reason": "condition"`}},
		{name: "an invalid change", hook: "serial-check", stdin: `{"action":"frob","content_type":"dcim.device"}`, wantCode: cli.ExitInvalid, wantErr: "invalid change"},
		{name: "not JSON", hook: "serial-check", stdin: `{`, wantCode: cli.ExitInvalid, wantErr: "not a JSON object"},
		{name: "no such hook", hook: "nope", stdin: update("A1", "active", "B2", "active"), wantCode: cli.ExitNotFound, wantErr: "nope"},
		{name: "no --change", hook: "serial-check", wantCode: cli.ExitUsage, wantErr: "--change FILE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"test", tc.hook}
			switch {
			case tc.stdin != "":
				args = append(args, "--change", "-")
			case tc.file != "":
				args = append(args, "--change", e.file("change.json", tc.file))
			}
			if tc.json {
				args = append(args, "--json")
			}
			code, stdout, stderr := e.hooks(tc.stdin, args...)
			require.Equal(t, tc.wantCode, code, "stdout: %s\nstderr: %s", stdout, stderr)
			for _, want := range tc.wantOut {
				require.Contains(t, stdout, want)
			}
			if tc.wantErr != "" {
				require.Contains(t, stderr, tc.wantErr)
			} else {
				require.Empty(t, stderr)
			}
			if tc.json {
				var v map[string]any
				require.NoError(t, json.Unmarshal([]byte(stdout), &v))
			}
		})
	}
}
