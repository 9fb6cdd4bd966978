package cli

import (
	"context"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/jobhooks/jobhooks/hookconfig"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
)

func newJobsCmd() *cobra.Command {
	const name = "jobhooks receiver jobs"
	list, enable, disable := newInspect(name), newInspect(name), newInspect(name)
	listCmd := &cobra.Command{
		Use:     "list",
		Short:   "List the registered jobs: enabled or not, when registered, description",
		Long:    "List the jobs in the jobs bucket, as their receivers registered them, and whether each is enabled.",
		Example: "  receiver jobs list\n  receiver jobs list --json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return list.do(cmd, list.listJobs)
		},
	}
	list.flags(listCmd)
	setEnabled := func(c *inspectCmd, enabled bool) func(cmd *cobra.Command, args []string) error {
		return func(cmd *cobra.Command, args []string) error {
			return c.do(cmd, func(ctx context.Context, js jetstream.JetStream) error {
				return c.setJobEnabled(ctx, js, args[0], enabled)
			})
		}
	}
	enableCmd := &cobra.Command{
		Use:   "enable NAME",
		Short: "Enable a job: the router routes its hooks' changes to it",
		Long: `Enable job NAME in the jobs bucket: the router routes the changes of its hooks to it,
and hooks for it may be created. The job must be registered (its receiver has run).
A receiver restarting keeps what you set here.`,
		Example: "  receiver jobs enable serial-validator",
		Args:    exactArgs(1, "a job name"),
		RunE:    setEnabled(enable, true),
	}
	enable.flags(enableCmd)
	disableCmd := &cobra.Command{
		Use:   "disable NAME",
		Short: "Disable a job: the router routes nothing to it",
		Long: `Disable job NAME in the jobs bucket: the router skips the changes of its hooks (they
are not kept for later), and job messages already queued wait until it is enabled
again. A receiver restarting keeps what you set here.`,
		Example: "  receiver jobs disable webhook",
		Args:    exactArgs(1, "a job name"),
		RunE:    setEnabled(disable, false),
	}
	disable.flags(disableCmd)
	return group("jobs", "Show the job registry; enable or disable jobs",
		`Show and change the job registry (the jobs bucket): receivers register their jobs there
at start, and the router routes changes only to enabled jobs.

Exit codes: 0 done, 1 connection or server error, 2 bad arguments, 3 job not
registered, 4 invalid job name.`,
		"  receiver jobs list\n  receiver jobs enable serial-validator",
		listCmd, enableCmd, disableCmd)
}

func (c *inspectCmd) listJobs(ctx context.Context, js jetstream.JetStream) error {
	kv, err := optionalBucket(ctx, js, jhjs.BucketJobs)
	if err != nil {
		return err
	}
	jobs := []*hookconfig.Job{}
	if kv != nil {
		var invalid error
		jobs, invalid = hookconfig.NewJobs(kv).List(ctx)
		if jobs == nil {
			return invalid
		}
		if invalid != nil {
			fmt.Fprintln(c.warn, "warning:", invalid)
		}
	}
	if c.json {
		return JSON(c.out, jobs)
	}
	rows := make([][]string, 0, len(jobs))
	for _, j := range jobs {
		rows = append(rows, []string{j.Name, strconv.FormatBool(j.Enabled), when(j.RegisteredAt), cell(j.Description, 60)})
	}
	return Table(c.out, []string{"NAME", "ENABLED", "REGISTERED", "DESCRIPTION"}, rows)
}

func (c *inspectCmd) setJobEnabled(ctx context.Context, js jetstream.JetStream, name string, enabled bool) error {
	kv, err := optionalBucket(ctx, js, jhjs.BucketJobs)
	if err != nil {
		return err
	}
	if kv == nil {
		return fmt.Errorf("%w: job %q is not registered (no %s bucket yet: start a receiver first)", hookconfig.ErrJobNotFound, name, jhjs.BucketJobs)
	}
	verb := map[bool]string{true: "enabled", false: "disabled"}[enabled]
	already := false
	job, _, err := hookconfig.NewJobs(kv).Update(ctx, name, func(current *hookconfig.Job) (*hookconfig.Job, error) {
		if current == nil {
			return nil, fmt.Errorf("%w: job %q is not registered (start its receiver first)", hookconfig.ErrJobNotFound, name)
		}
		already = current.Enabled == enabled
		current.Enabled = enabled
		return current, nil
	})
	if err != nil {
		return err
	}
	if already && !c.json {
		_, err := fmt.Fprintf(c.out, "job %s is already %s\n", name, verb)
		return err
	}
	if c.json {
		return JSON(c.out, job)
	}
	_, err = fmt.Fprintf(c.out, "job %s %s\n", name, verb)
	return err
}
