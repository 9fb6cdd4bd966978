package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/receiver"
	"github.com/jobhooks/jobhooks/receiver/builtin"
)

// ReceiverDefaultURL is the server the receiver command connects to when
// neither --nats-url nor NATS_URL says otherwise: the router's embedded
// server.
const ReceiverDefaultURL = "nats://127.0.0.1:4222"

// receiverAdminTimeout bounds each inspection subcommand.
const receiverAdminTimeout = 30 * time.Second

const receiverUsage = `Usage:
  receiver [flags]                          run the built-in jobs' receivers
  receiver jobs list                        the job registry
  receiver jobs enable NAME | disable NAME
  receiver results list [--hook H] [--job J] [--status S]
  receiver results get KEY                  one job result (KEY is <hook>.<id>)
  receiver deadletter list [--job J]        jobs that exhausted their attempts
  receiver deadletter replay SEQ | --all [--job J]

Every subcommand takes the connection flags (--nats-url, --creds, --nkey,
--user, --password, --tls-cert, --tls-key, --tls-ca; NATS_* environment
variables) and --json. Run "receiver SUBCOMMAND -h" for its flags.
`

// Receiver runs the receiver command with args (the arguments after the
// program name) and returns its exit code. Without a subcommand it runs the
// built-in jobs until ctx ends, then exits 0.
func Receiver(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &receiverCmd{stdout: stdout, stderr: stderr}
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, rest := args[0], args[1:]
		switch sub {
		case "jobs":
			return c.jobs(ctx, rest)
		case "results":
			return c.results(ctx, rest)
		case "deadletter":
			return c.deadletter(ctx, rest)
		case "help":
			fmt.Fprint(stdout, receiverUsage)
			return ExitOK
		default:
			fmt.Fprintf(stderr, "receiver: unknown subcommand %q\n\n%s", sub, receiverUsage)
			return ExitUsage
		}
	}
	return c.run(ctx, args)
}

// receiverCmd holds what every receiver subcommand shares.
type receiverCmd struct {
	stdout, stderr io.Writer
	conn           jhjs.ConnOptions
	json           bool
}

// flags returns a flag set for the subcommand name with the connection
// flags and, if withJSON, --json.
func (c *receiverCmd) flags(name, usage string, withJSON bool) *flag.FlagSet {
	fs := subcommandFlags(name, usage, c.stderr)
	c.conn.URLs = []string{ReceiverDefaultURL}
	c.conn.Name = "jobhooks " + name
	c.conn.RegisterFlags(fs)
	if withJSON {
		fs.BoolVar(&c.json, "json", false, "print JSON, for scripts")
	}
	return fs
}

// parseExit turns a flag parsing error into an exit code: 0 for -h.
func (c *receiverCmd) parseExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	return ExitUsage
}

// usageError reports a bad call of a subcommand.
func (c *receiverCmd) usageError(fs *flag.FlagSet, format string, args ...any) int {
	fmt.Fprintf(c.stderr, "%s: %s\n", fs.Name(), fmt.Sprintf(format, args...))
	fs.Usage()
	return ExitUsage
}

// fail reports err and returns the exit code that says what happened.
func (c *receiverCmd) fail(err error) int { return reportError(c.stderr, err) }

// bucket opens a KV bucket; nil, without error, if it does not exist yet.
func (c *receiverCmd) bucket(ctx context.Context, js jetstream.JetStream, name string) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, name)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open KV bucket %s: %w", name, err)
	}
	return kv, nil
}

// admin runs fn with a JetStream connection, bounded in time.
func (c *receiverCmd) admin(ctx context.Context, fn func(ctx context.Context, js jetstream.JetStream) error) int {
	ctx, cancel := context.WithTimeout(ctx, receiverAdminTimeout)
	defer cancel()
	s, err := dialJetStream(ctx, c.conn, c.conn.Name, nil)
	if err != nil {
		return c.fail(err)
	}
	defer s.close()
	if err := fn(ctx, s.js); err != nil {
		return c.fail(err)
	}
	return ExitOK
}

// when formats a time for a table.
func (c *receiverCmd) when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(time.DateTime)
}

// cell shortens s to one line of at most n runes for a table cell.
func (c *receiverCmd) cell(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	if s == "" {
		return "-"
	}
	return s
}

// run runs the receivers of the built-in jobs until ctx ends.
func (c *receiverCmd) run(ctx context.Context, args []string) int {
	opts := receiver.Options{}
	var (
		jobs     string
		backoff  receiverDurations // empty: the defaults, as many as --max-deliver allows
		logLevel slog.Level
		httpAddr string
	)
	fs := c.flags("receiver", "receiver [flags]", false)
	fs.StringVar(&jobs, "jobs", strings.Join(builtin.Names(), ","), "jobs to run, comma-separated")
	fs.IntVar(&opts.Concurrency, "concurrency", receiver.DefaultConcurrency, "messages of each job running at once (changes to one object run in order)")
	fs.IntVar(&opts.Prefetch, "prefetch", 0, fmt.Sprintf("messages of each job held at once, running or fetched to run next (0: %d × --concurrency)", receiver.DefaultPrefetchPerSlot))
	fs.IntVar(&opts.Consumer.MaxDeliver, "max-deliver", jhjs.DefaultMaxDeliver, "attempts per job message, the first included")
	defaults := receiverDurations(jhjs.DefaultBackOff())
	fs.Var(&backoff, "backoff", "delays before the 2nd, 3rd, … attempt, comma-separated; the last repeats (default "+
		defaults.String()+", at most --max-deliver of them)")
	fs.DurationVar(&opts.Consumer.AckWait, "ack-wait", jhjs.DefaultAckWait, "how long a silent receiver keeps a message before the server redelivers it")
	fs.IntVar(&opts.Consumer.MaxAckPending, "max-ack-pending", jhjs.DefaultMaxAckPending, "messages in flight per job across all receivers")
	fs.DurationVar(&opts.Timeout, "timeout", receiver.DefaultTimeout, "time limit of one attempt")
	fs.DurationVar(&opts.DrainTimeout, "drain-timeout", receiver.DefaultDrainTimeout, "on SIGINT/SIGTERM, how long running jobs may finish")
	fs.BoolVar(&opts.EnableNew, "enable", false, "enable jobs registered for the first time (otherwise: receiver jobs enable NAME)")
	fs.StringVar(&opts.Source, "source", receiver.DefaultSource, "ce-source of the changes jobs publish")
	results := string(receiver.ResultsAll)
	fs.StringVar(&results, "results", results, `which runs get a record in job_results: "all", or "failures" (runs that did not complete at their first attempt)`)
	fs.DurationVar(&opts.RunningAfter, "running-after", receiver.DefaultRunningAfter, "how long a run goes before it is recorded as running")
	fs.TextVar(&logLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn or error")
	fs.StringVar(&httpAddr, "http", "", "serve /metrics, /healthz and /readyz on this address, e.g. 127.0.0.1:9090; off when empty")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return c.parseExit(err)
	}
	if len(pos) > 0 {
		return c.usageError(fs, "unexpected argument %q", pos[0])
	}
	for name := range strings.SplitSeq(jobs, ",") {
		if name = strings.TrimSpace(name); name != "" {
			opts.Jobs = append(opts.Jobs, name)
		}
	}
	opts.Consumer.BackOff = backoff
	if opts.Results = receiver.ResultsMode(results); opts.Results != receiver.ResultsAll && opts.Results != receiver.ResultsFailures {
		return c.usageError(fs, "--results %q: want all or failures", results)
	}
	logger := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: logLevel}))
	opts.Logger = logger

	reg := receiver.NewRegistry()
	builtin.Register(reg)
	s, err := dialJetStream(ctx, c.conn, c.conn.Name, logger)
	if err != nil {
		return c.fail(err)
	}
	defer func() {
		// Send the last acks before leaving.
		if err := s.nc.FlushTimeout(5 * time.Second); err != nil {
			logger.Warn("flushing the NATS connection", "error", err)
		}
		s.close()
	}()
	var metrics *prometheus.Registry
	if httpAddr != "" {
		jobs := opts.Jobs
		if len(jobs) == 0 {
			jobs = reg.Names()
		}
		metrics = newRegistry(s.js, receiverConsumers(jobs))
		opts.Registerer = metrics
	}
	runner := receiver.NewRunner(s.js, reg, opts)
	if httpAddr != "" {
		stop, err := serveReceiverHTTP(ctx, logger, httpAddr, s.nc, metrics, runner)
		if err != nil {
			return c.fail(err)
		}
		defer stop()
	}
	if err := runner.Run(ctx); err != nil {
		return c.fail(err)
	}
	logger.Info("receiver stopped")
	return ExitOK
}

// receiverDurations is a comma-separated list of durations flag.
type receiverDurations []time.Duration

func (d *receiverDurations) String() string {
	if d == nil {
		return ""
	}
	s := make([]string, len(*d))
	for i, v := range *d {
		s[i] = v.String()
	}
	return strings.Join(s, ",")
}

func (d *receiverDurations) Set(v string) error {
	var out []time.Duration
	for part := range strings.SplitSeq(v, ",") {
		x, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil {
			return fmt.Errorf("want durations like 1s,5s,30s: %w", err)
		}
		out = append(out, x)
	}
	*d = out
	return nil
}
