package receiver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/hookconfig"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
)

// Defaults of Options.
const (
	DefaultConcurrency  = 4
	DefaultTimeout      = 5 * time.Minute
	DefaultDrainTimeout = 30 * time.Second
	DefaultSource       = "jobhooks://receiver"
	DefaultRunningAfter = time.Second
	// DefaultPrefetchPerSlot times Concurrency is the default Prefetch.
	DefaultPrefetchPerSlot = 16
)

// Options tune a Runner; zero fields take the defaults.
type Options struct {
	// Jobs are the registered jobs to run; default all of the Registry's.
	Jobs []string
	// Concurrency is how many messages of each job run at once (default
	// 4). Changes to the same object always run one at a time, in order.
	Concurrency int
	// Prefetch is how many messages of each job the runner holds at once:
	// those running and those fetched to run next, all kept alive with
	// in-progress heartbeats (default DefaultPrefetchPerSlot ×
	// Concurrency; at least Concurrency). It fetches as many as it has
	// room for in one request. More keeps quick jobs flowing, since each
	// fetch is a round trip to the server; fewer leaves more of a slow
	// job's backlog on the server for the job's other receivers.
	Prefetch int
	// Consumer sets each job's durable consumer receiver-<job>: attempts
	// (MaxDeliver), back-off between them, AckWait and MaxAckPending (see
	// jhjs.ReceiverConsumerOptions). Every process sharing a consumer
	// should use the same settings: the last one to start wins.
	Consumer jhjs.ReceiverConsumerOptions
	// Timeout bounds one attempt (default 5m): the receiver's context is
	// cancelled with cause ErrTimeout, and the attempt counts as errored.
	Timeout time.Duration
	// DrainTimeout bounds how long Run, once its context ends, lets running
	// jobs finish (default 30s). Then their contexts are cancelled with
	// cause ErrShutdown and their messages released to other receivers.
	DrainTimeout time.Duration
	// EnableNew enables jobs registered for the first time, whatever their
	// JobInfo says.
	EnableNew bool
	// Source is the ce-source of the changes jobs publish (default
	// "jobhooks://receiver").
	Source string
	// Logger receives the runner's and the jobs' logs (default
	// slog.Default()), the message and each value of a line cut at 8 KiB.
	Logger *slog.Logger
	// Results says which runs are recorded in job_results: ResultsAll
	// (the default) or ResultsFailures.
	Results ResultsMode
	// RunningAfter is how long a run goes before it is recorded as
	// running (default 1s): a quicker one gets only its final record, one
	// write per run.
	RunningAfter time.Duration
	// Registerer, when set, gets the runner's Prometheus metrics (see
	// docs/metrics.md) while Run runs; nil means no metrics.
	Registerer prometheus.Registerer
}

// ResultsMode says which runs a Runner records in job_results.
type ResultsMode string

const (
	// ResultsAll records every run: its final result, and while it runs,
	// once it outlives Options.RunningAfter, that it is running.
	ResultsAll ResultsMode = "all"
	// ResultsFailures records only runs that did not complete at their
	// first attempt: errored, failed, retried or dead-lettered ones. A
	// run that completes first time leaves no record.
	ResultsFailures ResultsMode = "failures"
)

func (o Options) withDefaults(reg *Registry) Options {
	if len(o.Jobs) == 0 {
		o.Jobs = reg.Names()
	}
	if o.Concurrency == 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Prefetch == 0 && o.Concurrency > 0 { // an invalid concurrency is reported alone
		o.Prefetch = DefaultPrefetchPerSlot * o.Concurrency
	}
	o.Consumer = o.Consumer.WithDefaults()
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.DrainTimeout == 0 {
		o.DrainTimeout = DefaultDrainTimeout
	}
	if o.Source == "" {
		o.Source = DefaultSource
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Results == "" {
		o.Results = ResultsAll
	}
	if o.RunningAfter == 0 {
		o.RunningAfter = DefaultRunningAfter
	}
	return o
}

func (o Options) validate(reg *Registry) error {
	var errs []error
	if len(o.Jobs) == 0 {
		errs = append(errs, errors.New("no jobs to run: register at least one"))
	}
	for i, name := range o.Jobs {
		if _, _, ok := reg.Lookup(name); !ok {
			errs = append(errs, fmt.Errorf("%w: %q (registered: %v)", ErrUnknownJob, name, reg.Names()))
		} else if slices.Contains(o.Jobs[:i], name) {
			errs = append(errs, fmt.Errorf("job %q listed twice", name))
		}
	}
	if o.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("concurrency must be at least 1, got %d", o.Concurrency))
	}
	if o.Concurrency >= 1 && o.Prefetch < o.Concurrency {
		errs = append(errs, fmt.Errorf("prefetch must be at least the concurrency (%d), got %d", o.Concurrency, o.Prefetch))
	}
	if o.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout must be positive, got %s", o.Timeout))
	}
	if o.RunningAfter < 0 {
		errs = append(errs, fmt.Errorf("running-after must be positive, got %s", o.RunningAfter))
	}
	if o.DrainTimeout < 0 {
		errs = append(errs, fmt.Errorf("drain timeout must be positive, got %s", o.DrainTimeout))
	}
	if o.Results != ResultsAll && o.Results != ResultsFailures {
		errs = append(errs, fmt.Errorf("results must be %q or %q, got %q", ResultsAll, ResultsFailures, o.Results))
	}
	if _, err := jhjs.ReceiverConsumerConfig("validate", o.Consumer); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrOptions, err)
	}
	return nil
}

// Runner runs the receivers of a Registry: for each job it registers the
// job in the jobs bucket, follows its enabled flag, consumes jobs.<job>
// through the durable consumer receiver-<job> (shared with any other
// process running the job) and records every run in job_results.
type Runner struct {
	js    jetstream.JetStream
	reg   *Registry
	opts  Options
	ready chan struct{}
}

// NewRunner returns a Runner of reg's jobs on js. Options are checked by
// Run.
func NewRunner(js jetstream.JetStream, reg *Registry, opts Options) *Runner {
	return &Runner{js: js, reg: reg, opts: opts, ready: make(chan struct{})}
}

// Ready is closed once every job is registered, its consumer exists and its
// enabled flag has been read (and, if enabled, it is consuming).
func (r *Runner) Ready() <-chan struct{} { return r.ready }

// Run runs the jobs until ctx ends, then stops fetching, lets running jobs
// finish (within Options.DrainTimeout), releases the messages it holds and
// returns nil. It returns an error if it cannot start (invalid options,
// JetStream unavailable) or if it loses the jobs bucket watch. Every
// goroutine it starts has ended when it returns, whatever the path (a
// receiver abandoned after its timeout aside: Go cannot stop it). Call it
// once.
func (r *Runner) Run(ctx context.Context) error {
	opts := r.opts.withDefaults(r.reg)
	if err := opts.validate(r.reg); err != nil {
		return err
	}
	// What the receiver logs carries what changes and jobs hold: every
	// value is capped (see maxLogValue).
	opts.Logger = cappedLogger(opts.Logger)
	logger := opts.Logger
	var m *metrics
	if opts.Registerer != nil {
		m = newMetrics()
		if err := m.register(opts.Registerer); err != nil {
			return fmt.Errorf("register the receiver's metrics: %w", err)
		}
		defer m.unregister(opts.Registerer)
	}
	if err := createMissing(ctx, r.js, logger); err != nil {
		return err
	}
	buckets := make(map[string]jetstream.KeyValue)
	for _, name := range []string{jhjs.BucketJobs, jhjs.BucketJobHooks, jhjs.BucketJobResults} {
		kv, err := r.js.KeyValue(ctx, name)
		if err != nil {
			return fmt.Errorf("open KV bucket %s: %w", name, err)
		}
		buckets[name] = kv
	}
	jobsKV := buckets[jhjs.BucketJobs]
	jobs := hookconfig.NewJobs(jobsKV)
	// Hook params are read from a live copy of the bucket: no round trip
	// per attempt, and still the current params when the attempt starts.
	// The watch ends when Run returns, on every path: Run waits for it.
	watchCtx, stopWatch := context.WithCancel(ctx)
	hooks, err := hookconfig.Watch(watchCtx, buckets[jhjs.BucketJobHooks], hookconfig.WatchOptions{Logger: logger})
	if err != nil {
		stopWatch()
		return err
	}
	defer func() {
		stopWatch()
		<-hooks.Done()
	}()
	if err := hooks.WaitReady(ctx); err != nil {
		return fmt.Errorf("load hooks: %w", err)
	}
	hookStore := hookconfig.NewStore(buckets[jhjs.BucketJobHooks], jobs)
	results := NewResults(buckets[jhjs.BucketJobResults])
	results.maxPayload = r.js.Conn().MaxPayload // records are trimmed to fit
	publisher := events.NewPublisher(r.js, opts.Source)

	runners := make([]*jobRunner, 0, len(opts.Jobs))
	for _, name := range opts.Jobs {
		rcv, info, _ := r.reg.Lookup(name)
		if _, err := register(ctx, jobs, name, info, opts.EnableNew, logger); err != nil {
			return err
		}
		cfg, err := jhjs.ReceiverConsumerConfig(name, opts.Consumer)
		if err != nil {
			return err
		}
		var ensured jhjs.ProvisionResult
		cons, err := jhjs.EnsureConsumer(ctx, r.js, jhjs.StreamJobs, cfg, jhjs.WithLogger(logger), jhjs.WithResult(&ensured))
		if err != nil {
			return err
		}
		since := consumerSince(ctx, r.js, cons, ensured.Action == jhjs.ActionCreated)
		runners = append(runners, newJobRunner(jobRunnerConfig{
			name: name, receiver: rcv, info: info, opts: opts, js: r.js, consumer: cons, consumerCfg: cfg, since: since,
			hooks: hooks, hookStore: hookStore, results: results, publisher: publisher, logger: logger.With("job", name),
			metrics: m.job(name),
		}))
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg      sync.WaitGroup
		readyWG sync.WaitGroup
		errMu   sync.Mutex
		runErr  error
	)
	readyWG.Add(len(runners))
	for _, jr := range runners {
		ready := sync.OnceFunc(readyWG.Done)
		wg.Go(func() {
			defer ready() // also when the job fails before it is ready
			if err := jr.run(ctx, jobsKV, ready); err != nil {
				errMu.Lock()
				runErr = errors.Join(runErr, err)
				errMu.Unlock()
				cancel(err) // one job failing stops the others
			}
		})
	}
	// A hook table that stopped following the bucket would go stale (the
	// params and the ownership check with it): stop, so that a supervisor
	// restarts the receiver.
	wg.Go(func() {
		select {
		case <-hooks.Done():
			if watchCtx.Err() != nil {
				return // ended by the stop, not on its own
			}
			err := fmt.Errorf("the %s watch ended: %w", jhjs.BucketJobHooks, hooks.Err())
			errMu.Lock()
			runErr = errors.Join(runErr, err)
			errMu.Unlock()
			cancel(err)
		case <-ctx.Done():
		}
	})
	readyWG.Wait()
	if ctx.Err() == nil {
		close(r.ready)
		logger.Info("receiver ready", "jobs", opts.Jobs, "concurrency", opts.Concurrency, "prefetch", opts.Prefetch)
		if opts.Prefetch > opts.Consumer.MaxAckPending {
			logger.Warn("prefetch is above the consumer's max ack pending: a job's receivers together never hold more than that",
				"prefetch", opts.Prefetch, "max_ack_pending", opts.Consumer.MaxAckPending)
		}
	}
	wg.Wait()
	return runErr // every writer has returned
}
