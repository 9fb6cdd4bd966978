package receiver_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/receiver"
)

// storedRecord returns the raw result record of hook for changeID.
func (e *env) storedRecord(hook, changeID string) []byte {
	e.t.Helper()
	entry, err := e.KV(e.t, jhjs.BucketJobResults).Get(e.t.Context(), receiver.ResultKey(hook, events.ChangeKey("test://nautobot", changeID)))
	require.NoError(e.t, err)
	return entry.Value()
}

// TestLargeObjectReprStillGivesAFinalRecord: a change whose object_repr is
// 900 KB, logged twice as the job's object, used to make a 1.8 MB record
// that the server refused: the record said running forever, and the
// message was acknowledged all the same. Every field of a log entry is
// capped, so the record fits and is final.
func TestLargeObjectReprStillGivesAFinalRecord(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reg := receiver.NewRegistry()
	reg.HandleFunc("big", receiver.JobInfo{},
		func(ctx context.Context, job *receiver.Job, ch *receiver.Change, action events.Action, obj map[string]any) error {
			job.Info("looking at "+ch.ObjectRepr, ch.Object())
			job.Log(receiver.LevelSuccess, "fine", map[string]any{"echo": ch.ObjectRepr}, ch.Object())
			return nil
		})
	e.start(reg, testOptions(t))
	ch := change(events.ActionCreate, "1", nil, device("1", "A"))
	ch.ObjectRepr = strings.Repeat("r", 900<<10)
	e.publishJob("h", "big", "c-1", ch, nil)

	res := e.waitResult("h", "c-1")
	assert.Equal(t, receiver.StatusCompleted, res.Status)
	assert.Equal(t, []string{
		"info: Running job big (attempt 1 of 3)",
		"info: looking at " + strings.Repeat("r", 8<<10-len("looking at ")) + "…",
		"success: fine",
		"success: Job completed",
	}, messages(res))
	for _, l := range res.Logs[1:3] {
		require.NotNil(t, l.Object)
		assert.Equal(t, "dcim.device", l.Object.ContentType)
		assert.Equal(t, "1", l.Object.ID)
		assert.Equal(t, strings.Repeat("r", 1<<10)+"…", l.Object.Repr, "the object repr is capped")
	}
	assert.Equal(t, map[string]any{"truncated": true, "bytes": float64(900<<10 + len(`{"echo":""}`))}, res.Logs[2].Data,
		"data too large is left out, saying how large it was")
	assert.Less(t, len(e.storedRecord("h", "c-1")), 64<<10)
	info := e.waitSettled("big")
	assert.Equal(t, uint64(1), info.Delivered.Consumer)
}

// TestRecordIsTrimmedToTheServersMaxPayload: a job logging more than a
// record can hold keeps the newest entries, within the connection's max
// payload, after a marker saying how many were cut.
func TestRecordIsTrimmedToTheServersMaxPayload(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const logged = 400 // at 8 KiB each, 3.2 MB: beyond the 1 MB max payload
	reg := receiver.NewRegistry()
	reg.HandleFunc("chatty", receiver.JobInfo{},
		func(ctx context.Context, job *receiver.Job, ch *receiver.Change, action events.Action, obj map[string]any) error {
			for i := range logged {
				job.Info(fmt.Sprintf("%04d %s", i, strings.Repeat("x", 8<<10)))
			}
			return nil
		})
	e.start(reg, testOptions(t))
	e.publishJob("h", "chatty", "c-1", change(events.ActionCreate, "1", nil, device("1", "A")), nil)

	res := e.waitResult("h", "c-1")
	assert.Equal(t, receiver.StatusCompleted, res.Status)
	raw := e.storedRecord("h", "c-1")
	assert.LessOrEqual(t, int64(len(raw)), e.Conn.MaxPayload(), "the record fits in one message")
	assert.Greater(t, len(raw), int(e.Conn.MaxPayload())*3/4, "and is not trimmed much further")

	msgs := messages(res)
	require.Greater(t, len(msgs), 3)
	kept := len(msgs) - 2 // the marker and "Job completed"
	assert.Equal(t, fmt.Sprintf("warning: %d earlier log entries dropped", logged+1-kept),
		strings.SplitN(msgs[0], " (", 2)[0], "the marker counts what was cut (the start entry too)")
	assert.True(t, strings.HasPrefix(msgs[1], fmt.Sprintf("info: %04d ", logged-kept)), "the newest are kept: %.20s", msgs[1])
	assert.True(t, strings.HasPrefix(msgs[len(msgs)-2], fmt.Sprintf("info: %04d ", logged-1)))
	assert.Equal(t, "success: Job completed", msgs[len(msgs)-1])
}

// faultyJS is a JetStream whose job_results bucket fails the writes that
// fail says fail (with the error it returns) and the reads getFail says
// fail; before, when set, runs before each write.
type faultyJS struct {
	jetstream.JetStream
	fail    func(value []byte) error
	getFail func(key string) error
	before  func(kv jetstream.KeyValue, key string, value []byte)
}

func (f *faultyJS) KeyValue(ctx context.Context, bucket string) (jetstream.KeyValue, error) {
	kv, err := f.JetStream.KeyValue(ctx, bucket)
	if err != nil || bucket != jhjs.BucketJobResults {
		return kv, err
	}
	return &faultyKV{KeyValue: kv, f: f}, nil
}

type faultyKV struct {
	jetstream.KeyValue
	f *faultyJS
}

func (f *faultyKV) write(key string, value []byte) error {
	if f.f.before != nil {
		f.f.before(f.KeyValue, key, value)
	}
	if f.f.fail != nil {
		return f.f.fail(value)
	}
	return nil
}

func (f *faultyKV) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	if f.f.getFail != nil {
		if err := f.f.getFail(key); err != nil {
			return nil, err
		}
	}
	return f.KeyValue.Get(ctx, key)
}

func (f *faultyKV) Put(ctx context.Context, key string, value []byte) (uint64, error) {
	if err := f.write(key, value); err != nil {
		return 0, err
	}
	return f.KeyValue.Put(ctx, key, value)
}

func (f *faultyKV) Create(ctx context.Context, key string, value []byte, opts ...jetstream.KVCreateOpt) (uint64, error) {
	if err := f.write(key, value); err != nil {
		return 0, err
	}
	return f.KeyValue.Create(ctx, key, value, opts...)
}

func (f *faultyKV) Update(ctx context.Context, key string, value []byte, revision uint64) (uint64, error) {
	if err := f.write(key, value); err != nil {
		return 0, err
	}
	return f.KeyValue.Update(ctx, key, value, revision)
}

// finalWrites fails the writes of final records: the first n of them with
// the errors errs gives, in turn, and counts every final write.
type finalWrites struct {
	mu     sync.Mutex
	errs   []error
	writes atomic.Int32
}

func (w *finalWrites) fail(value []byte) error {
	var r receiver.Result
	if json.Unmarshal(value, &r) != nil || !r.Status.Final() {
		return nil
	}
	w.writes.Add(1)
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.errs) == 0 {
		return nil
	}
	err := w.errs[0]
	w.errs = w.errs[1:]
	return err
}

// TestMessageIsNotAcknowledgedBeforeItsFinalRecordIsStored: when the final
// record cannot be stored the message is not acknowledged (the record
// would say running forever, and nothing would retry it) but released for
// another attempt, after the back-off. A record too large for the server is
// not tried again as it is.
func TestMessageIsNotAcknowledgedBeforeItsFinalRecordIsStored(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	faults := &finalWrites{errs: []error{
		nats.ErrMaxPayload,                                                 // attempt 1: not retried
		nats.ErrTimeout, nats.ErrTimeout, nats.ErrTimeout, nats.ErrTimeout, // attempt 2: every try
	}}
	attempts := make(chan int, 10)
	reg := receiver.NewRegistry()
	reg.HandleFunc("audit", receiver.JobInfo{},
		func(ctx context.Context, job *receiver.Job, ch *receiver.Change, action events.Action, obj map[string]any) error {
			attempts <- job.Attempt()
			job.Info(fmt.Sprintf("attempt %d ran", job.Attempt()))
			return nil
		})
	acks := e.watchAcks("audit")
	opts := testOptions(t)
	opts.Consumer.MaxDeliver = 5
	e.startOn(&faultyJS{JetStream: e.JS, fail: faults.fail}, reg, opts)
	e.publishJob("h", "audit", "c-1", change(events.ActionCreate, "1", nil, device("1", "A")), nil)

	// Attempt 1: its final record is refused as too large, once: no retry.
	assert.Equal(t, 1, recv(t, attempts))
	first := nextSettle(t, acks)
	assert.Equal(t, `-NAK {"delay": 10000000}`, string(first.Data), "released for another attempt, after the back-off")
	assert.Equal(t, int32(1), faults.writes.Load(), "a record too large is not tried again as it is")

	// Attempt 2: every try fails (a transient error, retried).
	assert.Equal(t, 2, recv(t, attempts))
	assert.Equal(t, "-NAK", string(nextSettle(t, acks).Data[:4]))
	assert.Equal(t, int32(5), faults.writes.Load(), "a transient error is retried")

	// Attempt 3 stores its record, and only then is the message acknowledged.
	assert.Equal(t, 3, recv(t, attempts))
	assert.Equal(t, "+ACK", string(nextSettle(t, acks).Data))
	res := e.waitResult("h", "c-1")
	assert.Equal(t, receiver.StatusCompleted, res.Status)
	assert.Equal(t, 3, res.Attempts)
	// The quick attempts before it wrote nothing else (their one write, the
	// final record, failed): the record holds attempt 3, and says so.
	assert.Equal(t, []string{
		"info: Running job audit (attempt 3 of 5)",
		"info: attempt 3 ran",
		"success: Job completed",
	}, messages(res))
	info := e.waitSettled("audit")
	assert.Equal(t, uint64(3), info.Delivered.Consumer)
}

// nextSettle returns the next acknowledgement that settles a message (not
// an in-progress one).
func nextSettle(t *testing.T, acks <-chan *nats.Msg) *nats.Msg {
	t.Helper()
	timeout := time.After(waitFor)
	for {
		select {
		case m := <-acks:
			if string(m.Data) != "+WPI" {
				return m
			}
		case <-timeout:
			t.Fatal("no acknowledgement")
			return nil
		}
	}
}

// recv receives from ch, failing the test after waitFor.
func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitFor):
		t.Fatal("nothing received")
		var zero T
		return zero
	}
}

// A message given up and dead-lettered is terminated even when its final
// record cannot be stored: run again, it would be dead-lettered twice.
func TestDeadLetteredMessageIsTerminatedWithoutItsRecord(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	faults := &finalWrites{errs: []error{nats.ErrMaxPayload}}
	var runs atomic.Int32
	reg := receiver.NewRegistry()
	reg.HandleFunc("rejected", receiver.JobInfo{},
		func(context.Context, *receiver.Job, *receiver.Change, events.Action, map[string]any) error {
			runs.Add(1)
			return receiver.Permanent(errors.New("HTTP 400"))
		})
	acks := e.watchAcks("rejected")
	e.startOn(&faultyJS{JetStream: e.JS, fail: faults.fail}, reg, testOptions(t))
	e.publishJob("h", "rejected", "c-1", change(events.ActionCreate, "1", nil, device("1", "A")), nil)

	assert.Equal(t, "+TERM", string(nextSettle(t, acks).Data[:5]))
	e.waitSettled("rejected")
	assert.Len(t, e.deadLetters("rejected"), 1)
	assert.Equal(t, int32(1), runs.Load(), "not run again")
}
