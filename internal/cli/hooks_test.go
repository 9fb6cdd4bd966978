package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/hookconfig"
	"github.com/jobhooks/jobhooks/internal/cli"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
)

type cmdEnv struct {
	t   *testing.T
	ctx context.Context
	srv *jstest.Server
	dir string
}

func newCmdEnv(t *testing.T) *cmdEnv {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	srv := jstest.StartProvisioned(t)
	return &cmdEnv{t: t, ctx: ctx, srv: srv, dir: t.TempDir()}
}

func (e *cmdEnv) registerJob(name string, enabled bool) {
	_, err := hookconfig.NewJobs(e.srv.KV(e.t, jhjs.BucketJobs)).Put(e.ctx, &hookconfig.Job{Name: name, Enabled: enabled})
	require.NoError(e.t, err)
}

func (e *cmdEnv) file(name, content string) string {
	p := filepath.Join(e.dir, name)
	require.NoError(e.t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

// hooks runs `router hooks ARGS --nats-url URL` and returns exit code,
// stdout and stderr.
func (e *cmdEnv) hooks(stdin string, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	args = append(args, "--nats-url", e.srv.URL)
	code := cli.Router(e.ctx, append([]string{"hooks"}, args...), strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

const serialCheck = `{"name":"serial-check","content_types":["dcim.device"],"job":"serial-validator","enabled":true,"events":["create","update"],"params":{}}`

func TestHooksCommands(t *testing.T) {
	e := newCmdEnv(t)
	e.registerJob("serial-validator", true)
	e.registerJob("paused", false)
	valid := e.file("serial-check.json", serialCheck)

	for _, step := range []struct {
		name     string
		stdin    string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"no command", "", nil, cli.ExitUsage, "", "router hooks: missing command: want one of delete, disable, enable, get, list, put, test"},
		{"unknown command", "", []string{"frobnicate", "x"}, cli.ExitUsage, "", `unknown command "frobnicate" for "router hooks"`},
		{"get needs a name", "", []string{"get"}, cli.ExitUsage, "", "want 1 argument(s) (a hook name), got 0"},
		{"empty list", "", []string{"list"}, cli.ExitOK, "NAME  JOB  ENABLED", ""},
		{"put creates", "", []string{"put", valid}, cli.ExitOK, "hook serial-check created (revision 1)", ""},
		{"put again updates", "", []string{"put", valid}, cli.ExitOK, "hook serial-check updated (revision 2)", ""},
		{"put from stdin", strings.Replace(serialCheck, `"create",`, "", 1), []string{"put", "-"}, cli.ExitOK, "hook serial-check updated (revision 3)", ""},
		{"put with a stale revision", "", []string{"put", valid, "--revision", "1"}, cli.ExitConflict, "", "was changed by someone else since revision 1"},
		{"put a missing file", "", []string{"put", filepath.Join(e.dir, "nope.json")}, cli.ExitError, "", "no such file"},
		{"put bad JSON", "{", []string{"put", "-"}, cli.ExitInvalid, "", "invalid hook"},
		{"put an unknown field", strings.Replace(serialCheck, `"params"`, `"parms"`, 1), []string{"put", "-"}, cli.ExitInvalid, "", `unknown field "parms"`},
		{"put for an unregistered job", strings.Replace(serialCheck, "serial-validator", "ghost", 1), []string{"put", "-"}, cli.ExitInvalid, "", `job "ghost" is not registered`},
		{"put for a disabled job", strings.Replace(strings.Replace(serialCheck, "serial-validator", "paused", 1), "serial-check", "p", 1), []string{"put", "-"}, cli.ExitInvalid, "", `job "paused" is registered but disabled`},
		{"put a conflicting hook", strings.Replace(serialCheck, `"serial-check"`, `"serial-check-2"`, 1), []string{"put", "-"}, cli.ExitConflict, "", "a job hook already exists for update on dcim.device to job serial-validator"},
		{"get", "", []string{"get", "serial-check"}, cli.ExitOK, "events         update", ""},
		{"get JSON", "", []string{"get", "serial-check", "--json"}, cli.ExitOK, `"revision": 3`, ""},
		{"get missing", "", []string{"get", "nope"}, cli.ExitNotFound, "", `hook "nope"`},
		{"disable", "", []string{"disable", "serial-check"}, cli.ExitOK, "hook serial-check disabled (revision 4)", ""},
		{"list", "", []string{"list"}, cli.ExitOK, "serial-check  serial-validator  no       update", ""},
		{"enable", "", []string{"enable", "serial-check"}, cli.ExitOK, "hook serial-check enabled (revision 5)", ""},
		{"enable missing", "", []string{"enable", "nope"}, cli.ExitNotFound, "", `hook "nope"`},
		{"delete with a stale revision", "", []string{"delete", "serial-check", "--revision", "4"}, cli.ExitConflict, "", "changed by someone else"},
		{"delete", "", []string{"delete", "serial-check"}, cli.ExitOK, "hook serial-check deleted", ""},
		{"delete missing", "", []string{"delete", "serial-check"}, cli.ExitNotFound, "", `hook "serial-check"`},
	} {
		t.Run(step.name, func(t *testing.T) {
			code, out, errOut := e.hooks(step.stdin, step.args...)
			require.Equal(t, step.wantCode, code, "stdout: %s\nstderr: %s", out, errOut)
			require.Contains(t, out, step.wantOut)
			require.Contains(t, errOut, step.wantErr)
		})
	}
}

func TestHooksListShowsInvalidValues(t *testing.T) {
	e := newCmdEnv(t)
	kv, err := e.srv.JS.KeyValue(e.ctx, jhjs.BucketJobHooks)
	require.NoError(t, err)
	_, err = kv.Put(e.ctx, "broken", []byte(`{"name":"broken","job":"x"}`))
	require.NoError(t, err)
	code, out, _ := e.hooks("", "list")
	require.Equal(t, cli.ExitOK, code)
	require.Regexp(t, `broken\s+-\s+-\s+-\s+-\s+1\s+INVALID: `, out)

	code, out, _ = e.hooks("", "list", "--json")
	require.Equal(t, cli.ExitOK, code)
	require.Contains(t, out, `"error": "`)
}

func TestHooksWithoutBuckets(t *testing.T) {
	srv := jstest.Start(t)
	var out, errOut bytes.Buffer
	code := cli.Router(context.Background(), []string{"hooks", "list", "--nats-url", srv.URL}, strings.NewReader(""), &out, &errOut)
	require.Equal(t, cli.ExitError, code)
	require.Contains(t, errOut.String(), "has the router run against this server?")
}
