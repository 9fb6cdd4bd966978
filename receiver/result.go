package receiver

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jobhooks/jobhooks/events"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
)

// Status is a job result's status.
type Status string

// Statuses of a job result.
const (
	// StatusRunning: an attempt is running.
	StatusRunning Status = "running"
	// StatusCompleted: the receiver returned nil and logged no failure.
	StatusCompleted Status = "completed"
	// StatusFailed: the receiver logged a failure (final, not retried), or
	// its last attempt returned an error.
	StatusFailed Status = "failed"
	// StatusErrored: the last attempt panicked or timed out.
	StatusErrored Status = "errored"
	// StatusRetrying: an attempt returned an error, panicked or timed out,
	// and another will come.
	StatusRetrying Status = "retrying"
)

// Final reports whether no further attempt will change the result.
func (s Status) Final() bool {
	return s == StatusCompleted || s == StatusFailed || s == StatusErrored
}

// Result is a job's result record, the value of key <hook>.<id> in the
// job_results bucket (see ResultKey). One record covers every attempt of a
// job message: Attempts is the latest attempt, and Logs keeps the entries
// of all of them.
type Result struct {
	Hook      string     `json:"hook"`
	Job       string     `json:"job"`
	ChangeID  string     `json:"change_id"`
	Source    string     `json:"source"` // the change's ce-source: its identity is source + id
	Status    Status     `json:"status"`
	Attempts  int        `json:"attempts"`
	Created   time.Time  `json:"created"`   // when the job message was stored
	Started   time.Time  `json:"started"`   // when the latest attempt started
	Completed *time.Time `json:"completed"` // when it ended; null while running
	Logs      []LogEntry `json:"logs"`
	Error     string     `json:"error"` // why the latest attempt failed; "" if it did not
}

// Key returns the result's key in job_results.
func (r *Result) Key() string { return ResultKey(r.Hook, events.ChangeKey(r.Source, r.ChangeID)) }

// ResultKey returns the job_results key of a hook's job for a change:
// <hook>.<change key>, the change key from events.ChangeKey (source + id).
func ResultKey(hook, changeKey string) string {
	return hook + "." + changeKey
}

// Results reads job results from the job_results bucket.
type Results struct {
	kv jetstream.KeyValue
	// maxPayload is the connection's max payload; nil: the server default.
	maxPayload func() int64
}

// NewResults returns a reader of kv, the job_results bucket.
func NewResults(kv jetstream.KeyValue) *Results { return &Results{kv: kv} }

// ResultFilter selects results; zero fields select all.
type ResultFilter struct {
	Hook   string
	Job    string
	Status Status
	// ChangeID selects the results of changes with this id, from any
	// source.
	ChangeID string
}

func (f ResultFilter) match(r *Result) bool {
	return (f.Hook == "" || r.Hook == f.Hook) &&
		(f.Job == "" || r.Job == f.Job) &&
		(f.Status == "" || r.Status == f.Status) &&
		(f.ChangeID == "" || r.ChangeID == f.ChangeID)
}

// Get returns the result stored at key; ErrResultNotFound if there is none.
func (rs *Results) Get(ctx context.Context, key string) (*Result, error) {
	e, err := rs.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
		return nil, fmt.Errorf("%w: %q", ErrResultNotFound, key)
	}
	if err != nil {
		return nil, fmt.Errorf("get job result %q: %w", key, err)
	}
	return decodeResult(e.Key(), e.Value())
}

// List returns the results f selects, oldest first (by created, then key).
// Values that are not valid records are left out and reported together in
// the error, so callers can still show the rest.
func (rs *Results) List(ctx context.Context, f ResultFilter) ([]*Result, error) {
	keys := jetstream.AllKeys
	if f.Hook != "" {
		if err := events.ValidateHookName(f.Hook); err != nil {
			return nil, err
		}
		keys = f.Hook + ".*"
	}
	entries, err := jhjs.LatestEntries(ctx, rs.kv, keys)
	if err != nil {
		return nil, fmt.Errorf("list job results: %w", err)
	}
	var (
		out     []*Result
		invalid []error
	)
	for _, e := range entries {
		r, err := decodeResult(e.Key(), e.Value())
		if err != nil {
			invalid = append(invalid, err)
			continue
		}
		if f.match(r) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b *Result) int {
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.Key(), b.Key()))
	})
	return out, errors.Join(invalid...)
}

func decodeResult(key string, value []byte) (*Result, error) {
	var r Result
	if err := json.Unmarshal(value, &r); err != nil {
		return nil, fmt.Errorf("job result %q: %w", key, err)
	}
	return &r, nil
}

// record is a job message's result record as one attempt reads and writes
// it: every write is a compare-and-set on the revision last read or
// written, so an attempt never overwrites what another writer stored
// meanwhile.
type record struct {
	rs   *Results
	key  string
	rev  uint64     // of the stored record; 0: none
	prev *Result    // the stored record; nil: none (or not a valid record)
	logs []LogEntry // the stored record's logs
}

// empty returns the record at key for a message that has none yet.
func (rs *Results) empty(key string) *record { return &record{rs: rs, key: key} }

// load reads the record at key: an empty one when there is none. Any other
// failure is an error, so that a record that could not be read is never
// replaced by one without its earlier logs.
func (rs *Results) load(ctx context.Context, key string) (*record, error) {
	rc := &record{rs: rs, key: key}
	e, err := rs.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return rc, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read job result %s: %w", key, err)
	}
	rc.rev = e.Revision()
	if r, err := decodeResult(e.Key(), e.Value()); err == nil {
		rc.prev, rc.logs = r, r.Logs
	} // a value that is no record is replaced
	return rc, nil
}

// maxConflicts bounds how often a write is redone on top of another
// writer's.
const maxConflicts = 5

// store writes r: the record's logs, then add (this attempt's entries not
// yet stored), trimmed to fit (see encodeResult). On a conflict it reads
// the record again and writes on top of it. Once stored, what it wrote is
// the record's.
//
// An attempt overtaken by a later attempt of the same message (its
// receiver was paused past the ack wait, and the message was redelivered
// meanwhile; see overtakes) adds its log entries but leaves the record's
// status, attempts and error to the later one, and store reports it
// (overtaken): a stale attempt never turns a final record back, nor counts
// fewer attempts than ran, and must not settle the message.
func (rc *record) store(ctx context.Context, r *Result, add []LogEntry) (overtaken bool, err error) {
	for conflicts := 0; ; conflicts++ {
		w := r
		overtaken = rc.prev != nil && rc.prev.overtakes(r)
		if overtaken {
			later := *rc.prev
			w = &later
		}
		w.Logs = append(slices.Clip(rc.logs), add...)
		data, kept, err := encodeResult(w, rc.rs.recordLimit())
		if err != nil {
			return false, err
		}
		var rev uint64
		if rc.rev == 0 {
			rev, err = rc.rs.kv.Create(ctx, rc.key, data)
		} else {
			rev, err = rc.rs.kv.Update(ctx, rc.key, data, rc.rev)
		}
		if err == nil {
			rc.rev, rc.logs, r.Logs = rev, kept, kept
			return overtaken, nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyExists) || conflicts == maxConflicts {
			return false, fmt.Errorf("store job result %s: %w", rc.key, err)
		}
		fresh, err := rc.rs.load(ctx, rc.key)
		if err != nil {
			return false, err
		}
		rc.rev, rc.prev, rc.logs = fresh.rev, fresh.prev, fresh.logs
	}
}

// overtakes reports whether p, a stored record, is of a later attempt of
// the same message (same JOBS timestamp; a replay is a new message) than
// r: one that counts more attempts, or as many and is final. The spare
// delivery settles a stranded last attempt with the same attempt number
// as that attempt, which may still be running in a paused receiver. A
// record the attempt wrote itself (same start; a write whose reply was
// lost, tried again) is not a later one.
func (p *Result) overtakes(r *Result) bool {
	if !p.Created.Equal(r.Created) {
		return false
	}
	return p.Attempts > r.Attempts || p.Attempts == r.Attempts && p.Status.Final() && !p.Started.Equal(r.Started)
}

// recordLimit is the most a record may take: the connection's max payload
// (it may change with the server on a reconnect), less room for headers.
func (rs *Results) recordLimit() int {
	limit := int64(defaultMaxPayload)
	if rs.maxPayload != nil {
		if n := rs.maxPayload(); n > 0 {
			limit = n
		}
	}
	return int(limit) - payloadHeadroom
}
