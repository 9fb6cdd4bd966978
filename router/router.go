package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/hookconfig"
	"github.com/jobhooks/jobhooks/internal/retry"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
)

// Options configures a Router.
type Options struct {
	// Logger receives the router's logs; nil means slog.Default().
	Logger *slog.Logger
	// Callbacks add context to job messages; nil means none.
	Callbacks *Callbacks
	// CallbackTimeout bounds each context callback (default 5s): its
	// context ends then, and a callback that has not returned by then
	// counts as failed (logged and skipped). Callbacks do not get Run's
	// context: a stop lets the change in hand finish with its context.
	CallbackTimeout time.Duration
	// MaxPending bounds the changes whose job messages are published but
	// not yet acknowledged by the server (default 512).
	MaxPending int
	// MaxPendingMessages bounds the job messages of those changes (default
	// 2000), so that a change fanned out to many hooks does not run the
	// JetStream handle out of asynchronous publishes: keep it below the
	// handle's PublishAsyncMaxPending (nats.go's default is 4000), past
	// which a publish stalls and then fails. A change with more job
	// messages than this is sent alone.
	MaxPendingMessages int
	// RetryMin and RetryMax bound the back-off between attempts to store a
	// job message or a dead letter (default 100ms and 5s).
	RetryMin, RetryMax time.Duration
	// DeadLetterAttempts bounds the attempts to store the dead letter of a
	// change (default 3): then the change is released, to be delivered and
	// dead-lettered again after RetryMax, so that an outage of DEADLETTER
	// does not stop routing.
	DeadLetterAttempts int
	// AckTimeout is how long the router waits for the server to confirm a
	// job message before publishing it again (default 10s; de-duplication
	// makes the repeat harmless). Give the router a JetStream handle made
	// with jetstream.WithPublishAsyncTimeout (the router command uses a
	// minute): otherwise publishes whose confirmations a stream leader lost
	// stay pending in the handle for good, and past its limit stall it.
	AckTimeout time.Duration
	// DrainTimeout bounds how long a stopping router waits for the
	// confirmations of job messages already sent, so that it acknowledges
	// what is stored (default 10s).
	DrainTimeout time.Duration
	// Registerer, when set, gets the router's Prometheus metrics (see
	// docs/metrics.md) while Run runs; nil means no metrics.
	Registerer prometheus.Registerer

	consumerAckWait time.Duration // tests: the consumer's ack wait, instead of the contract's
}

// Stats counts what the router did since it started.
type Stats struct {
	Changes      uint64 // changes received
	Routed       uint64 // job messages stored
	DeadLettered uint64 // invalid changes sent to deadletter.changes
	SkippedLoop  uint64 // changes made by a job hook receiver, not routed
	SkippedJob   uint64 // matching hooks skipped: job missing or disabled
	// Filtered counts, per hook, the changes a hook matched by object
	// type and action that its filters (skip_noop, changed_fields,
	// conditions) kept it from firing for; hooks that filtered none are
	// left out.
	Filtered map[string]FilterCounts
}

// Router routes changes to jobs. Create it with New, run it with Run.
type Router struct {
	js        jetstream.JetStream
	log       *slog.Logger
	opts      Options
	callbacks []callbackEntry
	ready     chan struct{}

	hooks *hookconfig.Watcher
	jobs  *jobStates
	m     *metrics // nil: no metrics

	changes, routed, deadLettered, skippedLoop, skippedJob atomic.Uint64
	filters                                                filterTable

	warned sync.Map
	// keepAliveEvery is a third of the consumer's ack wait: how often a
	// change held long gets an in-progress ack.
	keepAliveEvery time.Duration
	backoff        retry.Backoff // between attempts to store a message // hook → time of the last "job not enabled" warning
}

// New returns a router publishing through js.
func New(js jetstream.JetStream, opts Options) *Router {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = 512
	}
	if opts.MaxPendingMessages <= 0 {
		opts.MaxPendingMessages = 2000
	}
	if opts.RetryMin <= 0 {
		opts.RetryMin = 100 * time.Millisecond
	}
	if opts.RetryMax < opts.RetryMin {
		opts.RetryMax = max(5*time.Second, opts.RetryMin)
	}
	if opts.AckTimeout <= 0 {
		opts.AckTimeout = 10 * time.Second
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = 10 * time.Second
	}
	if opts.DeadLetterAttempts <= 0 {
		opts.DeadLetterAttempts = 3
	}
	if opts.CallbackTimeout <= 0 {
		opts.CallbackTimeout = 5 * time.Second
	}
	r := &Router{js: js, log: opts.Logger, opts: opts, ready: make(chan struct{}),
		backoff: retry.Backoff{Min: opts.RetryMin, Max: opts.RetryMax, Jitter: 0.2}}
	if opts.Registerer != nil {
		r.m = newMetrics(r)
	}
	return r
}

// Ready is closed once the hook and job tables are loaded and the router
// routes.
func (r *Router) Ready() <-chan struct{} { return r.ready }

// Hooks returns the live hook watcher; nil before Run loaded it.
func (r *Router) Hooks() *hookconfig.Watcher {
	select {
	case <-r.ready:
		return r.hooks
	default:
		return nil
	}
}

// jobTable returns the live job table; nil before Run loaded it.
func (r *Router) jobTable() *jobStates {
	select {
	case <-r.ready:
		return r.jobs
	default:
		return nil
	}
}

// Stats returns the router's counters.
func (r *Router) Stats() Stats {
	return Stats{
		Changes:      r.changes.Load(),
		Routed:       r.routed.Load(),
		DeadLettered: r.deadLettered.Load(),
		SkippedLoop:  r.skippedLoop.Load(),
		SkippedJob:   r.skippedJob.Load(),
		Filtered:     r.filters.counts(),
	}
}

// Run ensures the router consumer, loads the hook and job tables (the whole
// buckets, before the first change is routed), and routes until ctx ends.
// It returns nil on a clean stop, and an error when it cannot go on: the
// connection closed, its consumer was deleted, or the watch of a table
// ended (a restart loads it again).
func (r *Router) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx) // ends the watchers however Run returns
	defer cancel()
	if r.m != nil {
		if err := r.m.register(r.opts.Registerer); err != nil {
			return fmt.Errorf("register the router's metrics: %w", err)
		}
		defer r.m.unregister(r.opts.Registerer)
	}
	r.callbacks = r.opts.Callbacks.freeze()
	var created jhjs.ProvisionResult
	consCfg := jhjs.RouterConsumerConfig()
	if r.opts.consumerAckWait > 0 {
		consCfg.AckWait = r.opts.consumerAckWait
	}
	cons, err := jhjs.EnsureConsumer(ctx, r.js, jhjs.StreamChanges, consCfg, jhjs.WithLogger(r.log), jhjs.WithResult(&created))
	if err != nil {
		return err
	}
	if info := cons.CachedInfo(); created.Action == jhjs.ActionCreated && info.NumPending > 0 {
		// A new consumer starts at the beginning of CHANGES: on a first
		// start that is what is wanted, after a deleted consumer it routes
		// everything stored again. Say so.
		r.log.Warn("router consumer created: every change stored in CHANGES will be routed", "changes", info.NumPending)
	}
	err = r.loadTables(ctx)
	defer r.waitWatchers(cancel)
	if err != nil {
		return err
	}
	r.log.Info("router ready", "hooks", r.hooks.Index().Len(), "consumer", jhjs.ConsumerRouter)
	close(r.ready)

	// Short pull requests with frequent heartbeats: a lost consumer or
	// server is noticed in seconds.
	iter, err := cons.Messages(jetstream.PullMaxMessages(r.opts.MaxPending),
		jetstream.PullExpiry(10*time.Second), jetstream.PullHeartbeat(2*time.Second))
	if err != nil {
		return fmt.Errorf("consume %s: %w", jhjs.StreamChanges, err)
	}
	r.keepAliveEvery = max(cons.CachedInfo().Config.AckWait/3, time.Millisecond)
	pending := make(chan pendingChange, r.opts.MaxPending)
	// The acknowledger can hold every change delivered and not yet
	// acknowledged, as many as the consumer lets the router have (within
	// reason), so that the fetch loop keeps taking what is delivered.
	held := max(r.opts.MaxPending, 1000)
	if limit := cons.CachedInfo().Config.MaxAckPending; limit > 0 {
		held = max(r.opts.MaxPending, min(limit, 10000))
	}
	ackerDone := make(chan struct{})
	// The acknowledger outlives ctx by up to DrainTimeout: what is already
	// stored when the router stops is acknowledged, not routed again later.
	ackCtx, cancelAck := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelAck()
	go func() {
		defer close(ackerDone)
		r.ackInOrder(ackCtx, pending, held, r.keepAliveEvery)
	}()
	stop := context.AfterFunc(ctx, iter.Stop)
	defer stop()
	// A table whose watch ended no longer follows its bucket: stop, with an
	// error, for a supervisor to restart the router and load it again.
	watchErr := make(chan error, 1)
	go func() {
		var err error
		select {
		case <-ctx.Done():
			return
		case <-r.hooks.Done():
			err = fmt.Errorf("the watch of bucket %s ended: %w", jhjs.BucketJobHooks, r.hooks.Err())
		case <-r.jobs.follow.Done():
			err = fmt.Errorf("the watch of bucket %s ended: %w", jhjs.BucketJobs, r.jobs.follow.Err())
		}
		if ctx.Err() == nil { // not ended by ctx
			watchErr <- err
			iter.Stop()
		}
	}()

	var runErr error
	var released []jetstream.Msg
	for {
		m, err := iter.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				// Closed by ctx, or on its own (connection closed): the
				// latter is an error, for a supervisor to restart the router.
				runErr = fmt.Errorf("consume %s: %w", jhjs.StreamChanges, err)
				break
			}
			if _, cerr := r.js.Consumer(ctx, jhjs.StreamChanges, jhjs.ConsumerRouter); errors.Is(cerr, jetstream.ErrConsumerNotFound) {
				runErr = fmt.Errorf("consume %s: the %s consumer was deleted (a restart recreates it): %w", jhjs.StreamChanges, jhjs.ConsumerRouter, err)
				break
			}
			r.log.Warn("receiving changes", "error", err) // e.g. missed heartbeats: the iterator recovers
			continue
		}
		p, out := r.route(ctx, m)
		if out == queue && len(released) > 0 {
			// A change before it is left for redelivery: routed now, this
			// one would overtake it.
			out = release
		}
		switch out {
		case release:
			released = append(released, m)
		case queue:
			select {
			case pending <- p:
			default:
				select {
				case pending <- p:
				case <-ctx.Done():
					// Stopping while the acknowledger is full (JOBS
					// refusing messages): p is left to be delivered again.
				}
			}
		}
	}
	close(pending)
	drain := time.AfterFunc(r.opts.DrainTimeout, cancelAck)
	defer drain.Stop()
	if len(released) > 0 {
		r.releaseAfter(ackCtx, iter, released)
	}
	<-ackerDone
	if ctx.Err() != nil {
		return nil
	}
	select {
	case err := <-watchErr:
		return err
	default:
		return runErr
	}
}

// releaseAfter releases msgs for redelivery (nak) once the stopped iter has
// unsubscribed: until then the server may hand them straight back to its
// pull requests, to be dropped with the iterator's buffer, and they would
// come back only after the ack wait.
func (r *Router) releaseAfter(ctx context.Context, iter jetstream.MessagesContext, msgs []jetstream.Msg) {
	if c, ok := iter.(interface{ Closed() <-chan struct{} }); ok {
		select {
		case <-c.Closed():
		case <-ctx.Done():
		}
	}
	for _, m := range msgs {
		if err := m.Nak(); err != nil {
			r.log.Warn("release change failed; it is redelivered after the ack wait", "error", err)
		}
	}
}

// waitWatchers stops the table watchers and waits until they have ended.
func (r *Router) waitWatchers(cancel context.CancelFunc) {
	cancel()
	if r.hooks != nil {
		<-r.hooks.Done()
	}
	if r.jobs != nil {
		<-r.jobs.follow.Done()
	}
}

func (r *Router) loadTables(ctx context.Context) error {
	hooksKV, err := r.js.KeyValue(ctx, jhjs.BucketJobHooks)
	if err != nil {
		return fmt.Errorf("open bucket %s (provision first): %w", jhjs.BucketJobHooks, err)
	}
	jobsKV, err := r.js.KeyValue(ctx, jhjs.BucketJobs)
	if err != nil {
		return fmt.Errorf("open bucket %s (provision first): %w", jhjs.BucketJobs, err)
	}
	if r.hooks, err = hookconfig.Watch(ctx, hooksKV, hookconfig.WatchOptions{Logger: r.log}); err != nil {
		return err
	}
	if r.jobs, err = watchJobs(ctx, jobsKV, r.log); err != nil {
		return err
	}
	if err := r.hooks.WaitReady(ctx); err != nil {
		return fmt.Errorf("load hooks: %w", err)
	}
	if err := r.jobs.follow.WaitReady(ctx); err != nil {
		return fmt.Errorf("load jobs: %w", err)
	}
	return nil
}

// outcome says what became of a change route was given.
type outcome int

const (
	queue   outcome = iota // for the acknowledger: routed, or to dead-letter
	release                // stopping: to be released for redelivery
)

// route decodes one change and renders its job messages, or its dead letter
// when it is invalid, for the acknowledger to publish, and to acknowledge
// (or terminate) in order once stored. It routes on the subject and the
// headers: the change's snapshots are checked, not decoded, unless a hook
// that matched needs them: its conditions, or context callbacks. An
// update's differences (skip_noop, changed_fields) are read from the
// snapshots as they arrived (ChangeHead.Differs).
func (r *Router) route(ctx context.Context, m jetstream.Msg) (pendingChange, outcome) {
	r.changes.Add(1)
	var received time.Time
	if r.m != nil {
		received = time.Now()
	}
	ch, err := events.DecodeHead(m.Subject(), m.Headers(), m.Data())
	if err != nil {
		return r.deadLetterOf(m, classInvalid, err), queue
	}
	p := pendingChange{msg: m, received: received}
	if origin := ch.HookOrigin(); origin != "" {
		// Nautobot's loop prevention: a job's own change triggers no hook.
		r.skippedLoop.Add(1)
		p.skip = skipLoop
		r.log.Debug("change made by a job hook receiver; not routed", "change_id", ch.ID(), "subject", m.Subject(), "hookorigin", origin)
		return p, queue
	}
	var msgs *events.JobMessages // rendered once per change, on the first enabled hook
	view := changeView{head: ch} // what the hooks' filters read, worked out once
	for _, h := range r.hooks.Index().Lookup(ch.ContentType, ch.Action) {
		reason, failure, err := evaluate(h, &view)
		if err != nil {
			// Only a change DecodeHead refuses gets here, and it accepted it.
			return r.deadLetterOf(m, classUnroutable, err), queue
		}
		if reason != filterNone {
			r.filtered(h, reason, failure, ch.ID(), m.Subject())
			if p.skip == skipNoHook {
				p.skip = skipFiltered
			}
			continue
		}
		if !r.jobEnabled(h, ch.ID(), m.Subject()) {
			p.skip = skipJob
			continue
		}
		if msgs == nil {
			var out outcome
			msgs, out, err = r.jobMessages(ctx, m, ch)
			switch {
			case out == release:
				return pendingChange{}, release
			case err != nil:
				return r.deadLetterOf(m, classUnroutable, err), queue
			}
		}
		job, err := msgs.For(h.Name, h.Job)
		if err != nil {
			return r.deadLetterOf(m, classUnroutable, fmt.Errorf("build job message for hook %s: %w", h.Name, err)), queue
		}
		p.jobs = append(p.jobs, job)
	}
	return p, queue
}

// jobMessages renders the job messages of change ch, delivered as m, with
// the context the callbacks add. It says release when the change is to be
// left for redelivery, and fails when the change cannot be routed.
func (r *Router) jobMessages(ctx context.Context, m jetstream.Msg, ch *events.ChangeHead) (*events.JobMessages, outcome, error) {
	var extra map[string]any
	if len(r.callbacks) > 0 {
		change, err := ch.Change()
		if err != nil {
			// Only a change DecodeHead refuses gets here, and it accepted it.
			return nil, queue, fmt.Errorf("decode the change for the context callbacks: %w", err)
		}
		var failed bool
		extra, failed = r.runCallbacks(ctx, m, callbackRequest(ch.ID(), change))
		if failed && ctx.Err() != nil {
			// Stopping: the failure may be the stop's doing. Rather than
			// route the change without that context, leave it to be
			// delivered again.
			r.log.Info("a context callback failed while stopping; the change is left for redelivery", "change_id", ch.ID(), "subject", m.Subject())
			return nil, release, nil
		}
	}
	msgs, err := ch.JobMessages(extra)
	if err != nil {
		// Only an unencodable event gets here, and DecodeHead accepted it.
		return nil, queue, fmt.Errorf("build job messages: %w", err)
	}
	return msgs, queue, nil
}

func callbackRequest(changeID string, ch *events.Change) CallbackRequest {
	data := ch.PostChange
	if ch.Action == events.ActionDelete {
		data = ch.PreChange
	}
	return CallbackRequest{
		ObjectType: ch.ContentType,
		Event:      ch.Action,
		Data:       data,
		Request:    RequestInfo{User: ch.User, RequestID: ch.RequestID, ChangeID: changeID},
	}
}

// jobEnabled says whether h's job is registered and enabled; when not, the
// hook is skipped, counted, and logged at most once a minute per hook.
func (r *Router) jobEnabled(h *hookconfig.Hook, changeID, subject string) bool {
	registered, enabled := r.jobs.state(h.Job)
	if registered && enabled {
		return true
	}
	r.skippedJob.Add(1)
	now := time.Now()
	if last, ok := r.warned.Load(h.Name); !ok || now.Sub(last.(time.Time)) > time.Minute {
		r.warned.Store(h.Name, now)
		reason := "is not registered (start its receiver)"
		if registered {
			reason = "is disabled (receiver jobs enable " + h.Job + ")"
		}
		r.log.Warn("hook skipped: its job "+reason, "change_id", changeID, "subject", subject, "hook", h.Name, "job", h.Job)
	}
	return false
}

// permanent reports a publish error that retrying cannot fix: the server
// refused the message itself.
func permanent(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, nats.ErrMaxPayload) || (errors.As(err, &apiErr) && apiErr.Code == 400)
}

// deadLetterOf makes change m, which cannot be routed for reason, a dead
// letter for the acknowledger to store on deadletter.changes: its headers
// and body, the reason in Jobhooks-Error, its subject in Jobhooks-Subject
// and its CHANGES sequence in Jobhooks-Sequence. A change too large for
// that gets a dead letter that fits instead: no body, the headers that fit
// (events.ShrinkDeadLetter). Once stored, the change is terminated.
func (r *Router) deadLetterOf(m jetstream.Msg, class deadLetterClass, reason error) pendingChange {
	var seq uint64
	if meta, err := m.Metadata(); err == nil {
		seq = meta.Sequence.Stream
	}
	// One dead letter per stored change, however often it is delivered.
	dl := events.NewDeadLetter(events.DeadLetterChanges, m.Headers(), m.Data(), reason.Error(),
		events.ChangeDeadLetterID(seq, m.Subject(), m.Headers(), m.Data()))
	dl.Header.Set(events.HeaderSubject, m.Subject())
	if seq > 0 {
		dl.Header.Set(events.HeaderSequence, strconv.FormatUint(seq, 10))
	}
	dl = events.FitDeadLetter(dl, r.maxPayload())
	r.log.Warn("change dead-lettered", "change_id", rawChangeID(m.Headers()), "subject", m.Subject(),
		"stream_seq", seq, "reason", reason.Error())
	return pendingChange{msg: m, jobs: []*nats.Msg{dl}, dead: true, seq: seq, class: class}
}

// rawChangeID is the ce-id header of a change that may be invalid, cut to
// the longest valid id: enough to find it, whatever it holds. A change in
// structured mode has its id in the body: "" then.
func rawChangeID(h nats.Header) string {
	id := events.HeaderValue(h, events.HeaderPrefix+"id")
	if len(id) > events.MaxChangeIDLen {
		id = id[:events.MaxChangeIDLen]
	}
	return id
}

// maxPayload is the most a message may carry, headers and body, on the
// router's connection.
func (r *Router) maxPayload() int {
	if nc := r.js.Conn(); nc != nil {
		if n := nc.MaxPayload(); n > 0 {
			return int(n)
		}
	}
	return 1 << 20 // the server's default
}
