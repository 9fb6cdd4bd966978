package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

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

// DefaultURL is the server every command but the router's run connects to
// when neither --nats-url nor NATS_URL says otherwise: the router's
// embedded server.
const DefaultURL = "nats://127.0.0.1:4222"

// adminTimeout bounds each inspection or editing subcommand.
const adminTimeout = 30 * time.Second

// inspectCmd is what the inspection subcommands share: the connection
// flags, --json, and a bounded JetStream session.
type inspectCmd struct {
	name string // the connection name
	conn jhjs.ConnOptions
	json bool
	out  io.Writer
	warn io.Writer // warnings about what is shown
}

// newInspect returns an inspection subcommand's state; name is its NATS
// connection name.
func newInspect(name string) *inspectCmd {
	return &inspectCmd{name: name, conn: jhjs.ConnOptions{URLs: []string{DefaultURL}}}
}

// flags registers the connection flags and --json on cmd.
func (c *inspectCmd) flags(cmd *cobra.Command) {
	connFlags(cmd.Flags(), &c.conn)
	jsonFlag(cmd.Flags(), &c.json)
}

// do runs fn with a JetStream session, bounded in time.
func (c *inspectCmd) do(cmd *cobra.Command, fn func(ctx context.Context, js jetstream.JetStream) error) error {
	c.out, c.warn = cmd.OutOrStdout(), cmd.ErrOrStderr()
	ctx, cancel := context.WithTimeout(cmd.Context(), adminTimeout)
	defer cancel()
	s, err := dialJetStream(ctx, c.conn, c.name, nil)
	if err != nil {
		return err
	}
	defer s.close()
	return fn(ctx, s.js)
}

// optionalBucket opens a KV bucket; nil, without error, if it does not
// exist yet (nothing to show).
func optionalBucket(ctx context.Context, js jetstream.JetStream, name string) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, name)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open KV bucket %s: %w", name, err)
	}
	return kv, nil
}
