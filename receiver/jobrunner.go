package receiver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/hookconfig"
	"github.com/jobhooks/jobhooks/internal/retry"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
)

// restartBackoff paces restarts when a job's message iterator ends on its
// own (consumer deleted, connection closed and reopened, …); fetchBackoff
// paces fetches that fail.
var (
	restartBackoff = retry.Backoff{Min: time.Second, Max: 30 * time.Second, Jitter: 0.2}
	fetchBackoff   = retry.Backoff{Min: 100 * time.Millisecond, Max: 30 * time.Second, Jitter: 0.2}
)

type jobRunnerConfig struct {
	name        string
	receiver    Receiver
	info        JobInfo
	opts        Options
	js          jetstream.JetStream
	consumer    jetstream.Consumer // the consumer at start; run's own after that
	consumerCfg jetstream.ConsumerConfig
	since       since               // which messages of consumer are surely new to it
	hooks       *hookconfig.Watcher // live copy of job_hooks, for params
	hookStore   *hookconfig.Store   // for a hook the copy does not have yet
	results     *Results
	publisher   *events.Publisher
	logger      *slog.Logger
	metrics     *jobMetrics // nil: no metrics
}

// jobRunner runs one job: it follows the job's enabled flag, pulls its
// messages while it is enabled, runs them with bounded concurrency in
// per-object order, and settles each one.
type jobRunner struct {
	jobRunnerConfig

	gate    *gate
	held    chan struct{} // slots of messages taken from the iterator, not yet settled
	running chan struct{} // slots of running attempts
	queue   keyQueue
	beats   *heartbeats
	pullers sync.WaitGroup
	workers sync.WaitGroup
	// idle hands an object's messages to a worker that has run out of
	// its own; dispatch starts a new worker only when none is idle. Kept
	// workers keep their grown stacks: a new goroutine per object spent
	// much of a quick job's time growing its stack, decoding the change.
	idle  chan string
	ended chan *puller  // a puller that stopped on its own (consumer gone)
	stop  chan struct{} // closed when the runner's context ends

	// fetchCtx ends fetches in flight when the runner stops.
	fetchCtx    context.Context
	cancelFetch context.CancelFunc

	// jobCtx parents every attempt's context. It outlives the runner's
	// context so running jobs can finish, and is cancelled with
	// ErrShutdown when the drain timeout expires.
	jobCtx context.Context
	abort  context.CancelCauseFunc
}

// delivery is a message the runner holds until it settles it.
type delivery struct {
	msg  jetstream.Msg
	meta *jetstream.MsgMetadata
	jm   *events.JobMessage
	err  error  // why the message is not a valid job message
	key  string // what must not be reordered: the object
	// attempt is the attempt it runs as, once attempt has decided (see
	// there); 0 before.
	attempt int
	// fresh: it surely has no result record yet (see since.fresh).
	fresh bool
}

func (d *delivery) attempts() int {
	if d.meta == nil {
		return 0
	}
	return int(d.meta.NumDelivered)
}

func newJobRunner(c jobRunnerConfig) *jobRunner {
	return &jobRunner{
		jobRunnerConfig: c,
		gate:            newGate(),
		beats:           newHeartbeats(c.opts.Consumer.AckWait, c.js.Conn()),
		held:            make(chan struct{}, c.opts.Prefetch),
		running:         make(chan struct{}, c.opts.Concurrency),
		ended:           make(chan *puller),
		idle:            make(chan string),
		stop:            make(chan struct{}),
	}
}

// puller is one enabled period's fetching goroutine. It fetches from the
// consumer it was started with: run replaces a deleted consumer while a
// drained puller may still be fetching.
type puller struct {
	consumer jetstream.Consumer
	since    since // which of its messages are surely new to it
	draining chan struct{}
	once     sync.Once
}

// drain stops fetching once the fetch in flight returns. That fetch is not
// cancelled: its pull request stays open on the server, and a message the
// server sent to it after a cancel would be lost until its ack wait ran
// out, costing it an attempt.
func (p *puller) drain() { p.once.Do(func() { close(p.draining) }) }

// stopped reports whether p is drained or the runner stopped. The loop
// asks it before each fetch: a select between a free slot and a closed
// draining channel would pick either at random.
func (p *puller) stopped(stop <-chan struct{}) bool {
	select {
	case <-p.draining:
		return true
	case <-stop:
		return true
	default:
		return false
	}
}

// run runs the job until ctx ends. ready is called once the job's enabled
// flag has been read.
func (j *jobRunner) run(ctx context.Context, jobsKV jetstream.KeyValue, ready func()) error {
	j.jobCtx, j.abort = context.WithCancelCause(context.WithoutCancel(ctx))
	defer j.abort(ErrShutdown)
	j.fetchCtx, j.cancelFetch = context.WithCancel(context.WithoutCancel(ctx))
	defer j.cancelFetch()

	// The job's registration, followed live: the latest enabled flag is
	// kept here and run is nudged, so the follower never waits for run.
	var (
		flagMu  sync.Mutex
		flag    jobFlag
		flagged = make(chan struct{}, 1)
	)
	followCtx, stopFollow := context.WithCancel(ctx)
	follow, err := jhjs.Follow(followCtx, jobsKV, j.name, func(batch []jetstream.KeyValueEntry, _ bool) {
		if len(batch) == 0 {
			return
		}
		e := batch[len(batch)-1] // one key: the latest entry is its state
		enabled := j.enabledIn(e)
		flagMu.Lock()
		flag = jobFlag{known: true, enabled: enabled, revision: e.Revision()}
		flagMu.Unlock()
		select {
		case flagged <- struct{}{}:
		default:
		}
	})
	if err != nil {
		stopFollow()
		return fmt.Errorf("job %s: follow the %s bucket: %w", j.name, jhjs.BucketJobs, err)
	}
	defer func() {
		stopFollow()
		<-follow.Done()
	}()
	latestFlag := func() jobFlag {
		flagMu.Lock()
		defer flagMu.Unlock()
		return flag
	}

	beatCtx, stopBeats := context.WithCancel(context.WithoutCancel(ctx))
	beatsDone := make(chan struct{})
	go func() {
		defer close(beatsDone)
		j.beats.run(beatCtx, j.logger)
	}()
	defer func() {
		stopBeats()
		<-beatsDone
	}()

	var (
		consumer = j.consumer // run's alone: pullers get theirs at start
		since    = j.since
		current  *puller
		loaded   = follow.Ready()
		followed = follow.Done()
		restart  *time.Timer
		restartC <-chan time.Time
		backoff  = retry.NewTimer(restartBackoff)
		initial  = true
		next     time.Duration
	)
	defer func() {
		if restart != nil {
			restart.Stop()
		}
	}()
	retryLater := func() {
		restart = time.NewTimer(next)
		restartC = restart.C
	}
	// applyFlag starts or drains the puller for the job's enabled flag.
	applyFlag := func(f jobFlag) error {
		if !f.known {
			return nil
		}
		was := j.gate.isOpen()
		j.gate.set(f.enabled)
		switch {
		case f.enabled && current == nil && restartC == nil:
			var err error
			if current, err = j.startPull(consumer, since); err != nil {
				j.shutdown(nil)
				return err
			}
		case !f.enabled && current != nil:
			current.drain()
			current = nil
		}
		if !initial && f.enabled != was {
			j.logger.Info("job "+map[bool]string{true: "enabled", false: "disabled"}[f.enabled], "revision", f.revision)
		}
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			j.shutdown(current)
			return nil

		case <-followed:
			followed = nil
			if ctx.Err() != nil {
				continue // ctx.Done is ready too
			}
			j.shutdown(current)
			return fmt.Errorf("job %s: %w", j.name, ErrWatchClosed)

		case <-loaded:
			loaded = nil
			if err := applyFlag(latestFlag()); err != nil {
				return err
			}
			initial = false
			if !j.gate.isOpen() {
				j.logger.Warn("job is disabled: its messages wait until it is enabled (receiver jobs enable " + j.name + ")")
			}
			ready()

		case <-flagged:
			if loaded != nil {
				continue // the initial state is applied when loaded
			}
			if err := applyFlag(latestFlag()); err != nil {
				return err
			}

		case p := <-j.ended:
			if p != current {
				continue // drained on purpose
			}
			current = nil
			next = backoff.Next()
			j.logger.Error("stopped receiving messages unexpectedly; restarting", "in", next)
			retryLater()

		case <-restartC:
			restartC = nil
			if !j.gate.isOpen() {
				continue
			}
			// The consumer may have been deleted: recreate it.
			var restored jhjs.ProvisionResult
			cons, err := jhjs.EnsureConsumer(ctx, j.js, jhjs.StreamJobs, j.consumerCfg, jhjs.WithLogger(j.logger), jhjs.WithResult(&restored))
			if err != nil {
				next = backoff.Next()
				j.logger.Error("cannot restore the consumer; retrying", "error", err, "in", next)
				retryLater()
				continue
			}
			if info := cons.CachedInfo(); restored.Action == jhjs.ActionCreated && info.NumPending > 0 {
				// A new consumer starts at the beginning of JOBS.
				j.logger.Warn("consumer recreated: every job message of this job stored in JOBS is delivered again; those whose result is final are settled without running", "messages", info.NumPending)
			}
			consumer = cons
			since = consumerSince(ctx, j.js, cons, restored.Action == jhjs.ActionCreated)
			backoff.Reset()
			if current, err = j.startPull(consumer, since); err != nil {
				j.shutdown(nil)
				return err
			}
		}
	}
}

// jobFlag is the state of a job's registration in the jobs bucket.
type jobFlag struct {
	known    bool // a registration has been read
	enabled  bool
	revision uint64
}

// enabledIn reads the enabled flag from the job's jobs bucket entry. A
// deleted or invalid registration counts as disabled.
func (j *jobRunner) enabledIn(e jetstream.KeyValueEntry) bool {
	if e.Operation() != jetstream.KeyValuePut {
		j.logger.Warn("job registration deleted from the jobs bucket: not running the job until a receiver registers it again (restart one)")
		return false
	}
	job, err := hookconfig.DecodeJobEntry(e.Key(), e.Value())
	if err != nil {
		j.logger.Warn("invalid job registration: not running the job", "error", err)
		return false
	}
	return job.Enabled
}

// fetchWait bounds one fetch, and so how long a drained puller lingers.
const fetchWait = 5 * time.Second

// startPull starts fetching messages from cons.
func (j *jobRunner) startPull(cons jetstream.Consumer, since since) (*puller, error) {
	p := &puller{consumer: cons, since: since, draining: make(chan struct{})}
	j.pullers.Add(1)
	go func() {
		defer j.pullers.Done()
		j.pull(p)
		j.logger.Debug("stopped fetching") // tests wait for it
		select {
		case j.ended <- p:
		case <-j.stop:
		}
	}()
	return p, nil
}

// pull fetches messages until p drains, the runner stops or the consumer
// is gone. It never asks for more than it can hold: a message waiting in a
// client buffer gets no heartbeats, so a slow job would let the server
// redeliver it elsewhere while this copy still ran later (nats.go#1929).
// While messages come, it takes what is there, as many as its free slots,
// in one request that does not wait; when none are there, it waits for
// one. So a job disabled while it idles takes at most the one message of
// the request in flight, which is not cancelled (see puller.drain). A
// message fetched as the job is disabled is held, with heartbeats, until
// the job is enabled again.
func (j *jobRunner) pull(p *puller) {
	pause := retry.NewTimer(fetchBackoff)
	busy := false // the last request brought messages
	for {
		if p.stopped(j.stop) {
			return
		}
		select {
		case j.held <- struct{}{}:
		case <-p.draining:
			return
		case <-j.stop:
			return
		}
		slots := 1
		if busy {
			slots += j.takeFreeSlots()
		}
		if p.stopped(j.stop) { // drained while it waited for a slot
			j.freeSlots(slots)
			return
		}
		got, err := j.fetch(p, slots, busy)
		j.freeSlots(slots - got)
		busy = got > 0
		if busy {
			pause.Reset()
		}
		if err == nil || busy {
			continue
		}
		select {
		case <-p.draining:
			return
		case <-j.stop:
			return
		default:
		}
		switch {
		case errors.Is(err, nats.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
			continue // nothing to do for a while: ask again
		case errors.Is(err, jetstream.ErrConsumerDeleted), errors.Is(err, jetstream.ErrConsumerNotFound):
			return // run restores the consumer
		case errors.Is(err, nats.ErrNoResponders) && j.consumerGone(p):
			// A pull request for a deleted consumer gets no answer at all
			// (the server told only the requests waiting when it went).
			return
		}
		wait := pause.Next()
		j.logger.Warn("fetching messages", "error", err, "retry_in", wait)
		select {
		case <-time.After(wait):
		case <-p.draining:
			return
		case <-j.stop:
			return
		}
	}
}

// takeFreeSlots takes every free slot without waiting, and says how many.
func (j *jobRunner) takeFreeSlots() int {
	for n := 0; ; n++ {
		select {
		case j.held <- struct{}{}:
		default:
			return n
		}
	}
}

func (j *jobRunner) freeSlots(n int) {
	for range n {
		<-j.held
	}
}

// fetch asks p's consumer for up to n messages in one request (noWait:
// only those there now) and dispatches them. It returns how
// many came, and why the request ended early (nats.ErrTimeout when it
// expired with none).
func (j *jobRunner) fetch(p *puller, n int, noWait bool) (int, error) {
	var batch jetstream.MessageBatch
	var err error
	asked := time.Now()
	if noWait {
		batch, err = p.consumer.FetchNoWait(n)
	} else {
		ctx, cancel := context.WithTimeout(j.fetchCtx, fetchWait)
		defer cancel()
		batch, err = p.consumer.Fetch(n, jetstream.FetchContext(ctx))
	}
	if err != nil {
		return 0, err
	}
	// Every message of the batch gets heartbeats before any is dispatched:
	// dispatch may wait for JOBS after a reconnect (see since.current).
	// The batch is what is there now, or one message.
	msgs := make([]jetstream.Msg, 0, n)
	for msg := range batch.Messages() {
		j.beats.add(msg, asked)
		msgs = append(msgs, msg)
	}
	got := len(msgs)
	for _, msg := range msgs {
		j.dispatch(p, msg)
	}
	switch err := batch.Error(); {
	case err != nil:
		return got, err
	case got == 0:
		return 0, nats.ErrTimeout
	}
	return got, nil
}

// consumerGone reports whether p's consumer no longer exists (and not
// merely JetStream being unavailable for a moment).
func (j *jobRunner) consumerGone(p *puller) bool {
	ctx, cancel := context.WithTimeout(j.fetchCtx, fetchWait)
	defer cancel()
	_, err := p.consumer.Info(ctx)
	return errors.Is(err, jetstream.ErrConsumerNotFound)
}

// dispatch queues msg behind earlier messages about the same object. It
// reads only what the order needs (the object, see orderKey): the worker
// decodes the message, so that the one fetching goroutine stays quick.
func (j *jobRunner) dispatch(p *puller, msg jetstream.Msg) {
	d := &delivery{msg: msg}
	d.meta, d.err = msg.Metadata()
	if d.err == nil {
		if n := j.beats.reconnects(); n != p.since.reconnects { // rare: no context per message
			ctx, cancel := context.WithTimeout(j.fetchCtx, fetchWait)
			p.since = p.since.current(ctx, j.js, n)
			cancel()
		}
		d.fresh = p.since.fresh(msg, d.meta)
	}
	d.key = orderKey(msg.Headers(), msg.Data())
	if d.key == "" {
		d.key = fmt.Sprintf("unordered\x00%p", d) // no object to keep in order, or not decodable
	}
	if j.queue.push(d) {
		select {
		case j.idle <- d.key:
		default:
			j.workers.Add(1)
			go j.work(d.key)
		}
	}
}

// decode reads d's job message; d.err says why it is not a valid one.
func (d *delivery) decode() {
	if d.err != nil {
		return
	}
	d.jm, d.err = events.DecodeJobMessage(d.msg.Subject(), d.msg.Headers(), d.msg.Data())
	if d.err == nil {
		// The hook names the result key, so it must be a valid name.
		d.err = events.ValidateHookName(d.jm.Hook)
	}
}

// work runs the messages of one object, in order, then those of the next
// object dispatch hands it, until the runner stops. Workers are not
// retired: there are as many as the most objects that had messages at
// once (about Prefetch at most), kept for the next.
func (j *jobRunner) work(key string) {
	defer j.workers.Done()
	for {
		for {
			d, ok := j.queue.next(key)
			if !ok {
				break
			}
			j.handle(d)
		}
		select {
		case key = <-j.idle:
		case <-j.stop:
			return
		}
	}
}

func (j *jobRunner) handle(d *delivery) {
	defer func() {
		j.beats.remove(d.msg)
		<-j.held
	}()
	d.decode()
	if d.err != nil {
		j.reject(d)
		return
	}
	if !j.waitTurn() {
		j.release(d, "the receiver stopped before the job ran")
		return
	}
	// The running slot is the job's while it runs; settling it (its record,
	// its ack) needs only the held slot, so the next job of this receiver
	// need not wait for those round trips: with a quick job they are most
	// of an attempt's time.
	ran := false
	endRun := func() {
		if !ran {
			ran = true
			<-j.running
		}
	}
	defer endRun()
	j.attempt(d, endRun)
}

// waitTurn waits until the job is enabled and a running slot is free. It
// returns false when the runner stops first.
func (j *jobRunner) waitTurn() bool {
	if !j.gate.wait(j.stop) {
		return false
	}
	select {
	case j.running <- struct{}{}:
	case <-j.stop:
		return false
	}
	select {
	case <-j.stop:
		<-j.running
		return false
	default:
		return true
	}
}

// shutdown stops fetching, waits for running jobs (within the drain
// timeout, then cancels them) and releases every message not yet run.
func (j *jobRunner) shutdown(current *puller) {
	close(j.stop)
	j.cancelFetch() // a message sent to a cancelled fetch is redelivered after its ack wait
	if current != nil {
		current.drain()
	}
	j.logger.Info("stopping: fetching no more messages, letting running jobs finish", "drain_timeout", j.opts.DrainTimeout)
	done := make(chan struct{})
	go func() {
		j.pullers.Wait()
		j.workers.Wait()
		close(done)
	}()
	t := time.NewTimer(j.opts.DrainTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		j.logger.Warn("drain timeout: cancelling running jobs and releasing their messages", "drain_timeout", j.opts.DrainTimeout)
		j.abort(ErrShutdown)
		<-done
	}
}
