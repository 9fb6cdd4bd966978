package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jobhooks/jobhooks/events"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/receiver"
)

// results runs `receiver results list [--hook H] [--job J] [--status S] |
// get KEY`.
func (c *receiverCmd) results(ctx context.Context, args []string) int {
	const usage = "receiver results list [--hook H] [--job J] [--status S] | get KEY [flags]"
	var f receiver.ResultFilter
	fs := c.flags("receiver results", usage, true)
	fs.StringVar(&f.Hook, "hook", "", "list: only this hook's results")
	fs.StringVar(&f.Job, "job", "", "list: only this job's results")
	fs.StringVar((*string)(&f.Status), "status", "", "list: only results with this status (running, completed, failed, errored, retrying)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return c.parseExit(err)
	}
	if len(pos) == 0 {
		return c.usageError(fs, "missing action: list or get")
	}
	switch f.Status {
	case "", receiver.StatusRunning, receiver.StatusCompleted, receiver.StatusFailed, receiver.StatusErrored, receiver.StatusRetrying:
	default:
		return c.usageError(fs, "unknown status %q", f.Status)
	}
	switch action, rest := pos[0], pos[1:]; action {
	case "list":
		if len(rest) > 0 {
			return c.usageError(fs, "unexpected argument %q", rest[0])
		}
		return c.admin(ctx, func(ctx context.Context, js jetstream.JetStream) error { return c.listResults(ctx, js, f) })
	case "get":
		if len(rest) != 1 {
			return c.usageError(fs, "get takes one result key (<hook>.<id>, as results list shows)")
		}
		return c.admin(ctx, func(ctx context.Context, js jetstream.JetStream) error { return c.getResult(ctx, js, rest[0]) })
	default:
		return c.usageError(fs, "unknown action %q: want list or get", action)
	}
}

func (c *receiverCmd) listResults(ctx context.Context, js jetstream.JetStream, f receiver.ResultFilter) error {
	kv, err := c.bucket(ctx, js, jhjs.BucketJobResults)
	if err != nil {
		return err
	}
	results := []*receiver.Result{}
	if kv != nil {
		var invalid error
		results, invalid = receiver.NewResults(kv).List(ctx, f)
		if results == nil && invalid != nil {
			return invalid
		}
		if invalid != nil {
			fmt.Fprintln(c.stderr, "warning:", invalid)
		}
	}
	if c.json {
		if results == nil {
			results = []*receiver.Result{}
		}
		return JSON(c.stdout, results)
	}
	rows := make([][]string, 0, len(results))
	for _, r := range results {
		rows = append(rows, []string{r.Key(), string(r.Status), strconv.Itoa(r.Attempts), r.Job, c.when(r.Created), c.cell(r.Error, 60)})
	}
	return Table(c.stdout, []string{"KEY", "STATUS", "ATTEMPTS", "JOB", "CREATED", "ERROR"}, rows)
}

func (c *receiverCmd) getResult(ctx context.Context, js jetstream.JetStream, key string) error {
	kv, err := c.bucket(ctx, js, jhjs.BucketJobResults)
	if err != nil {
		return err
	}
	if kv == nil {
		return fmt.Errorf("%w: %q", receiver.ErrResultNotFound, key)
	}
	r, err := findResult(ctx, receiver.NewResults(kv), key)
	if err != nil {
		return err
	}
	if c.json {
		return JSON(c.stdout, r)
	}
	completed, errText := "-", r.Error
	if r.Completed != nil {
		completed = c.when(*r.Completed)
	}
	if errText == "" {
		errText = "-"
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	for _, f := range [][2]string{
		{"key", r.Key()}, {"hook", r.Hook}, {"job", r.Job}, {"change id", r.ChangeID},
		{"status", string(r.Status)}, {"attempts", strconv.Itoa(r.Attempts)},
		{"created", c.when(r.Created)}, {"started", c.when(r.Started)}, {"completed", completed},
		{"error", errText},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", f[0], f[1])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, "\nlogs:")
	rows := make([][]string, 0, len(r.Logs))
	for _, l := range r.Logs {
		obj := "-"
		if l.Object != nil {
			obj = l.Object.ContentType + " " + l.Object.ID
			if l.Object.Repr != "" {
				obj += " (" + l.Object.Repr + ")"
			}
		}
		rows = append(rows, []string{l.Time.Local().Format("15:04:05.000"), string(l.Level), obj, c.cell(l.Message, 200)})
	}
	return Table(c.stdout, []string{"TIME", "LEVEL", "OBJECT", "MESSAGE"}, rows)
}

// findResult reads the result at key, or, when there is none and key is
// <hook>.<change id> as an operator knows it, the one result of that hook
// for a change with that id.
func findResult(ctx context.Context, results *receiver.Results, key string) (*receiver.Result, error) {
	r, err := results.Get(ctx, key)
	hook, changeID, ok := strings.Cut(key, ".")
	if !errors.Is(err, receiver.ErrResultNotFound) || !ok || events.ValidateHookName(hook) != nil {
		return r, err
	}
	found, listErr := results.List(ctx, receiver.ResultFilter{Hook: hook, ChangeID: changeID})
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) > 1:
		keys := make([]string, len(found))
		for i, f := range found {
			keys[i] = f.Key()
		}
		return nil, fmt.Errorf("changes from %d sources have the id %q: give one of the keys: %s", len(found), changeID, strings.Join(keys, ", "))
	case listErr != nil:
		return nil, errors.Join(err, listErr)
	}
	return nil, err
}
