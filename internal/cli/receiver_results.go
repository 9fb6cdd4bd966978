package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/jobhooks/jobhooks/events"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/receiver"
)

func newResultsCmd() *cobra.Command {
	list := newInspect("jobhooks receiver results")
	get := newInspect("jobhooks receiver results")
	var f receiver.ResultFilter
	listCmd := &cobra.Command{
		Use:   "list [--hook H] [--job J] [--status S]",
		Short: "List job results: status, attempts, job, when, and why a run failed",
		Long: `List the job results in job_results, oldest first: one per job message (a hook's job
for one change), with its status, attempts so far and, for a run that failed, why:
the error of its latest attempt, or the failure the job logged.`,
		Example: "  receiver results list\n  receiver results list --status failed --job webhook\n  receiver results list --hook serial-check --json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch f.Status {
			case "", receiver.StatusRunning, receiver.StatusCompleted, receiver.StatusFailed, receiver.StatusErrored, receiver.StatusRetrying:
			default:
				return usagef("unknown status %q: want running, completed, failed, errored or retrying", f.Status)
			}
			return list.do(cmd, func(ctx context.Context, js jetstream.JetStream) error { return list.listResults(ctx, js, f) })
		},
	}
	list.flags(listCmd)
	listCmd.Flags().StringVar(&f.Hook, "hook", "", "only this hook's results")
	listCmd.Flags().StringVar(&f.Job, "job", "", "only this job's results")
	listCmd.Flags().StringVar((*string)(&f.Status), "status", "", "only results with this status (running, completed, failed, errored, retrying)")
	getCmd := &cobra.Command{
		Use:   "get KEY",
		Short: "Show one job result: status, attempts, error and the job's log",
		Long: `Show the job result at KEY (<hook>.<change key>, as results list shows it; <hook>.<change
id> works too when one source sent that id): its status, attempts, times, error and
every log entry of every attempt. Exit code 3 when there is no such result.`,
		Example: "  receiver results get serial-check.chg-0001\n  receiver results get serial-check.chg-0001 --json",
		Args:    exactArgs(1, "a result key (<hook>.<id>, as results list shows)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return get.do(cmd, func(ctx context.Context, js jetstream.JetStream) error { return get.getResult(ctx, js, args[0]) })
		},
	}
	get.flags(getCmd)
	return group("results", "Show job results (the job_results bucket)",
		`Show the job results the receivers record in the job_results bucket: one per job
message, covering every attempt, with the job's log.

Exit codes: 0 done, 1 connection or server error, 2 bad arguments, 3 no such
result, 4 invalid hook name.`,
		"  receiver results list --status failed\n  receiver results get serial-check.chg-0001",
		listCmd, getCmd)
}

// failure is why run r failed, for a table: the error of its latest
// attempt, or else the last failure the job logged (a job that calls
// Failure returns no error), or "-".
func failure(r *receiver.Result) string {
	if r.Error != "" {
		return r.Error
	}
	if r.Status == receiver.StatusFailed || r.Status == receiver.StatusErrored || r.Status == receiver.StatusRetrying {
		for i := len(r.Logs) - 1; i >= 0; i-- {
			if l := r.Logs[i]; l.Level == receiver.LevelFailure {
				return l.Message
			}
		}
	}
	return ""
}

func (c *inspectCmd) listResults(ctx context.Context, js jetstream.JetStream, f receiver.ResultFilter) error {
	kv, err := optionalBucket(ctx, js, jhjs.BucketJobResults)
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
			fmt.Fprintln(c.warn, "warning:", invalid)
		}
	}
	if c.json {
		if results == nil {
			results = []*receiver.Result{}
		}
		return JSON(c.out, results)
	}
	rows := make([][]string, 0, len(results))
	for _, r := range results {
		rows = append(rows, []string{r.Key(), string(r.Status), strconv.Itoa(r.Attempts), r.Job, when(r.Created), cell(failure(r), 120)})
	}
	return Table(c.out, []string{"KEY", "STATUS", "ATTEMPTS", "JOB", "CREATED", "ERROR"}, rows)
}

func (c *inspectCmd) getResult(ctx context.Context, js jetstream.JetStream, key string) error {
	kv, err := optionalBucket(ctx, js, jhjs.BucketJobResults)
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
		return JSON(c.out, r)
	}
	completed := "-"
	if r.Completed != nil {
		completed = when(*r.Completed)
	}
	if err := fieldList(c.out, [][2]string{
		{"key", r.Key()}, {"hook", r.Hook}, {"job", r.Job}, {"change id", r.ChangeID},
		{"status", string(r.Status)}, {"attempts", strconv.Itoa(r.Attempts)},
		{"created", when(r.Created)}, {"started", when(r.Started)}, {"completed", completed},
		{"error", orDash(failure(r))},
	}); err != nil {
		return err
	}
	fmt.Fprintln(c.out, "\nlogs:")
	rows := make([][]string, 0, len(r.Logs))
	for _, l := range r.Logs {
		obj := "-"
		if l.Object != nil {
			obj = l.Object.ContentType + " " + l.Object.ID
			if l.Object.Repr != "" {
				obj += " (" + l.Object.Repr + ")"
			}
		}
		rows = append(rows, []string{l.Time.Local().Format("15:04:05.000"), string(l.Level), obj, cell(l.Message, 200)})
	}
	return Table(c.out, []string{"TIME", "LEVEL", "OBJECT", "MESSAGE"}, rows)
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
