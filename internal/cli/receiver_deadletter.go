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

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/receiver"
)

// deadletter runs `receiver deadletter list [--job J] | replay SEQ |
// replay --all [--job J]`.
func (c *receiverCmd) deadletter(ctx context.Context, args []string) int {
	const usage = "receiver deadletter list [--job J] | replay SEQ | replay --all [--job J] [flags]"
	var (
		job string
		all bool
	)
	fs := c.flags("receiver deadletter", usage, true)
	fs.StringVar(&job, "job", "", "only this job's dead letters")
	fs.BoolVar(&all, "all", false, "replay: every dead letter (of --job)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return c.parseExit(err)
	}
	if len(pos) == 0 {
		return c.usageError(fs, "missing action: list or replay")
	}
	if job != "" {
		if err := events.ValidateJobName(job); err != nil {
			return c.fail(err)
		}
	}
	switch action, rest := pos[0], pos[1:]; action {
	case "list":
		if len(rest) > 0 {
			return c.usageError(fs, "unexpected argument %q", rest[0])
		}
		if all {
			return c.usageError(fs, "--all is for replay")
		}
		return c.admin(ctx, func(ctx context.Context, js jetstream.JetStream) error { return c.listDeadLetters(ctx, js, job) })
	case "replay":
		switch {
		case all && len(rest) > 0:
			return c.usageError(fs, "give a sequence or --all, not both")
		case all:
			return c.admin(ctx, func(ctx context.Context, js jetstream.JetStream) error { return c.replayAll(ctx, js, job) })
		case len(rest) != 1:
			return c.usageError(fs, "replay takes one sequence (as deadletter list shows) or --all")
		case job != "":
			return c.usageError(fs, "--job is for list and replay --all")
		}
		seq, err := strconv.ParseUint(rest[0], 10, 64)
		if err != nil || seq == 0 {
			return c.usageError(fs, "invalid sequence %q: want a positive number, as deadletter list shows", rest[0])
		}
		return c.admin(ctx, func(ctx context.Context, js jetstream.JetStream) error {
			rep, err := receiver.NewDeadLetters(js).Replay(ctx, seq)
			if err != nil {
				return err
			}
			return c.printReplayed([]*receiver.Replayed{rep})
		})
	default:
		return c.usageError(fs, "unknown action %q: want list or replay", action)
	}
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

func (c *receiverCmd) listDeadLetters(ctx context.Context, js jetstream.JetStream, job string) error {
	dls, err := receiver.NewDeadLetters(js).List(ctx, job)
	if err != nil {
		return err
	}
	if c.json {
		out := make([]receiverDeadLetterJSON, 0, len(dls))
		for _, d := range dls {
			data := json.RawMessage(d.Data)
			if !json.Valid(data) {
				data, _ = json.Marshal(string(d.Data))
			}
			out = append(out, receiverDeadLetterJSON{d.Sequence, d.Subject, d.Job, d.Hook, d.ChangeID, d.Error, d.Attempts, d.Time, d.Header, data})
		}
		return JSON(c.stdout, out)
	}
	rows := make([][]string, 0, len(dls))
	for _, d := range dls {
		rows = append(rows, []string{strconv.FormatUint(d.Sequence, 10), d.Job, c.cell(d.Hook, 30), c.cell(d.ChangeID, 40),
			strconv.Itoa(d.Attempts), c.when(d.Time), c.cell(d.Error, 60)})
	}
	return Table(c.stdout, []string{"SEQ", "JOB", "HOOK", "CHANGE", "ATTEMPTS", "TIME", "ERROR"}, rows)
}

func (c *receiverCmd) replayAll(ctx context.Context, js jetstream.JetStream, job string) error {
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

func (c *receiverCmd) printReplayed(reps []*receiver.Replayed) error {
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
		return JSON(c.stdout, out)
	}
	if len(reps) == 0 {
		_, err := fmt.Fprintln(c.stdout, "no dead letters to replay")
		return err
	}
	for _, r := range reps {
		note := ""
		if r.Duplicate {
			note = " (already replayed: JetStream kept the first)"
		}
		if _, err := fmt.Fprintf(c.stdout, "replayed dead letter %d (job %s, hook %s, change %s) to %s as sequence %d%s\n",
			r.DeadLetter.Sequence, r.DeadLetter.Job, r.DeadLetter.Hook, r.DeadLetter.ChangeID, r.Subject, r.Sequence, note); err != nil {
			return err
		}
	}
	return nil
}
