package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/receiver"
	"github.com/jobhooks/jobhooks/receiver/builtin"
)

// Receiver runs the receiver command with args (the arguments after the
// program name) and returns its exit code. Without a subcommand it runs the
// built-in jobs until ctx ends, then exits 0.
func Receiver(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return execute(ctx, newReceiverCmd(), args, nil, stdout, stderr)
}

// receiverRun is what running the receivers takes from the flags.
type receiverRun struct {
	conn     jhjs.ConnOptions
	opts     receiver.Options
	jobs     string
	backoff  receiverDurations // empty: the defaults, as many as --max-deliver allows
	results  string
	logLevel slog.Level
	httpAddr string
}

func newReceiverCmd() *cobra.Command {
	r := &receiverRun{}
	cmd := &cobra.Command{
		Use:   "receiver [flags]",
		Short: "Run jobs for the job messages the router publishes",
		Long: `Run the built-in jobs (` + strings.Join(builtin.Names(), ", ") + `): register each in the jobs bucket,
consume its job messages from jobs.<job> with the durable consumer receiver-<job>,
run them with retries and back-off, record every run in job_results and dead-letter
a message that exhausted its attempts to deadletter.jobs.<job>.

A job registered for the first time starts disabled (the router routes nothing to
it) unless --enable is given; "receiver jobs enable NAME" enables it later.

It runs until SIGINT or SIGTERM, lets running jobs finish (--drain-timeout) and
exits 0; it exits 1 when it fails and 2 on bad flags.`,
		Example: `  receiver --jobs serial-validator --enable
  receiver --nats-url nats://nats-1:4222 --jobs webhook --concurrency 8
  receiver --max-deliver 3 --backoff 5s,1m --results failures`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return r.run(cmd.Context(), cmd.ErrOrStderr()) },
	}
	r.flags(cmd.Flags())
	cmd.AddCommand(newJobsCmd(), newResultsCmd(), newReceiverDeadLetterCmd())
	return cmd
}

// flags registers the receiver's flags, a group at a time.
func (r *receiverRun) flags(fs *pflag.FlagSet) {
	r.conn.URLs = []string{DefaultURL}
	connFlags(fs, &r.conn)
	r.jobFlags(fs)
	r.consumerFlags(fs)
	logLevelFlag(fs, &r.logLevel)
	fs.StringVar(&r.httpAddr, "http", "", "serve /metrics, /healthz and /readyz on this address, e.g. 127.0.0.1:9090; off when empty")
}

// jobFlags registers which jobs run and how.
func (r *receiverRun) jobFlags(fs *pflag.FlagSet) {
	opts := &r.opts
	fs.StringVar(&r.jobs, "jobs", strings.Join(builtin.Names(), ","), "jobs to run, comma-separated")
	fs.BoolVar(&opts.EnableNew, "enable", false, "enable the jobs this receiver registers for the first time; a job already registered keeps its enabled flag (receiver jobs enable NAME changes it)")
	fs.IntVar(&opts.Concurrency, "concurrency", receiver.DefaultConcurrency, "messages of each job running at once (changes to one object run in order)")
	fs.IntVar(&opts.Prefetch, "prefetch", 0, fmt.Sprintf("messages of each job held at once, running or fetched to run next (0: %d × --concurrency)", receiver.DefaultPrefetchPerSlot))
	fs.DurationVar(&opts.Timeout, "timeout", receiver.DefaultTimeout, "time limit of one attempt")
	fs.DurationVar(&opts.DrainTimeout, "drain-timeout", receiver.DefaultDrainTimeout, "on SIGINT/SIGTERM, how long running jobs may finish")
	fs.StringVar(&opts.Source, "source", receiver.DefaultSource, "ce-source of the changes jobs publish")
	r.results = string(receiver.ResultsAll)
	fs.StringVar(&r.results, "results", r.results, `which runs get a record in job_results: "all", or "failures" (runs that did not complete at their first attempt)`)
	fs.DurationVar(&opts.RunningAfter, "running-after", receiver.DefaultRunningAfter, "how long a run goes before it is recorded as running")
}

// consumerFlags registers the attempts and delivery of job messages.
func (r *receiverRun) consumerFlags(fs *pflag.FlagSet) {
	c := &r.opts.Consumer
	fs.IntVar(&c.MaxDeliver, "max-deliver", jhjs.DefaultMaxDeliver, "attempts per job message, the first included")
	defaults := receiverDurations(jhjs.DefaultBackOff())
	fs.Var(&r.backoff, "backoff", "delays before the 2nd, 3rd, … attempt, comma-separated; the last repeats (default "+
		defaults.String()+", at most --max-deliver of them)")
	fs.DurationVar(&c.AckWait, "ack-wait", jhjs.DefaultAckWait, "how long a silent receiver keeps a message before the server redelivers it")
	fs.IntVar(&c.MaxAckPending, "max-ack-pending", jhjs.DefaultMaxAckPending, "messages in flight per job across all receivers")
}

// run runs the receivers of the built-in jobs until ctx ends.
func (r *receiverRun) run(ctx context.Context, stderr io.Writer) error {
	opts := r.opts
	for name := range strings.SplitSeq(r.jobs, ",") {
		if name = strings.TrimSpace(name); name != "" {
			opts.Jobs = append(opts.Jobs, name)
		}
	}
	if len(opts.Jobs) == 0 {
		return usagef("--jobs %q names no job: give one or more of %s (without --jobs: all of them)", r.jobs, strings.Join(builtin.Names(), ","))
	}
	opts.Consumer.BackOff = r.backoff
	if opts.Results = receiver.ResultsMode(r.results); opts.Results != receiver.ResultsAll && opts.Results != receiver.ResultsFailures {
		return usagef("--results %q: want all or failures", r.results)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: r.logLevel}))
	opts.Logger = logger

	reg := receiver.NewRegistry()
	builtin.Register(reg)
	s, err := dialJetStream(ctx, r.conn, "jobhooks receiver", logger)
	if err != nil {
		return err
	}
	defer func() {
		// Send the last acks before leaving.
		if err := s.nc.FlushTimeout(5 * time.Second); err != nil {
			logger.Warn("flushing the NATS connection", "error", err)
		}
		s.close()
	}()
	var metrics *prometheus.Registry
	if r.httpAddr != "" {
		metrics = newRegistry(s.js, receiverConsumers(opts.Jobs))
		opts.Registerer = metrics
	}
	runner := receiver.NewRunner(s.js, reg, opts)
	if r.httpAddr != "" {
		stop, err := serveReceiverHTTP(ctx, logger, r.httpAddr, s.nc, metrics, runner)
		if err != nil {
			return err
		}
		defer stop()
	}
	if err := runner.Run(ctx); err != nil {
		return err
	}
	logger.Info("receiver stopped")
	return nil
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

func (d *receiverDurations) Type() string { return "durations" }
