package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/hookconfig"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/receiver"
	"github.com/jobhooks/jobhooks/router"
)

// hooksCmd runs the `router hooks` subcommands: validated management of
// the job_hooks bucket.
type hooksCmd struct {
	conn     jhjs.ConnOptions
	json     bool
	revision uint64
	store    *hookconfig.Store
	out      io.Writer
}

func newHooksCmd() *cobra.Command {
	verb := func(use, short, long, example string, args cobra.PositionalArgs, flags func(*hooksCmd, *pflag.FlagSet),
		run func(ctx context.Context, h *hooksCmd, cmd *cobra.Command, args []string) error,
	) *cobra.Command {
		h := &hooksCmd{conn: jhjs.ConnOptions{URLs: []string{DefaultURL}}}
		c := &cobra.Command{
			Use: use, Short: short, Long: long, Example: example, Args: args,
			RunE: func(cmd *cobra.Command, args []string) error {
				ctx, cancel := context.WithTimeout(cmd.Context(), adminTimeout)
				defer cancel()
				s, err := h.open(ctx, cmd)
				if err != nil {
					return err
				}
				defer s.close()
				return run(ctx, h, cmd, args)
			},
		}
		connFlags(c.Flags(), &h.conn)
		jsonFlag(c.Flags(), &h.json)
		if flags != nil {
			flags(h, c.Flags())
		}
		return c
	}
	revisionFlag := func(what string) func(*hooksCmd, *pflag.FlagSet) {
		return func(h *hooksCmd, fs *pflag.FlagSet) {
			fs.Uint64Var(&h.revision, "revision", 0, what+" only if the hook is still at this revision (as hooks get shows it); 0: whatever it is")
		}
	}
	return group("hooks", "Manage job hooks (the job_hooks bucket)",
		`Manage the job hooks in the job_hooks KV bucket: each hook sends the changes of some
content types and actions to a job. Every write is validated (the hook file, its
job's registration and params schema, conflicts with other hooks) and
compare-and-set, so two operators cannot overwrite each other.

Exit codes: 0 done, 1 connection or server error, 2 bad arguments, 3 no such hook,
4 invalid hook (or its job is not registered or not enabled; for test: an invalid
change), 5 changed by someone else since the revision given, or in conflict with
another hook, 6 (test) the hook would not fire for the change.`,
		`  router hooks list
  router hooks put examples/serial-check.json
  router hooks get serial-check --json > hook.json   # edit, then:
  router hooks put hook.json                         # refused if changed meanwhile`,
		verb("list", "List the hooks: job, enabled, events, content types, revision",
			"List every hook in job_hooks, with its revision; a value that is not a valid hook is listed as INVALID with why.",
			"  router hooks list\n  router hooks list --json", noArgs, nil,
			func(ctx context.Context, h *hooksCmd, _ *cobra.Command, _ []string) error { return h.list(ctx) }),
		verb("get NAME", "Show one hook (secret params as ***)",
			`Show hook NAME and its revision. Params the job's schema marks secret are shown as
"***"; put back unchanged, "***" keeps the stored value. --json prints what
"hooks put" takes back (with its revision, for compare-and-set).`,
			"  router hooks get serial-check\n  router hooks get serial-check --json > hook.json", exactArgs(1, "a hook name"), nil,
			func(ctx context.Context, h *hooksCmd, _ *cobra.Command, args []string) error {
				return h.get(ctx, args[0])
			}),
		verb("put FILE|-", "Create or replace a hook from a JSON file (- reads stdin)",
			`Create the hook in FILE (JSON, see docs/hooks.md), or replace the hook of that name.
The hook is validated, its job must be registered and enabled, and it must not
conflict with another hook. A "revision" in the file (as "hooks get --json" prints
it) or --revision makes the write compare-and-set: refused (exit 5) if the hook
changed since.`,
			"  router hooks put examples/serial-check.json\n  router hooks get serial-check --json | jq '.enabled=false' | router hooks put -",
			exactArgs(1, "a hook file, or - for stdin"), revisionFlag("replace"),
			func(ctx context.Context, h *hooksCmd, cmd *cobra.Command, args []string) error {
				return h.put(ctx, args[0], cmd.InOrStdin(), h.revision)
			}),
		verb("delete NAME", "Delete a hook",
			"Delete hook NAME; with --revision only if nobody changed it since.",
			"  router hooks delete serial-check\n  router hooks delete serial-check --revision 4", exactArgs(1, "a hook name"), revisionFlag("delete"),
			func(ctx context.Context, h *hooksCmd, _ *cobra.Command, args []string) error {
				return h.delete(ctx, args[0], h.revision)
			}),
		verb("enable NAME", "Enable a hook",
			"Enable hook NAME: the router routes matching changes to its job again.",
			"  router hooks enable serial-check", exactArgs(1, "a hook name"), nil,
			func(ctx context.Context, h *hooksCmd, _ *cobra.Command, args []string) error {
				return h.setEnabled(ctx, args[0], true)
			}),
		verb("disable NAME", "Disable a hook (it stays, and routes nothing)",
			"Disable hook NAME: it stays in job_hooks, and the router routes nothing to it until enabled.",
			"  router hooks disable serial-check", exactArgs(1, "a hook name"), nil,
			func(ctx context.Context, h *hooksCmd, _ *cobra.Command, args []string) error {
				return h.setEnabled(ctx, args[0], false)
			}),
		newHooksTestCmd(func(use, short, long, example string, args cobra.PositionalArgs,
			run func(ctx context.Context, h *hooksCmd, cmd *cobra.Command, args []string) error,
		) *cobra.Command {
			return verb(use, short, long, example, args, nil, run)
		}),
	)
}

// open connects and opens the hook store; the caller closes the session.
func (h *hooksCmd) open(ctx context.Context, cmd *cobra.Command) (*jsSession, error) {
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := dialJetStream(ctx, h.conn, "jobhooks router hooks", log)
	if err != nil {
		return nil, err
	}
	hooksKV, err := s.bucket(ctx, jhjs.BucketJobHooks)
	if err == nil {
		var jobsKV jetstream.KeyValue
		if jobsKV, err = s.bucket(ctx, jhjs.BucketJobs); err == nil {
			h.store = hookconfig.NewStore(hooksKV, hookconfig.NewJobs(jobsKV))
			h.out = cmd.OutOrStdout()
			return s, nil
		}
	}
	s.close()
	return nil, err
}

// reportError prints err and returns the exit code that says what kind it is.
func reportError(stderr io.Writer, err error) int {
	fmt.Fprintln(stderr, "error:", err)
	return exitCodeFor(err)
}

func exitCodeFor(err error) int {
	switch {
	case errors.Is(err, ErrUsage), errors.Is(err, receiver.ErrOptions), errors.Is(err, jhjs.ErrConfig), errors.Is(err, jhjs.ErrConnOptions):
		return ExitUsage
	case errors.Is(err, hookconfig.ErrJobNotEnabled): // before not-found: it wraps ErrJobNotFound
		return ExitInvalid
	case errors.Is(err, hookconfig.ErrNotFound), errors.Is(err, hookconfig.ErrJobNotFound),
		errors.Is(err, receiver.ErrResultNotFound), errors.Is(err, receiver.ErrDeadLetterNotFound), errors.Is(err, router.ErrDeadLetterNotFound):
		return ExitNotFound
	case errors.Is(err, hookconfig.ErrRevisionMismatch), errors.Is(err, hookconfig.ErrConflict), errors.Is(err, hookconfig.ErrExists),
		errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		return ExitConflict
	case errors.Is(err, hookconfig.ErrInvalidHook), errors.Is(err, hookconfig.ErrInvalidJob), errors.Is(err, events.ErrInvalidHookName), errors.Is(err, events.ErrInvalidJobName),
		errors.Is(err, events.ErrInvalidChange):
		return ExitInvalid
	case errors.Is(err, ErrWouldNotFire):
		return ExitNoFire
	default:
		return ExitError
	}
}

// hookView is a hook as `hooks get --json` prints it.
type hookView struct {
	*hookconfig.Hook
	Revision uint64 `json:"revision"`
	Error    string `json:"error,omitempty"`
}

// newView is hook as printed: secret params are never shown (a terminal,
// a log or a ticket is no place for them). Put back, "***" keeps them.
func newView(hook *hookconfig.Hook, rev uint64) hookView {
	return hookView{Hook: redacted(hook), Revision: rev}
}

func redacted(hook *hookconfig.Hook) *hookconfig.Hook {
	c := hook.Clone()
	c.Params = hookconfig.RedactParams(c.Params)
	return c
}

func (h *hooksCmd) list(ctx context.Context) error {
	entries, err := h.store.List(ctx)
	if err != nil {
		return err
	}
	if h.json {
		views := make([]hookView, 0, len(entries))
		for _, e := range entries {
			var v hookView
			if e.Err != nil {
				v = hookView{Hook: &hookconfig.Hook{Name: e.Name}, Revision: e.Revision, Error: e.Err.Error()}
			} else {
				v = newView(e.Hook, e.Revision)
			}
			views = append(views, v)
		}
		return JSON(h.out, views)
	}
	rows := make([][]string, 0, len(entries))
	for _, e := range entries {
		if e.Err != nil {
			rows = append(rows, []string{e.Name, "-", "-", "-", "-", fmt.Sprint(e.Revision), "INVALID: " + e.Err.Error()})
			continue
		}
		rows = append(rows, []string{e.Name, e.Hook.Job, formatBool(e.Hook.Enabled), joinActions(e.Hook.Events),
			strings.Join(e.Hook.ContentTypes, ","), fmt.Sprint(e.Revision), "ok"})
	}
	return Table(h.out, []string{"NAME", "JOB", "ENABLED", "EVENTS", "CONTENT TYPES", "REVISION", "STATUS"}, rows)
}

func (h *hooksCmd) get(ctx context.Context, name string) error {
	hook, rev, err := h.store.Get(ctx, name)
	if err != nil {
		return err
	}
	if h.json {
		return JSON(h.out, newView(hook, rev))
	}
	params := "{}"
	if len(hook.Params) > 0 {
		params = string(hookconfig.RedactParams(hook.Params))
	}
	return Table(h.out, []string{"FIELD", "VALUE"}, [][]string{
		{"name", hook.Name}, {"job", hook.Job}, {"enabled", formatBool(hook.Enabled)}, {"events", joinActions(hook.Events)},
		{"content types", strings.Join(hook.ContentTypes, ",")}, {"params", params}, {"revision", fmt.Sprint(rev)},
		{"conditions", orDash(string(hook.Conditions))}, {"on changes to", orDash(strings.Join(hook.ChangedFields, ","))}, {"skip no-ops", formatBool(hook.SkipsNoop())},
	})
}

func (h *hooksCmd) put(ctx context.Context, file string, stdin io.Reader, revision uint64) error {
	var data []byte
	var err error
	if file == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return fmt.Errorf("read hook: %w", err)
	}
	data, fileRevision, err := splitRevision(data)
	if err != nil {
		return err
	}
	switch {
	case fileRevision != 0 && revision != 0 && fileRevision != revision:
		return fmt.Errorf("%w: the file says revision %d and --revision says %d: give one", hookconfig.ErrInvalidHook, fileRevision, revision)
	case fileRevision != 0:
		revision = fileRevision
	}
	hook, err := hookconfig.DecodeHook(data)
	if err != nil {
		return err
	}
	verb := "updated"
	if revision == 0 {
		// No revision given: create, or replace the current version. The
		// store still refuses if someone writes between our read and write.
		_, current, err := h.store.Get(ctx, hook.Name)
		switch {
		case errors.Is(err, hookconfig.ErrNotFound):
			verb = "created"
		case err != nil && !errors.Is(err, hookconfig.ErrInvalidHook):
			return err
		}
		revision = current
	}
	rev, err := h.store.Put(ctx, hook, revision)
	if err != nil {
		return err
	}
	return h.done(hook, rev, verb)
}

// splitRevision takes the "revision" that `hooks get --json` adds out of a
// hook file, so that what get prints, put takes back: compare-and-set on
// the revision that was read, as with --revision.
func splitRevision(data []byte) ([]byte, uint64, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return data, 0, nil // DecodeHook says what is wrong
	}
	raw, ok := fields["revision"]
	if !ok {
		return data, 0, nil
	}
	var rev uint64
	if err := json.Unmarshal(raw, &rev); err != nil || rev == 0 {
		return nil, 0, fmt.Errorf("%w: revision %s: want the positive revision `hooks get` printed", hookconfig.ErrInvalidHook, raw)
	}
	delete(fields, "revision")
	out, err := json.Marshal(fields)
	if err != nil {
		return nil, 0, fmt.Errorf("read hook: %w", err)
	}
	return out, rev, nil
}

func (h *hooksCmd) delete(ctx context.Context, name string, revision uint64) error {
	if err := h.store.Delete(ctx, name, revision); err != nil {
		return err
	}
	if h.json {
		return JSON(h.out, map[string]any{"name": name, "deleted": true})
	}
	_, err := fmt.Fprintf(h.out, "hook %s deleted\n", name)
	return err
}

func (h *hooksCmd) setEnabled(ctx context.Context, name string, enabled bool) error {
	hook, rev, err := h.store.Modify(ctx, name, func(hook *hookconfig.Hook) error {
		hook.Enabled = enabled
		return nil
	})
	if err != nil {
		return err
	}
	return h.done(hook, rev, map[bool]string{true: "enabled", false: "disabled"}[enabled])
}

func (h *hooksCmd) done(hook *hookconfig.Hook, rev uint64, verb string) error {
	if h.json {
		return JSON(h.out, newView(hook, rev))
	}
	_, err := fmt.Fprintf(h.out, "hook %s %s (revision %d)\n", hook.Name, verb, rev)
	return err
}

func formatBool(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func joinActions(actions []events.Action) string {
	s := make([]string, len(actions))
	for i, a := range actions {
		s[i] = string(a)
	}
	return strings.Join(s, ",")
}
