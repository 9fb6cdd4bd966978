package cli

import (
	"context"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jobhooks/jobhooks/hookconfig"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
)

// jobs runs `receiver jobs list | enable NAME | disable NAME`.
func (c *receiverCmd) jobs(ctx context.Context, args []string) int {
	const usage = "receiver jobs list | enable NAME | disable NAME [flags]"
	fs := c.flags("receiver jobs", usage, true)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return c.parseExit(err)
	}
	if len(pos) == 0 {
		return c.usageError(fs, "missing action: list, enable or disable")
	}
	switch action, rest := pos[0], pos[1:]; action {
	case "list":
		if len(rest) > 0 {
			return c.usageError(fs, "unexpected argument %q", rest[0])
		}
		return c.admin(ctx, c.listJobs)
	case "enable", "disable":
		if len(rest) != 1 {
			return c.usageError(fs, "%s takes one job name", action)
		}
		return c.admin(ctx, func(ctx context.Context, js jetstream.JetStream) error {
			return c.setJobEnabled(ctx, js, rest[0], action == "enable")
		})
	default:
		return c.usageError(fs, "unknown action %q: want list, enable or disable", action)
	}
}

func (c *receiverCmd) listJobs(ctx context.Context, js jetstream.JetStream) error {
	kv, err := c.bucket(ctx, js, jhjs.BucketJobs)
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
			fmt.Fprintln(c.stderr, "warning:", invalid)
		}
	}
	if c.json {
		return JSON(c.stdout, jobs)
	}
	rows := make([][]string, 0, len(jobs))
	for _, j := range jobs {
		rows = append(rows, []string{j.Name, strconv.FormatBool(j.Enabled), c.when(j.RegisteredAt), c.cell(j.Description, 60)})
	}
	return Table(c.stdout, []string{"NAME", "ENABLED", "REGISTERED", "DESCRIPTION"}, rows)
}

func (c *receiverCmd) setJobEnabled(ctx context.Context, js jetstream.JetStream, name string, enabled bool) error {
	kv, err := c.bucket(ctx, js, jhjs.BucketJobs)
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
		_, err := fmt.Fprintf(c.stdout, "job %s is already %s\n", name, verb)
		return err
	}
	if c.json {
		return JSON(c.stdout, job)
	}
	_, err = fmt.Fprintf(c.stdout, "job %s %s\n", name, verb)
	return err
}
