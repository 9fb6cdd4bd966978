package bench

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// progress reports the rounds: on a terminal, one line per round, redrawn
// as its runs go and kept once the round is done; otherwise one plain log
// line per round.
type progress struct {
	w   io.Writer
	tty bool
	log *slog.Logger
}

func newProgress(w io.Writer, log *slog.Logger) *progress {
	return &progress{w: w, tty: isTerminal(w), log: log}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// figure is one scenario's result in a round's progress line.
type figure struct{ scenario, value string }

// running says which run of the round is going on (terminals only).
func (p *progress) running(phase string, round, rounds int, done []figure, next string) {
	if !p.tty {
		return
	}
	fmt.Fprintf(p.w, "\r\033[K%s · running %s …", p.line(phase, round, rounds, done), next)
}

// roundDone reports a finished round.
func (p *progress) roundDone(phase string, round, rounds int, done []figure) {
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s\n", p.line(phase, round, rounds, done))
		return
	}
	args := []any{"phase", phase, "round", fmt.Sprintf("%d/%d", round, rounds)}
	for _, f := range done {
		args = append(args, f.scenario, f.value)
	}
	p.log.Info("round done", args...)
}

// clear ends a line left half drawn, before an error is printed.
func (p *progress) clear() {
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

func (p *progress) line(phase string, round, rounds int, done []figure) string {
	parts := make([]string, len(done))
	for i, f := range done {
		parts[i] = f.scenario + " " + f.value
	}
	s := fmt.Sprintf("%s round %d/%d", phase, round, rounds)
	if len(parts) > 0 {
		s += ": " + strings.Join(parts, " · ")
	}
	return s
}
