package receiver

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/hookconfig"
	"github.com/jobhooks/jobhooks/internal/retry"
)

const (
	// abandonAfter is how long a receiver may take to return once its
	// context has ended (timeout or shutdown). Go cannot stop a goroutine:
	// one that ignores its context is abandoned, its attempt counted as
	// errored, and its goroutine left to finish on its own.
	abandonAfter = 10 * time.Second
	// settleTimeout bounds each write that settles an attempt (result
	// record, dead letter); settling never depends on the job's context.
	settleTimeout = 10 * time.Second
	// settleTries is how often a settling write (dead letter, result
	// record) is tried before giving up: a message on its last delivery is
	// never redelivered, so a failed dead letter leaves it in JOBS.
	settleTries = 4
)

// settleBackoff paces the tries of a settling write.
var settleBackoff = retry.Backoff{Min: 100 * time.Millisecond, Max: time.Second, Jitter: 0.2}

// outcome is how an attempt ended.
type outcome struct {
	err       error
	panicked  bool
	stack     []byte
	timedOut  bool
	abandoned bool
	aborted   bool // cancelled by a shutdown
}

// errored reports an outcome whose final status is errored, not failed.
func (o outcome) errored() bool { return o.panicked || o.timedOut || o.abandoned || o.aborted }

// attempt runs one delivery of a job message and settles it: result record,
// then ack, nak with back-off, or dead letter and term. It calls endRun
// once the job has run, before settling it.
func (j *jobRunner) attempt(d *delivery, endRun func()) {
	jm := d.jm
	maxAttempts := j.opts.Consumer.MaxDeliver
	ctx, cancel := j.settleContext()
	defer cancel()

	// The hook names the params the job gets, which may hold secrets: a
	// message naming another job's hook is refused before anything runs
	// or is recorded (its result key is that job's).
	hook, hookErr := j.hook(ctx, jm.Hook)
	if hook != nil && hook.Job != j.name {
		endRun()
		j.refuse(d, fmt.Sprintf("refused: hook %q belongs to job %q, not %q", jm.Hook, hook.Job, j.name))
		return
	}

	// The record of the earlier attempts. One that cannot be read is not
	// overwritten (their logs would be lost): the message comes back. A
	// fresh message has none: not reading saves a round trip per job, and
	// should one exist after all, the first write finds it (a
	// compare-and-set) and writes on top of it. A fresh message held past
	// the ack wait without heartbeats (the process was stopped) may have
	// run elsewhere meanwhile: its record is read.
	key := ResultKey(jm.Hook, jm.Key())
	rec := j.results.empty(key)
	if !d.fresh || j.beats.lapsed(d.msg) {
		if err := settleWithRetries(ctx, func() (err error) {
			rec, err = j.results.load(ctx, key)
			return err
		}); err != nil {
			endRun()
			j.retryLater(d, "cannot read the job's result record", err)
			return
		}
	}

	// Which attempt this is: the delivery count, unless the record counts
	// more attempts of this same message (same JOBS timestamp; a replay is
	// a new message): a server that lost the consumer's state delivers it
	// again as its first delivery.
	created := d.meta.Timestamp.UTC()
	n := d.attempts()
	if prev := rec.prev; prev != nil && prev.Created.Equal(created) {
		if prev.Status.Final() {
			endRun()
			j.settleAgain(d, prev)
			return
		}
		n = max(n, prev.Attempts+1)
	}
	d.attempt = n
	// The spare delivery (see jhjs.ReceiverConsumerConfig): the last attempt
	// never settled, because the receiver running it died. It is not run
	// again; it settles as that attempt, errored, and is dead-lettered.
	stranded := n > maxAttempts
	n = min(n, maxAttempts)
	final := n >= maxAttempts

	change := &Change{Change: jm.Change, ID: jm.ID(), Key: jm.Key(), Hook: jm.Hook, Context: jm.Context, Event: jm.Event}
	logger := j.logger.With(changeAttrs(jm, "attempt", n)...)
	job := &Job{name: j.name, attempt: n, maxAttempts: maxAttempts, change: change, logger: logger, publisher: j.publisher}

	res := &Result{
		Hook: jm.Hook, Job: j.name, ChangeID: change.ID, Source: jm.Event.Source(), Status: StatusRunning, Attempts: n,
		Created: created, Started: time.Now().UTC(),
	}
	var add []LogEntry // this attempt's entries not yet stored
	var o outcome
	var ran time.Duration // how long the job ran, for the metrics
	if stranded {
		o = outcome{abandoned: true, err: fmt.Errorf("attempt %d of %d never finished (its receiver stopped without settling it, or could not store its result)", n, maxAttempts)}
	} else {
		add = append(add, LogEntry{Time: res.Started, Level: LevelInfo,
			Message: fmt.Sprintf("Running job %s (attempt %d of %d)", j.name, n, maxAttempts)})
		change.Params = j.params(hook, hookErr, job)
		if err := j.checkParams(change.Params); err != nil {
			o = outcome{err: err}
		} else {
			// A run that outlives RunningAfter is recorded as running,
			// while it runs: a quick one gets its final record only, one
			// write per run.
			o = j.invoke(job, change, func() {
				if !j.records(n, rec) {
					return
				}
				ctx, cancel := j.settleContext()
				defer cancel()
				// Overtaken or not, the final write below says.
				if _, err := j.storeResult(ctx, rec, res, add); err != nil {
					logger.Error("cannot record the job's start", "error", err)
				} else {
					add = nil
				}
			})
			ran = time.Since(res.Started)
		}
	}

	endRun()
	add = append(add, job.entries()...)
	note := func(level Level, msg string) {
		add = append(add, LogEntry{Time: time.Now().UTC(), Level: level, Message: msg})
	}
	if o.panicked {
		note(LevelError, fmt.Sprintf("%v\n%s", o.err, o.stack))
		logger.Error("job panicked", "error", o.err, "stack", string(o.stack))
	}
	if o.err != nil {
		res.Error = o.err.Error()
	}
	var settle func() error
	deadLetters := false // settle dead-letters the message
	switch {
	case job.Failed():
		res.Status = StatusFailed
		note(LevelInfo, "Job failed: it logged a failure; not retried")
		settle = d.msg.Ack
	case o.err == nil:
		res.Status = StatusCompleted
		note(LevelSuccess, "Job completed")
		settle = d.msg.Ack
	case errors.Is(o.err, ErrPermanent):
		final = true
		fallthrough
	case final:
		res.Status = StatusFailed
		if o.errored() {
			res.Status = StatusErrored
		}
		// The dead letter comes after the record: an attempt the record
		// shows overtaken must not dead-letter the message again. Should
		// the process die in between, the redelivery finds the final
		// record and dead-letters the message then (settleAgain).
		subject, _ := events.DeadLetterJobSubject(j.name)
		note(LevelError, fmt.Sprintf("Attempt %d of %d failed: %v; giving up: dead-lettered to %s", n, maxAttempts, o.err, subject))
		deadLetters = true
		settle = func() error {
			if err := j.deadLetter(d, o.err.Error()); err != nil {
				logger.Error("cannot dead-letter a job message", "error", err, "stream_seq", d.meta.Sequence.Stream)
				// The record said dead-lettered: it is corrected.
				if _, err := j.storeResult(ctx, rec, res, []LogEntry{{Time: time.Now().UTC(), Level: LevelError,
					Message: fmt.Sprintf("Not dead-lettered after all: the dead letter could not be stored (%v); the message stays in the JOBS stream, sequence %d", err, d.meta.Sequence.Stream)}}); err != nil {
					logger.Error("cannot record the failed dead letter", "error", err)
				}
				return nil
			}
			return d.msg.Term()
		}
	case o.aborted:
		res.Status = StatusRetrying
		note(LevelError, fmt.Sprintf("Attempt %d of %d interrupted: the receiver shut down; released to another receiver", n, maxAttempts))
		settle = d.msg.Nak
	default:
		res.Status = StatusRetrying
		delay := j.retryDelay(n, o.err)
		note(LevelError, fmt.Sprintf("Attempt %d of %d failed: %v; retrying in %s", n, maxAttempts, o.err, delay))
		settle = func() error { return d.msg.NakWithDelay(delay) }
	}
	now := time.Now().UTC()
	res.Completed = &now
	ctx, cancel = j.settleContext() // the first may have expired while the job ran
	defer cancel()
	if res.Status == StatusCompleted && !j.records(n, rec) && j.beats.lapsed(d.msg) {
		// Held past the ack wait without heartbeats, the message may have
		// run elsewhere meanwhile: a record written since is read, so that
		// this attempt is recorded on top of it (and found overtaken).
		if fresh, err := j.results.load(ctx, key); err == nil {
			rec = fresh
		}
	}
	var err error
	overtaken := false
	settled := res.Status.Final()                           // for good: not to be attempted again
	if j.records(n, rec) || res.Status != StatusCompleted { // results "failures": a first attempt that completed leaves none
		overtaken, err = j.storeResult(ctx, rec, res, add)
	}
	if overtaken {
		// The message was redelivered while this attempt ran (its receiver
		// was paused past the ack wait), and a later attempt holds it or
		// settled it. This one is left unsettled: the server applies an
		// ack or a nak by stream sequence, whichever delivery sent it, so
		// it would settle the later attempt's message.
		logger.Warn("job attempt overtaken by a later attempt of the same message (this receiver was paused past the ack wait); its logs are added to the record, its outcome is dropped",
			"status", res.Status, "record_status", rec.prev.Status, "record_attempts", rec.prev.Attempts, "stream_seq", d.meta.Sequence.Stream)
		j.metrics.attempted(res.Status, ran, false)
		return
	}
	if err != nil {
		// Settled now, the message would leave a record saying running
		// forever, and nothing would retry it: it is released for
		// another attempt instead, unless the server will not redeliver it.
		switch {
		case deadLetters:
			// Given up: the dead letter will hold the message; running it
			// again would fail again. Only the record is missing.
			logger.Error("cannot record the job's result; the message is dead-lettered and terminated without it", "error", err,
				"status", res.Status, "stream_seq", d.meta.Sequence.Stream)
		case d.attempts() < j.consumerCfg.MaxDeliver:
			delay := j.retryDelay(n, nil)
			logger.Error("cannot record the job's result; releasing the message for another attempt", "error", err,
				"status", res.Status, "retry_in", delay)
			settle = func() error { return d.msg.NakWithDelay(delay) }
			settled = false
		default:
			logger.Error("cannot record the job's result, on the message's last delivery: settling it without", "error", err,
				"status", res.Status, "stream_seq", d.meta.Sequence.Stream)
		}
	}
	if err := settle(); err != nil {
		logger.Warn("cannot settle the job message; the server will redeliver it", "error", err)
	}
	args := []any{"status", res.Status, "duration", now.Sub(res.Started)}
	switch res.Status {
	case StatusCompleted:
		logger.Debug("job completed", args...) // its record says so: no line per job at info
	case StatusRetrying:
		logger.Warn("job attempt failed; will retry", append(args, "error", res.Error)...)
	default:
		logger.Error("job "+string(res.Status), append(args, "error", res.Error)...)
	}
	j.metrics.attempted(res.Status, ran, settled) // after the log line: tests wait for the count, then read it
}

// hook returns the hook a job message names, from the live copy of the
// job_hooks bucket; a hook the copy does not have (yet: it may have been
// put a moment ago) is read from the bucket. Nil with the reason when it
// cannot: hookconfig.ErrNotFound for a hook that is gone.
func (j *jobRunner) hook(ctx context.Context, name string) (*hookconfig.Hook, error) {
	if h, ok := j.hooks.Index().Get(name); ok {
		return h, nil
	}
	h, _, err := j.hookStore.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	return h, nil
}

// params returns the params of hook (see jobRunner.hook). A hook that is
// gone (deleted after routing) gives nil params; the job still runs, as it
// would in Nautobot, and the SPEC asks nothing else. A hook that cannot be
// read gives nil params too, with a warning in the job's log.
func (j *jobRunner) params(hook *hookconfig.Hook, err error, job *Job) []byte {
	switch {
	case hook != nil:
		return hook.Params
	case errors.Is(err, hookconfig.ErrNotFound):
		job.logger.Debug("hook no longer exists; running without params")
	default:
		job.Warning(fmt.Sprintf("cannot read hook %q from the job_hooks bucket (%v); running without its params", job.change.Hook, err))
	}
	return nil
}

// checkParams runs the job's own params check (JobInfo.CheckParams): bad
// params fail the run at once, as no retry can mend them.
func (j *jobRunner) checkParams(params []byte) error {
	if j.info.CheckParams == nil {
		return nil
	}
	if err := j.info.CheckParams(params); err != nil {
		return Permanent(fmt.Errorf("invalid params: %w", err))
	}
	return nil
}

// retryDelay is how long to wait after failed attempt n: the receiver's
// RetryAfter wish when it gave one, capped at the longest back-off delay,
// else the consumer's back-off.
func (j *jobRunner) retryDelay(n int, err error) time.Duration {
	if d := retryAfter(err); d > 0 {
		return min(d, slices.Max(j.opts.Consumer.BackOff))
	}
	return j.opts.Consumer.RetryDelay(uint64(n))
}

// records reports whether attempt n, with the record rec read before it,
// is recorded before it ends: always with results "all"; with
// "failures", only a later attempt or one with a record already (say, of
// a replayed message's earlier run). Whatever it says, an attempt that does
// not complete is recorded when it ends.
func (j *jobRunner) records(n int, rec *record) bool {
	return j.opts.Results == ResultsAll || n > 1 || rec.rev != 0
}

// invoke calls the receiver with the per-job timeout, recovering a panic.
// If the receiver has not returned after RunningAfter, invoke calls
// longRun, once, while the receiver goes on.
func (j *jobRunner) invoke(job *Job, ch *Change, longRun func()) outcome {
	ctx, cancel := context.WithTimeoutCause(j.jobCtx, j.opts.Timeout, ErrTimeout)
	defer cancel()
	var object map[string]any
	if ch.Action != events.ActionDelete {
		object = ch.PostChange
	}
	done := make(chan outcome, 1) // an abandoned receiver must not block
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- outcome{err: fmt.Errorf("%w: %v", ErrPanic, v), panicked: true, stack: debug.Stack()}
			}
		}()
		done <- outcome{err: j.receiver.ReceiveJobHook(ctx, job, ch, ch.Action, object)}
	}()
	long := time.NewTimer(j.opts.RunningAfter)
	defer long.Stop()
	var o outcome
	select {
	case o = <-done:
	case <-long.C:
		longRun()
		select {
		case o = <-done:
		case <-ctx.Done():
			o = j.await(done)
		}
	case <-ctx.Done():
		o = j.await(done)
	}
	if o.err != nil && !o.panicked && ctx.Err() != nil {
		switch cause := context.Cause(ctx); {
		case errors.Is(cause, ErrTimeout):
			o.timedOut = true
			o.err = fmt.Errorf("%w after %s: %w", ErrTimeout, j.opts.Timeout, o.err)
		case errors.Is(cause, ErrShutdown):
			o.aborted = true
		}
	}
	return o
}

// await waits for the outcome of a receiver whose context has ended, for
// abandonAfter at most.
func (j *jobRunner) await(done <-chan outcome) outcome {
	t := time.NewTimer(abandonAfter)
	defer t.Stop()
	select {
	case o := <-done:
		return o
	case <-t.C:
		return outcome{abandoned: true, err: fmt.Errorf("the receiver did not return within %s after its context ended; abandoned it", abandonAfter)}
	}
}

// settleContext bounds one settling step. It does not end with the job's
// context: an attempt cut short by a shutdown is still recorded.
func (j *jobRunner) settleContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(j.jobCtx), settleTimeout)
}

// reject dead-letters a message that is not a valid job message: running
// it again cannot help.
func (j *jobRunner) reject(d *delivery) {
	// What the message says of its change, unchecked: enough to find it.
	h := d.msg.Headers()
	j.logger.Error("dead-lettering an invalid job message", "error", d.err, "change_id", events.HeaderValue(h, events.HeaderPrefix+"id"),
		"hook", events.HeaderValue(h, events.HeaderHook), "job_subject", d.msg.Subject(), "stream_seq", d.seqOrZero())
	j.deadLetterNow(d, "invalid job message: "+d.err.Error())
}

// refuse dead-letters a valid job message the job must not run (why says
// why), without running it or writing a result: no retry can change it.
func (j *jobRunner) refuse(d *delivery, why string) {
	j.logger.Error("dead-lettering a job message the job must not run", changeAttrs(d.jm, "error", why, "stream_seq", d.meta.Sequence.Stream)...)
	j.deadLetterNow(d, why)
}

// deadLetterNow dead-letters d at once and terminates it; if the dead
// letter cannot be stored, d comes back after the back-off to try again.
func (j *jobRunner) deadLetterNow(d *delivery, reason string) {
	if err := j.deadLetter(d, reason); err != nil {
		j.logger.Error("cannot dead-letter a job message; retrying later", changeAttrs(d.jm, "error", err, "stream_seq", d.seqOrZero())...)
		_ = d.msg.NakWithDelay(j.opts.Consumer.RetryDelay(uint64(d.attempts())))
		return
	}
	if err := d.msg.Term(); err != nil {
		j.logger.Warn("cannot terminate a dead-lettered message", changeAttrs(d.jm, "error", err, "stream_seq", d.seqOrZero())...)
	}
}

// release gives a message that did not run back to the server, for another
// receiver. The server counts the release as a delivery, so a message
// released at every restart of a rolling deploy uses up attempts without
// running; on its last one it would not be redelivered, so it is
// dead-lettered instead, to be replayed.
func (j *jobRunner) release(d *delivery, why string) {
	if d.attempts() < j.opts.Consumer.MaxDeliver {
		if err := d.msg.Nak(); err != nil {
			j.logger.Warn("cannot release a job message; the server will redeliver it", changeAttrs(d.jm, "error", err, "stream_seq", d.seqOrZero())...)
		}
		return
	}
	if err := j.deadLetter(d, why+" on its last delivery; replay it to run it"); err != nil {
		j.logger.Error("cannot dead-letter a job message on its last delivery", changeAttrs(d.jm, "error", err, "stream_seq", d.seqOrZero())...)
		return
	}
	_ = d.msg.Term()
}

// deadLetter stores d on deadletter.jobs.<job>, trying a few times.
func (j *jobRunner) deadLetter(d *delivery, reason string) error {
	var seq uint64
	if d.meta != nil {
		seq = d.meta.Sequence.Stream
	}
	// The attempt it ran as, when known (it may exceed the delivery count,
	// see attempt); the spare delivery is not an attempt.
	attempts := min(max(d.attempts(), d.attempt), j.opts.Consumer.MaxDeliver)
	m, err := deadLetterMsg(j.name, d.msg, seq, reason, attempts)
	if err != nil {
		return err
	}
	ctx, cancel := j.settleContext()
	defer cancel()
	err = settleWithRetries(ctx, func() error {
		_, err := j.js.PublishMsg(ctx, m)
		return err
	})
	if err == nil {
		j.metrics.deadLettered()
	}
	return err
}

// storeResult writes a result record (see record.store), trying a few
// times: it is where the job's logs are, so it is worth a short wait
// before the message is released for want of it.
func (j *jobRunner) storeResult(ctx context.Context, rec *record, res *Result, add []LogEntry) (overtaken bool, err error) {
	err = settleWithRetries(ctx, func() (err error) {
		overtaken, err = rec.store(ctx, res, add)
		return err
	})
	return overtaken, err
}

// retryLater gives back a message that could not run for a passing reason
// (why, err), to come back after the back-off. On its last delivery the
// server would not redeliver it: it is dead-lettered instead, to be
// replayed.
func (j *jobRunner) retryLater(d *delivery, why string, err error) {
	if d.attempts() < j.consumerCfg.MaxDeliver {
		delay := j.opts.Consumer.RetryDelay(uint64(d.attempts()))
		j.logger.Error(why+"; releasing the message to try again", changeAttrs(d.jm, "error", err,
			"stream_seq", d.meta.Sequence.Stream, "retry_in", delay)...)
		if err := d.msg.NakWithDelay(delay); err != nil {
			j.logger.Warn("cannot release a job message; the server will redeliver it", changeAttrs(d.jm, "error", err)...)
		}
		return
	}
	j.logger.Error(why+" on the message's last delivery; dead-lettering it", changeAttrs(d.jm, "error", err,
		"stream_seq", d.meta.Sequence.Stream)...)
	j.deadLetterNow(d, fmt.Sprintf("%s (%v) on its last delivery; replay it to run it", why, err))
}

// settleAgain settles a message whose record is final already: it ran
// and was settled, but the server lost the settlement (a restart) and
// delivered it again. It does not run again.
func (j *jobRunner) settleAgain(d *delivery, prev *Result) {
	j.logger.Info("job message delivered again after it was settled: its result is final; settling it again without running it",
		changeAttrs(d.jm, "status", prev.Status, "attempts", prev.Attempts, "stream_seq", d.meta.Sequence.Stream)...)
	if prev.Status != StatusCompleted && prev.Error != "" {
		// Given up after an error: dead-lettered then, or the dead letter
		// could not be stored and the message stayed for this redelivery.
		// Stored again, it is the same dead letter within the duplicate
		// window; a message is never terminated without one.
		j.deadLetterNow(d, prev.Error)
		return
	}
	settle := d.msg.Term // failed for good: the job logged a failure
	if prev.Status == StatusCompleted {
		settle = d.msg.Ack
	}
	if err := settle(); err != nil {
		j.logger.Warn("cannot settle the job message; the server will redeliver it", changeAttrs(d.jm, "error", err)...)
	}
}

// changeAttrs are the log attributes of the change jm carries (change_id,
// subject: the change's, hook), then more; the runner's logger adds job.
// A message that is not a valid job message (jm nil) has none.
func changeAttrs(jm *events.JobMessage, more ...any) []any {
	if jm == nil {
		return more
	}
	subject, _ := events.ChangeSubject(jm.Change.ContentType, jm.Change.Action)
	return append([]any{"change_id", jm.ID(), "subject", subject, "hook", jm.Hook}, more...)
}

// seqOrZero is d's JOBS sequence; 0 when its metadata is unreadable.
func (d *delivery) seqOrZero() uint64 {
	if d.meta == nil {
		return 0
	}
	return d.meta.Sequence.Stream
}

// settleWithRetries runs a settling write up to settleTries times, with a
// growing pause, until it succeeds or ctx ends. A message too large for
// the server (nats.ErrMaxPayload) is not a passing fault: it is not tried
// again.
func settleWithRetries(ctx context.Context, write func() error) error {
	try := 0
	err := retry.Do(ctx, settleBackoff, func(context.Context) error {
		try++
		err := write()
		if err != nil && (try == settleTries || errors.Is(err, nats.ErrMaxPayload)) {
			return retry.Permanent(err)
		}
		return err
	}, nil)
	if retry.IsPermanent(err) {
		return errors.Unwrap(err)
	}
	return err
}
