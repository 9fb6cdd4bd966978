package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// usageError is a bad call of a command: it exits with ExitUsage, and its
// message is printed with the command's usage line.
type usageError struct{ err error }

func (e usageError) Error() string        { return e.err.Error() }
func (e usageError) Unwrap() error        { return e.err }
func (e usageError) Is(target error) bool { return target == ErrUsage }

// usagef returns a usage error.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// errLogged is an error the command has logged already: it only sets the
// exit code.
type errLogged struct{ err error }

func (e errLogged) Error() string { return e.err.Error() }
func (e errLogged) Unwrap() error { return e.err }

// execute runs root with args and returns the exit code: errors are
// printed here, once, and mapped by exitCodeFor.
func execute(ctx context.Context, root *cobra.Command, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SilenceErrors = true
	root.SilenceUsage = true
	root.Version = Version()
	root.SetVersionTemplate("{{.Name}} {{.Version}}\n")
	// Subcommands inherit the flag error func: a bad flag is a usage error.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	// cobra adds "completion" as a help-only group: unknown shells are
	// named like unknown subcommands.
	root.InitDefaultCompletionCmd(args...)
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			asGroup(c)
		}
	}
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	if logged := (errLogged{}); errors.As(err, &logged) {
		return exitCodeFor(logged.err)
	}
	if errors.Is(err, ErrUsage) {
		if cmd == nil {
			cmd = root
		}
		line := cmd.UseLine()
		if cmd.Annotations[groupAnnotation] != "" {
			line = cmd.CommandPath() + " COMMAND"
		}
		fmt.Fprintf(stderr, "%s: %v\nusage: %s\nRun '%s --help' for more.\n", cmd.CommandPath(), err, line, cmd.CommandPath())
		return ExitUsage
	}
	return reportError(stderr, err)
}

// group returns a command that only holds subcommands: called without one
// it is a usage error, and an unknown one is named in the error.
func group(use, short, long, example string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, Long: long, Example: example}
	c.AddCommand(subs...)
	asGroup(c)
	return c
}

// groupAnnotation marks a command asGroup made.
const groupAnnotation = "jobhooks/group"

// asGroup makes c a group: called without a subcommand it is a usage
// error, and an unknown one is named in the error.
func asGroup(c *cobra.Command) {
	c.Args = noArgs
	// The subcommands' flags, hidden, so that flags given before the
	// subcommand (router hooks --json list) are told from it; with a
	// missing or unknown subcommand, the error is about the subcommand.
	for _, sub := range c.Commands() {
		sub.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if c.Flags().Lookup(f.Name) == nil {
				hidden := *f
				hidden.Hidden = true
				c.Flags().AddFlag(&hidden)
			}
		})
	}
	c.FParseErrWhitelist = cobra.FParseErrWhitelist{UnknownFlags: true}
	// Usage shows "PATH [command]" only, not a run of the group itself;
	// the subcommands keep cobra's template (they would inherit this one).
	usage := (&cobra.Command{}).UsageTemplate()
	for _, sub := range c.Commands() {
		sub.SetUsageTemplate(usage)
	}
	c.SetUsageTemplate(strings.Replace(usage, "{{if .Runnable}}\n  {{.UseLine}}{{end}}", "", 1))
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[groupAnnotation] = "true"
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		names := make([]string, 0, len(cmd.Commands()))
		for _, sub := range cmd.Commands() {
			if sub.IsAvailableCommand() {
				names = append(names, sub.Name())
			}
		}
		return usagef("missing command: want one of %s", strings.Join(names, ", "))
	}
}

// noArgs refuses operands; on a command with subcommands an operand is an
// unknown subcommand, and named as one.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.HasSubCommands() {
		return usagef("unknown command %q for %q", args[0], cmd.CommandPath())
	}
	return usagef("unexpected argument %q", args[0])
}

// exactArgs wants n operands, described by what (e.g. "a hook name").
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("want %d argument(s) (%s), got %d", n, what, len(args))
		}
		return nil
	}
}
