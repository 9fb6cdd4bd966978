package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Exit codes of every subcommand, so scripts can tell what happened.
const (
	ExitOK       = 0 // done
	ExitError    = 1 // failed: connection, server or unexpected error
	ExitUsage    = 2 // bad flags or arguments
	ExitNotFound = 3 // the named hook, job, result or message does not exist
	ExitInvalid  = 4 // the input was rejected by validation
	ExitConflict = 5 // a concurrent edit or a rule conflict; re-read and retry
	ExitNoFire   = 6 // router hooks test: the hook would not fire for the change
)

// ErrUsage marks an error in how a command was called.
var ErrUsage = errors.New("usage")

// Table writes rows under headers, columns aligned.
func Table(w io.Writer, headers []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(headers, "\t"))
	for _, row := range rows {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

// JSON writes v as indented JSON and a newline.
func JSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// fieldList writes "name:  value" lines, values aligned.
func fieldList(w io.Writer, fields [][2]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, f := range fields {
		fmt.Fprintf(tw, "%s:\t%s\n", f[0], f[1])
	}
	return tw.Flush()
}

// when formats a time for a table.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(time.DateTime)
}

// cell shortens s to one line of at most n runes for a table cell.
func cell(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return orDash(s)
}

// orDash is s, or "-" for nothing.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
