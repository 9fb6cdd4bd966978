package cli_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/internal/cli"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
)

// run runs the router or receiver command (by args[0]) with the rest of
// args, without a server: for help, usage errors and completion.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	switch args[0] {
	case "router":
		code = cli.Router(context.Background(), args[1:], strings.NewReader(""), &out, &errOut)
	case "receiver":
		code = cli.Receiver(context.Background(), args[1:], &out, &errOut)
	default:
		t.Fatalf("no command %q", args[0])
	}
	return code, out.String(), errOut.String()
}

// Every command's -h is its own: its usage line, a flag only it has (or
// its subcommands) and its example.
func TestEveryCommandHasItsOwnHelp(t *testing.T) {
	for _, tc := range []struct {
		cmd  string
		want []string
	}{
		{"router", []string{"  router [flags]\n", "--listen string", "--replicas int", "--http string", "--log-level level",
			"hooks       Manage job hooks", "deadletter  Show the changes the router dead-lettered", "completion", "router --nats-url nats://nats-1:4222 --replicas 3"}},
		{"router hooks", []string{"Usage:\n  router hooks [command]\n\n", "put         Create or replace a hook", "Exit codes:", "router hooks get serial-check --json > hook.json"}},
		{"router hooks list", []string{"  router hooks list [flags]\n", "--json", "--nats-url urls", "  router hooks list --json"}},
		{"router hooks get", []string{"  router hooks get NAME [flags]\n", "--json", "  router hooks get serial-check\n"}},
		{"router hooks put", []string{"  router hooks put FILE|- [flags]\n", "--revision uint     replace only if", "router hooks put examples/serial-check.json"}},
		{"router hooks delete", []string{"  router hooks delete NAME [flags]\n", "--revision uint     delete only if", "router hooks delete serial-check --revision 4"}},
		{"router hooks enable", []string{"  router hooks enable NAME [flags]\n", "  router hooks enable serial-check"}},
		{"router hooks disable", []string{"  router hooks disable NAME [flags]\n", "  router hooks disable serial-check"}},
		{"router deadletter", []string{"Usage:\n  router deadletter [command]\n\n", "Jobhooks-Error", "list        List the dead-lettered changes", "get         Show one"}},
		{"router deadletter list", []string{"  router deadletter list [flags]\n", "--json", "  router deadletter list --json"}},
		{"router deadletter get", []string{"  router deadletter get SEQ [flags]\n", "--json", "  router deadletter get 12\n"}},
		{"receiver", []string{"  receiver [flags]\n", "--jobs string", "--enable ", "a job already registered keeps its enabled flag", "--max-deliver int",
			"--log-level level", "jobs        Show the job registry", "results     Show job results", "deadletter  List and replay", "completion",
			"receiver --jobs serial-validator --enable"}},
		{"receiver jobs", []string{"Usage:\n  receiver jobs [command]\n\n", "enable      Enable a job", "receiver jobs enable serial-validator"}},
		{"receiver jobs list", []string{"  receiver jobs list [flags]\n", "--json", "  receiver jobs list --json"}},
		{"receiver jobs enable", []string{"  receiver jobs enable NAME [flags]\n", "  receiver jobs enable serial-validator"}},
		{"receiver jobs disable", []string{"  receiver jobs disable NAME [flags]\n", "  receiver jobs disable webhook"}},
		{"receiver results", []string{"Usage:\n  receiver results [command]\n\n", "get         Show one job result"}},
		{"receiver results list", []string{"  receiver results list [--hook H] [--job J] [--status S] [flags]\n", "--status string", "--hook string", "receiver results list --status failed --job webhook"}},
		{"receiver results get", []string{"  receiver results get KEY [flags]\n", "--json", "  receiver results get serial-check.chg-0001\n"}},
		{"receiver deadletter", []string{"Usage:\n  receiver deadletter [command]\n\n", "replay      Run dead-lettered job messages again", `"router deadletter list"`}},
		{"receiver deadletter list", []string{"  receiver deadletter list [--job J] [flags]\n", "--job string", "  receiver deadletter list --job webhook --json"}},
		{"receiver deadletter replay", []string{"  receiver deadletter replay SEQ | --all [--job J] [flags]\n", "--all ", "receiver deadletter replay --all --job webhook"}},
	} {
		for _, help := range []string{"-h", "--help"} {
			t.Run(tc.cmd+" "+help, func(t *testing.T) {
				code, out, errOut := run(t, append(strings.Fields(tc.cmd), help)...)
				require.Equal(t, cli.ExitOK, code, errOut)
				assert.Empty(t, errOut)
				assert.Contains(t, out, "Usage:\n")
				assert.Contains(t, out, "Examples:\n")
				for _, want := range tc.want {
					assert.Contains(t, out, want)
				}
			})
		}
	}
}

func TestUnknownSubcommandsAreNamed(t *testing.T) {
	for _, tc := range []struct{ args, parent string }{
		{"router frob", "router"},
		{"router hooks frob", "router hooks"},
		{"router hooks frob --nats-url nats://127.0.0.1:1 --json", "router hooks"},
		{"router deadletter frob", "router deadletter"},
		{"receiver frob", "receiver"},
		{"receiver jobs frob", "receiver jobs"},
		{"receiver results frob", "receiver results"},
		{"receiver deadletter frob --job log", "receiver deadletter"},
	} {
		t.Run(tc.args, func(t *testing.T) {
			code, out, errOut := run(t, strings.Fields(tc.args)...)
			assert.Equal(t, cli.ExitUsage, code)
			assert.Empty(t, out)
			assert.Contains(t, errOut, `unknown command "frob" for "`+tc.parent+`"`)
			assert.Contains(t, errOut, "Run '"+tc.parent+" --help'")
		})
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct{ args, stderr string }{
		{"router hooks", "router hooks: missing command: want one of delete, disable, enable, get, list, put"},
		{"router deadletter", "router deadletter: missing command: want one of get, list"},
		{"router deadletter get", "want 1 argument(s) (a sequence, as deadletter list shows), got 0"},
		{"router deadletter get abc", `invalid sequence "abc"`},
		{"router deadletter list extra", `unexpected argument "extra"`},
		{"router --no-such-flag", "unknown flag: --no-such-flag"},
		{"router --log-level loud", `invalid argument "loud" for "--log-level"`},
		{"receiver results", "receiver results: missing command: want one of get, list"},
		{"receiver jobs list --bogus", "receiver jobs list: unknown flag: --bogus"},
		{"receiver results list --status odd", `unknown status "odd"`},
	} {
		t.Run(tc.args, func(t *testing.T) {
			code, _, errOut := run(t, strings.Fields(tc.args)...)
			assert.Equal(t, cli.ExitUsage, code)
			assert.Contains(t, errOut, tc.stderr)
		})
	}
}

// An empty --jobs used to mean every job; now it is refused, before
// connecting.
func TestReceiverEmptyJobsIsAnError(t *testing.T) {
	for _, jobs := range []string{"", " , "} {
		code, _, errOut := run(t, "receiver", "--jobs", jobs, "--nats-url", "nats://127.0.0.1:1")
		assert.Equal(t, cli.ExitUsage, code)
		assert.Contains(t, errOut, `names no job: give one or more of log,serial-validator,webhook`)
		assert.NotContains(t, errOut, "connect", "refused before connecting")
	}
}

func TestVersion(t *testing.T) {
	for _, cmd := range []string{"router", "receiver"} {
		for _, flag := range []string{"--version", "-v"} {
			code, out, errOut := run(t, cmd, flag)
			require.Equal(t, cli.ExitOK, code, errOut)
			assert.Equal(t, cmd+" "+cli.Version()+"\n", out)
			assert.Regexp(t, `^`+cmd+` \S+, commit \S+`, out)
		}
	}
}

func TestCompletionScripts(t *testing.T) {
	for _, cmd := range []string{"router", "receiver"} {
		for shell, want := range map[string]string{"bash": "__start_" + cmd, "zsh": "#compdef " + cmd, "fish": "complete -c " + cmd, "powershell": "Register-ArgumentCompleter"} {
			code, out, errOut := run(t, cmd, "completion", shell)
			require.Equal(t, cli.ExitOK, code, errOut)
			assert.Contains(t, out, want, "%s completion %s", cmd, shell)
		}
	}
	code, _, errOut := run(t, "router", "completion", "tcsh")
	assert.Equal(t, cli.ExitUsage, code)
	assert.Contains(t, errOut, `unknown command "tcsh" for "router completion"`)
}

// Help never prints a password, even one from the environment.
func TestHelpHidesThePassword(t *testing.T) {
	t.Setenv(jhjs.EnvPassword, "hunter2-in-env")
	for _, args := range []string{"router -h", "router hooks put -h", "router deadletter get -h", "receiver -h", "receiver results list -h"} {
		code, out, errOut := run(t, strings.Fields(args)...)
		require.Equal(t, cli.ExitOK, code, errOut)
		assert.Contains(t, out, "--password string")
		assert.NotContains(t, out+errOut, "hunter2", args)
		assert.NotContains(t, out, "(default \"***\")", args)
	}
}

// Flags may come before the subcommand, as before the port to cobra.
func TestFlagsBeforeTheSubcommand(t *testing.T) {
	s := jstest.StartProvisioned(t)
	for _, args := range [][]string{
		{"router", "hooks", "--json", "--nats-url", s.URL, "list"},
		{"router", "deadletter", "--nats-url=" + s.URL, "--json", "list"},
		{"receiver", "jobs", "--nats-url", s.URL, "--json", "list"},
		{"receiver", "results", "--json", "--nats-url", s.URL, "list", "--status", "failed"},
	} {
		code, out, errOut := run(t, args...)
		require.Equal(t, cli.ExitOK, code, "%v: %s", args, errOut)
		assert.Equal(t, "[]\n", out, args)
	}
}
