package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/hookconfig"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/receiver"
)

const hooksUsage = `router hooks list | get NAME | put FILE|- | delete NAME | enable NAME | disable NAME [flags]`

// Hooks runs `router hooks ...`: validated management of the job_hooks
// bucket. It returns the exit code.
func Hooks(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := subcommandFlags("router hooks", hooksUsage, stderr)
	var conn jhjs.ConnOptions
	conn.RegisterFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON for scripts")
	revision := fs.Uint64("revision", 0, "put/delete: only if the hook is still at this revision (from `hooks get`)")
	operands, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		return ExitUsage
	}
	if len(operands) == 0 {
		fs.Usage()
		return ExitUsage
	}
	verb, operands := operands[0], operands[1:]
	wantOperands := 1
	if verb == "list" {
		wantOperands = 0
	}
	if len(operands) != wantOperands {
		fmt.Fprintf(stderr, "router hooks %s: want %d argument(s), got %d\nusage: %s\n", verb, wantOperands, len(operands), hooksUsage)
		return ExitUsage
	}

	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := dialJetStream(ctx, conn, "jobhooks router hooks", log)
	if err != nil {
		return reportError(stderr, err)
	}
	defer s.close()
	hooksKV, err := s.bucket(ctx, jhjs.BucketJobHooks)
	if err != nil {
		return reportError(stderr, err)
	}
	jobsKV, err := s.bucket(ctx, jhjs.BucketJobs)
	if err != nil {
		return reportError(stderr, err)
	}
	store := hookconfig.NewStore(hooksKV, hookconfig.NewJobs(jobsKV))
	h := hooksCmd{store: store, out: stdout, json: *asJSON}

	switch verb {
	case "list":
		err = h.list(ctx)
	case "get":
		err = h.get(ctx, operands[0])
	case "put":
		err = h.put(ctx, operands[0], stdin, *revision)
	case "delete":
		err = h.delete(ctx, operands[0], *revision)
	case "enable", "disable":
		err = h.setEnabled(ctx, operands[0], verb == "enable")
	default:
		fmt.Fprintf(stderr, "router hooks: unknown command %q\nusage: %s\n", verb, hooksUsage)
		return ExitUsage
	}
	if err != nil {
		return reportError(stderr, err)
	}
	return ExitOK
}

// reportError prints err and returns the exit code that says what kind it is.
func reportError(stderr io.Writer, err error) int {
	fmt.Fprintln(stderr, "error:", err)
	return exitCodeFor(err)
}

func exitCodeFor(err error) int {
	switch {
	case errors.Is(err, ErrUsage), errors.Is(err, receiver.ErrOptions):
		return ExitUsage
	case errors.Is(err, hookconfig.ErrJobNotEnabled): // before not-found: it wraps ErrJobNotFound
		return ExitInvalid
	case errors.Is(err, hookconfig.ErrNotFound), errors.Is(err, hookconfig.ErrJobNotFound),
		errors.Is(err, receiver.ErrResultNotFound), errors.Is(err, receiver.ErrDeadLetterNotFound):
		return ExitNotFound
	case errors.Is(err, hookconfig.ErrRevisionMismatch), errors.Is(err, hookconfig.ErrConflict), errors.Is(err, hookconfig.ErrExists),
		errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		return ExitConflict
	case errors.Is(err, hookconfig.ErrInvalidHook), errors.Is(err, hookconfig.ErrInvalidJob), errors.Is(err, events.ErrInvalidHookName), errors.Is(err, events.ErrInvalidJobName):
		return ExitInvalid
	default:
		return ExitError
	}
}

type hooksCmd struct {
	store *hookconfig.Store
	out   io.Writer
	json  bool
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

func (h hooksCmd) list(ctx context.Context) error {
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

func (h hooksCmd) get(ctx context.Context, name string) error {
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
	})
}

func (h hooksCmd) put(ctx context.Context, file string, stdin io.Reader, revision uint64) error {
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

func (h hooksCmd) delete(ctx context.Context, name string, revision uint64) error {
	if err := h.store.Delete(ctx, name, revision); err != nil {
		return err
	}
	if h.json {
		return JSON(h.out, map[string]any{"name": name, "deleted": true})
	}
	_, err := fmt.Fprintf(h.out, "hook %s deleted\n", name)
	return err
}

func (h hooksCmd) setEnabled(ctx context.Context, name string, enabled bool) error {
	hook, rev, err := h.store.Modify(ctx, name, func(hook *hookconfig.Hook) error {
		hook.Enabled = enabled
		return nil
	})
	if err != nil {
		return err
	}
	return h.done(hook, rev, map[bool]string{true: "enabled", false: "disabled"}[enabled])
}

func (h hooksCmd) done(hook *hookconfig.Hook, rev uint64, verb string) error {
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
