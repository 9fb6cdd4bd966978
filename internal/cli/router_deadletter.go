package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/jobhooks/jobhooks/router"
)

func newRouterDeadLetterCmd() *cobra.Command {
	list := newInspect("jobhooks router deadletter")
	get := newInspect("jobhooks router deadletter")
	listCmd := &cobra.Command{
		Use:   "list",
		Short: "List the dead-lettered changes: sequence, time, reason, subject",
		Long: `List the changes the router could not route (stored on deadletter.changes in the
DEADLETTER stream), oldest first: their DEADLETTER sequence, when, why, the subject
they were published on and their change id. "router deadletter get SEQ" shows one.`,
		Example: "  router deadletter list\n  router deadletter list --json | jq '.[].reason'",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return list.do(cmd, func(ctx context.Context, js jetstream.JetStream) error { return list.listChangeDeadLetters(ctx, js) })
		},
	}
	list.flags(listCmd)
	getCmd := &cobra.Command{
		Use:   "get SEQ",
		Short: "Show one dead-lettered change: reason, subject, headers and the change",
		Long: `Show the dead-lettered change at sequence SEQ of the DEADLETTER stream (as
"router deadletter list" shows it): why it was refused, the subject it came on, its
headers (credentials and signatures shown as ***) and its body. Exit code 3 when
there is no dead-lettered change at SEQ.`,
		Example: "  router deadletter get 12\n  router deadletter get 12 --json | jq -r .data",
		Args:    exactArgs(1, "a sequence, as deadletter list shows"),
		RunE: func(cmd *cobra.Command, args []string) error {
			seq, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil || seq == 0 {
				return usagef("invalid sequence %q: want a positive number, as deadletter list shows", args[0])
			}
			return get.do(cmd, func(ctx context.Context, js jetstream.JetStream) error { return get.getChangeDeadLetter(ctx, js, seq) })
		},
	}
	get.flags(getCmd)
	return group("deadletter", "Show the changes the router dead-lettered",
		`Show the changes the router could not route: not a valid change event (bad subject,
headers or body), or refused by the JOBS stream for good. Each is stored on
deadletter.changes in the DEADLETTER stream with its reason (header Jobhooks-Error),
its subject (Jobhooks-Subject) and its CHANGES sequence (Jobhooks-Sequence).
Fix the publisher, then publish the change again; dead letters expire with
--deadletter-max-age.

Exit codes: 0 done, 1 connection or server error, 2 bad arguments, 3 no such dead
letter.`,
		"  router deadletter list\n  router deadletter get 12",
		listCmd, getCmd)
}

// changeDeadLetterJSON is a dead-lettered change as --json prints it.
type changeDeadLetterJSON struct {
	Sequence       uint64          `json:"sequence"`
	Time           time.Time       `json:"time"`
	Reason         string          `json:"reason"`
	Subject        string          `json:"subject"`
	ChangeSequence uint64          `json:"change_sequence,omitempty"`
	ChangeID       string          `json:"change_id,omitempty"`
	Omitted        string          `json:"omitted,omitempty"`
	Headers        nats.Header     `json:"headers"`
	Data           json.RawMessage `json:"data"`
}

func changeDeadLetterView(d *router.DeadLetter) changeDeadLetterJSON {
	return changeDeadLetterJSON{d.Sequence, d.Time, d.Reason, d.Subject, d.ChangeSequence, d.ChangeID, d.Omitted,
		redactHeader(d.Header), jsonBody(d.Data)}
}

func (c *inspectCmd) listChangeDeadLetters(ctx context.Context, js jetstream.JetStream) error {
	dls, err := router.NewDeadLetters(js).List(ctx)
	if err != nil {
		return err
	}
	if c.json {
		out := make([]changeDeadLetterJSON, 0, len(dls))
		for _, d := range dls {
			out = append(out, changeDeadLetterView(d))
		}
		return JSON(c.out, out)
	}
	rows := make([][]string, 0, len(dls))
	for _, d := range dls {
		rows = append(rows, []string{strconv.FormatUint(d.Sequence, 10), when(d.Time), cell(d.Subject, 60), cell(d.ChangeID, 40), cell(d.Reason, 200)})
	}
	return Table(c.out, []string{"SEQ", "TIME", "SUBJECT", "CHANGE", "REASON"}, rows)
}

func (c *inspectCmd) getChangeDeadLetter(ctx context.Context, js jetstream.JetStream, seq uint64) error {
	d, err := router.NewDeadLetters(js).Get(ctx, seq)
	if err != nil {
		return err
	}
	if c.json {
		return JSON(c.out, changeDeadLetterView(d))
	}
	fields := [][2]string{{"sequence", strconv.FormatUint(d.Sequence, 10)}, {"time", when(d.Time)}, {"reason", orDash(d.Reason)},
		{"subject", orDash(d.Subject)}, {"change id", orDash(d.ChangeID)}}
	if d.ChangeSequence > 0 {
		fields = append(fields, [2]string{"change sequence", strconv.FormatUint(d.ChangeSequence, 10) + " (in CHANGES)"})
	}
	if d.Omitted != "" {
		fields = append(fields, [2]string{"left out", d.Omitted + " (the change was too large to keep whole)"})
	}
	if err := fieldList(c.out, fields); err != nil {
		return err
	}
	fmt.Fprintln(c.out, "\nheaders:")
	h := redactHeader(d.Header)
	rows := [][]string{}
	for _, k := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[k] {
			rows = append(rows, []string{k, v})
		}
	}
	if err := Table(c.out, []string{"NAME", "VALUE"}, rows); err != nil {
		return err
	}
	fmt.Fprintln(c.out, "\nchange:")
	return writeBody(c.out, d.Data)
}

// sensitiveHeader reports a header whose value may be a credential or lets
// one forge a request (a signature): dead letters keep the headers a
// publisher sent, and a terminal or a ticket is no place for those.
func sensitiveHeader(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"authorization", "cookie", "secret", "token", "password", "signature", "api-key", "apikey", "credential"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// redactHeader returns h with the values of sensitive headers as "***".
func redactHeader(h nats.Header) nats.Header {
	out := make(nats.Header, len(h))
	for k, vs := range h {
		if sensitiveHeader(k) {
			vs = slices.Repeat([]string{"***"}, len(vs))
		}
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// jsonBody is data as a JSON value: itself when it is JSON, else a string.
func jsonBody(data []byte) json.RawMessage {
	if json.Valid(data) {
		return data
	}
	s, _ := json.Marshal(string(data))
	return s
}

// writeBody writes a message body for a reader: JSON indented, text as it
// is, anything else quoted.
func writeBody(w io.Writer, data []byte) error {
	var buf bytes.Buffer
	switch {
	case len(data) == 0:
		buf.WriteString("(empty)")
	case json.Indent(&buf, data, "", "  ") == nil:
	case utf8.Valid(data):
		buf.Reset()
		buf.Write(data)
	default:
		buf.Reset()
		fmt.Fprintf(&buf, "(%d bytes, not UTF-8) %q", len(data), data)
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}
