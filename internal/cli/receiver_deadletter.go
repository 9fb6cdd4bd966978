package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/receiver"
)

func newReceiverDeadLetterCmd() *cobra.Command {
	list := newInspect("jobhooks receiver deadletter")
	replay := newInspect("jobhooks receiver deadletter")
	var (
		listJob, replayJob string
		all                bool
	)
	checkJob := func(job string) error {
		if job == "" {
			return nil
		}
		return events.ValidateJobName(job)
	}
	listCmd := &cobra.Command{
		Use:   "list [--job J]",
		Short: "List the job messages that exhausted their attempts",
		Long: `List the job dead letters (deadletter.jobs.<job> in the DEADLETTER stream), oldest first:
sequence, job, hook, change id, attempts, when, and the error of the last attempt.`,
		Example: "  receiver deadletter list\n  receiver deadletter list --job webhook --json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkJob(listJob); err != nil {
				return err
			}
			return list.do(cmd, func(ctx context.Context, js jetstream.JetStream) error { return list.listDeadLetters(ctx, js, listJob) })
		},
	}
	list.flags(listCmd)
	listCmd.Flags().StringVar(&listJob, "job", "", "only this job's dead letters")
	replayCmd := &cobra.Command{
		Use:   "replay SEQ | --all [--job J]",
		Short: "Run dead-lettered job messages again, with fresh attempts",
		Long: `Publish the dead letter at sequence SEQ (as deadletter list shows it), or with --all every
one (of --job J), back to jobs.<job>, so the job runs again with fresh attempts, and
delete it from DEADLETTER (it comes back, with a new sequence, if it fails again).
Replaying one dead letter twice runs it once. Exit code 3 when there is no job dead
letter at SEQ.`,
		Example: "  receiver deadletter replay 42\n  receiver deadletter replay --all --job webhook",
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case all && len(args) > 0:
				return usagef("give a sequence or --all, not both")
			case all:
				if err := checkJob(replayJob); err != nil {
					return err
				}
				return replay.do(cmd, func(ctx context.Context, js jetstream.JetStream) error { return replay.replayAll(ctx, js, replayJob) })
			case len(args) != 1:
				return usagef("replay takes one sequence (as deadletter list shows) or --all")
			case replayJob != "":
				return usagef("--job is for replay --all")
			}
			seq, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil || seq == 0 {
				return usagef("invalid sequence %q: want a positive number, as deadletter list shows", args[0])
			}
			return replay.do(cmd, func(ctx context.Context, js jetstream.JetStream) error {
				rep, err := receiver.NewDeadLetters(js).Replay(ctx, seq)
				if err != nil {
					return err
				}
				return replay.printReplayed([]*receiver.Replayed{rep})
			})
		},
	}
	replay.flags(replayCmd)
	replayCmd.Flags().StringVar(&replayJob, "job", "", "with --all: only this job's dead letters")
	replayCmd.Flags().BoolVar(&all, "all", false, "replay every dead letter (of --job)")
	return group("deadletter", "List and replay job messages that exhausted their attempts",
		`List and replay the job dead letters: job messages whose every attempt failed (or
that could not be decoded), stored on deadletter.jobs.<job> in the DEADLETTER stream
with the last error (header Jobhooks-Error) and the attempts (Jobhooks-Attempts).
The router's dead-lettered changes are "router deadletter list".

Exit codes: 0 done, 1 connection or server error (or, with --all, a replay that
failed), 2 bad arguments, 3 no such dead letter, 4 invalid job name.`,
		"  receiver deadletter list\n  receiver deadletter replay 42",
		listCmd, replayCmd)
}

// receiverDeadLetterJSON is a dead letter as --json prints it.
type receiverDeadLetterJSON struct {
	Sequence uint64          `json:"sequence"`
	Subject  string          `json:"subject"`
	Job      string          `json:"job"`
	Hook     string          `json:"hook"`
	ChangeID string          `json:"change_id"`
	Error    string          `json:"error"`
	Attempts int             `json:"attempts"`
	Time     time.Time       `json:"time"`
	Headers  nats.Header     `json:"headers"`
	Data     json.RawMessage `json:"data"`
}

func (c *inspectCmd) listDeadLetters(ctx context.Context, js jetstream.JetStream, job string) error {
	dls, err := receiver.NewDeadLetters(js).List(ctx, job)
	if err != nil {
		return err
	}
	if c.json {
		out := make([]receiverDeadLetterJSON, 0, len(dls))
		for _, d := range dls {
			out = append(out, receiverDeadLetterJSON{d.Sequence, d.Subject, d.Job, d.Hook, d.ChangeID, d.Error, d.Attempts, d.Time,
				redactHeader(d.Header), jsonBody(d.Data)})
		}
		return JSON(c.out, out)
	}
	rows := make([][]string, 0, len(dls))
	for _, d := range dls {
		rows = append(rows, []string{strconv.FormatUint(d.Sequence, 10), d.Job, cell(d.Hook, 30), cell(d.ChangeID, 40),
			strconv.Itoa(d.Attempts), when(d.Time), cell(d.Error, 60)})
	}
	return Table(c.out, []string{"SEQ", "JOB", "HOOK", "CHANGE", "ATTEMPTS", "TIME", "ERROR"}, rows)
}

func (c *inspectCmd) replayAll(ctx context.Context, js jetstream.JetStream, job string) error {
	dead := receiver.NewDeadLetters(js)
	dls, err := dead.List(ctx, job)
	if err != nil {
		return err
	}
	var (
		done []*receiver.Replayed
		errs []error
	)
	for _, d := range dls {
		rep, err := dead.Replay(ctx, d.Sequence)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		done = append(done, rep)
	}
	if err := c.printReplayed(done); err != nil {
		return err
	}
	return errors.Join(errs...)
}

func (c *inspectCmd) printReplayed(reps []*receiver.Replayed) error {
	if c.json {
		type replayedJSON struct {
			DeadLetter uint64 `json:"deadletter_sequence"`
			Job        string `json:"job"`
			Hook       string `json:"hook"`
			ChangeID   string `json:"change_id"`
			Subject    string `json:"subject"`
			Sequence   uint64 `json:"sequence"`
			MsgID      string `json:"msg_id"`
			Duplicate  bool   `json:"duplicate"`
		}
		out := make([]replayedJSON, 0, len(reps))
		for _, r := range reps {
			out = append(out, replayedJSON{r.DeadLetter.Sequence, r.DeadLetter.Job, r.DeadLetter.Hook, r.DeadLetter.ChangeID,
				r.Subject, r.Sequence, r.MsgID, r.Duplicate})
		}
		return JSON(c.out, out)
	}
	if len(reps) == 0 {
		_, err := fmt.Fprintln(c.out, "no dead letters to replay")
		return err
	}
	for _, r := range reps {
		note := ""
		if r.Duplicate {
			note = " (already replayed: JetStream kept the first)"
		}
		if _, err := fmt.Fprintf(c.out, "replayed dead letter %d (job %s, hook %s, change %s) to %s as sequence %d%s\n",
			r.DeadLetter.Sequence, r.DeadLetter.Job, r.DeadLetter.Hook, r.DeadLetter.ChangeID, r.Subject, r.Sequence, note); err != nil {
			return err
		}
	}
	return nil
}
