package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	jhjs "github.com/jobhooks/jobhooks/jetstream"
)

// jsSession is a subcommand's connection to JetStream.
type jsSession struct {
	nc *nats.Conn
	js jetstream.JetStream
}

func (s *jsSession) close() { s.nc.Close() }

// dialJetStream opens a JetStream session with the connection flags; commands
// that only inspect or edit go to the default URL when none is given.
func dialJetStream(ctx context.Context, conn jhjs.ConnOptions, name string, log *slog.Logger) (*jsSession, error) {
	conn.Name = name
	nc, err := jhjs.Connect(ctx, conn, log)
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("JetStream: %w", err)
	}
	return &jsSession{nc: nc, js: js}, nil
}

// bucket opens a KV bucket, explaining what to do when it is missing.
func (s *jsSession) bucket(ctx context.Context, name string) (jetstream.KeyValue, error) {
	kv, err := s.js.KeyValue(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("open KV bucket %s (has the router run against this server? it creates the buckets): %w", name, err)
	}
	return kv, nil
}

// subcommandFlags returns a flag set that reports errors to the caller instead
// of exiting.
func subcommandFlags(name string, usage string, stderr interface{ Write([]byte) (int, error) }) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s\n\nflags:\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseInterspersed parses flags wherever they appear among the operands
// (`hooks get NAME --json` as well as `hooks get --json NAME`), returning
// the operands in order. "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var operands []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return operands, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(operands, rest...), nil
		}
		operands = append(operands, rest[0])
		args = rest[1:]
	}
}
