package receiver

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/jobhooks/jobhooks/events"
)

// Level is the level of a job log entry: Nautobot's job log levels, plus
// error for what the runner records about failed attempts.
type Level string

// Log levels.
const (
	LevelDebug   Level = "debug"
	LevelInfo    Level = "info"
	LevelSuccess Level = "success"
	LevelWarning Level = "warning"
	LevelFailure Level = "failure"
	LevelError   Level = "error"
)

// LogEntry is one line of a job's log, as stored in its result.
type LogEntry struct {
	Time    time.Time  `json:"time"`
	Level   Level      `json:"level"`
	Message string     `json:"message"`
	Object  *ObjectRef `json:"object"`
	// Data is structured detail a job attached (Job.Log), e.g. the webhook
	// job's delivery attempt; omitted when there is none.
	Data any `json:"data,omitempty"`
}

// Job is the handle a receiver gets for one attempt: it logs into the
// job's result (and slog) and publishes the changes the job makes. It is
// safe for concurrent use.
type Job struct {
	name        string
	attempt     int
	maxAttempts int
	change      *Change
	logger      *slog.Logger
	publisher   *events.Publisher

	mu        sync.Mutex
	logs      []LogEntry // the newest entries, at most maxLogEntries+maxLogEntries/4
	dropped   int        // entries dropped from logs, oldest first
	failed    bool
	published map[string]int // per object and action: changes published so far
}

// Name returns the job's name.
func (j *Job) Name() string { return j.name }

// Attempt returns which attempt this is, 1 for the first: the message's
// delivery count, or more when its result record counts more attempts of
// the same message (a server that lost its consumer's state delivers a
// message again as its first delivery).
func (j *Job) Attempt() int { return j.attempt }

// MaxAttempts returns how many attempts the job gets in all.
func (j *Job) MaxAttempts() int { return j.maxAttempts }

// Logger returns a logger carrying the job, hook, change id and attempt.
// What it logs goes to the process log only, not to the job result.
func (j *Job) Logger() *slog.Logger { return j.logger }

// Debug, Info, Success, Warning and Failure add an entry to the job's log,
// about the object obj names if given (at most one), and log it with slog.
func (j *Job) Debug(msg string, obj ...ObjectRef) { j.log(LevelDebug, msg, obj) }

// Info logs at info level; see Debug.
func (j *Job) Info(msg string, obj ...ObjectRef) { j.log(LevelInfo, msg, obj) }

// Success logs at success level; see Debug.
func (j *Job) Success(msg string, obj ...ObjectRef) { j.log(LevelSuccess, msg, obj) }

// Warning logs at warning level; see Debug.
func (j *Job) Warning(msg string, obj ...ObjectRef) { j.log(LevelWarning, msg, obj) }

// Failure logs at failure level and marks the run failed, like Nautobot's
// log_failure: the result is "failed" whatever the receiver returns, and
// the message is acknowledged, neither retried nor dead-lettered.
func (j *Job) Failure(msg string, obj ...ObjectRef) {
	j.mu.Lock()
	j.failed = true
	j.mu.Unlock()
	j.log(LevelFailure, msg, obj)
}

// Failed reports whether Failure was called.
func (j *Job) Failed() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.failed
}

// Log adds an entry at level with structured data (any JSON-encodable
// value, kept in the result as the entry's "data"). Failure level marks the
// run failed, as Failure does.
func (j *Job) Log(level Level, msg string, data any, obj ...ObjectRef) {
	if level == LevelFailure {
		j.mu.Lock()
		j.failed = true
		j.mu.Unlock()
	}
	j.logData(level, msg, data, obj)
}

func (j *Job) log(level Level, msg string, obj []ObjectRef) { j.logData(level, msg, nil, obj) }

// logData adds an entry, its fields capped (data is encoded now, so a
// value changed later, or one that cannot be encoded, does no harm). The
// log keeps the newest maxLogEntries, counting those it drops: a job
// logging in a loop cannot grow it without bound.
func (j *Job) logData(level Level, msg string, data any, obj []ObjectRef) {
	e := LogEntry{Time: time.Now().UTC(), Level: level, Message: msg, Data: data}
	attrs := []any{"log_level", string(level)}
	if len(obj) > 0 {
		ref := obj[0]
		e.Object = &ref
		attrs = append(attrs, "object", ref.ContentType+" "+ref.ID)
	}
	e = capEntry(e)
	j.mu.Lock()
	j.logs = append(j.logs, e)
	if n := len(j.logs); n >= maxLogEntries+maxLogEntries/4 {
		cut := n - maxLogEntries
		j.dropped += cut
		j.logs = append(j.logs[:0], j.logs[cut:]...)
	}
	j.mu.Unlock()
	j.logger.Log(context.Background(), slogLevel(level), msg, attrs...)
}

// entries returns a copy of the log so far: at most maxLogEntries, after a
// marker counting the older ones dropped.
func (j *Job) entries() []LogEntry {
	j.mu.Lock()
	defer j.mu.Unlock()
	logs, dropped := j.logs, j.dropped
	if n := len(logs); n > maxLogEntries {
		dropped += n - maxLogEntries
		logs = logs[n-maxLogEntries:]
	}
	out := make([]LogEntry, 0, len(logs)+1)
	if dropped > 0 {
		out = append(out, droppedMarker(logs[0], dropped))
	}
	return append(out, logs...)
}

func slogLevel(l Level) slog.Level {
	switch l {
	case LevelDebug:
		return slog.LevelDebug
	case LevelWarning:
		return slog.LevelWarn
	case LevelFailure, LevelError:
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// changeIDSpace is the UUID namespace of the change ids the handle derives.
var changeIDSpace = uuid.MustParse("5b0c6f1e-7a4e-4d6b-9a57-3c2f0e8b1d42")

// Publish stores ch in the CHANGES stream as a change made by this job: it
// carries ce-hookorigin = the job's name, so the router never routes it to
// a hook (loop prevention), and ce-causationid = the id of the change that
// ran the job.
//
// Its id is derived from the triggering change, the hook, the job, the
// object, the action and how many such changes this attempt published
// before, so a retried attempt that publishes the same changes again is
// de-duplicated by JetStream (within the stream's duplicate window, 2m).
func (j *Job) Publish(ctx context.Context, ch *events.Change) error {
	if ch == nil {
		return fmt.Errorf("%w: nil change", events.ErrInvalidChange)
	}
	key := ch.ContentType + "\x00" + ch.ObjectID + "\x00" + string(ch.Action)
	j.mu.Lock()
	if j.published == nil {
		j.published = make(map[string]int)
	}
	n := j.published[key]
	j.published[key]++
	j.mu.Unlock()

	id := uuid.NewSHA1(changeIDSpace, fmt.Appendf(nil, "%s\x00%s\x00%s\x00%s\x00%d",
		j.change.Key, j.change.Hook, j.name, key, n)).String()
	if _, err := j.publisher.Publish(ctx, ch, events.EventOptions{
		ID:          id,
		HookOrigin:  j.name,
		CausationID: j.change.ID,
	}); err != nil {
		return fmt.Errorf("job %s: %w", j.name, err)
	}
	j.logger.Debug("published change", "published_id", id, "content_type", ch.ContentType,
		"object_id", ch.ObjectID, "action", string(ch.Action))
	return nil
}
