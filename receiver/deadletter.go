package receiver

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jobhooks/jobhooks/events"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
)

// deadLetterJobsPrefix starts the subject of every job dead letter.
const deadLetterJobsPrefix = events.DeadLetterPrefix + ".jobs."

// DeadLetter is a job message that exhausted its attempts (or could not be
// decoded), as stored on deadletter.jobs.<job>: the original headers and
// body, plus why and after how many attempts.
type DeadLetter struct {
	Sequence uint64      // sequence in the DEADLETTER stream
	Subject  string      // deadletter.jobs.<job>
	Job      string      // the job
	Hook     string      // Jobhooks-Hook of the job message
	ChangeID string      // ce-id of the job message
	Error    string      // Jobhooks-Error
	Attempts int         // Jobhooks-Attempts
	Time     time.Time   // when it was dead-lettered
	Header   nats.Header // every header
	Data     []byte      // the job message's body
}

// DeadLetters reads and replays job dead letters in the DEADLETTER stream.
type DeadLetters struct {
	js jetstream.JetStream
}

// NewDeadLetters returns a reader of the DEADLETTER stream through js.
func NewDeadLetters(js jetstream.JetStream) *DeadLetters { return &DeadLetters{js: js} }

// List returns the dead letters of job (all jobs when job is ""), oldest
// first. A missing DEADLETTER stream is an empty list.
func (d *DeadLetters) List(ctx context.Context, job string) ([]*DeadLetter, error) {
	subject := deadLetterJobsPrefix + ">"
	if job != "" {
		var err error
		if subject, err = events.DeadLetterJobSubject(job); err != nil {
			return nil, err
		}
	}
	raws, err := jhjs.ListDeadLetters(ctx, d.js, subject)
	if err != nil {
		return nil, err
	}
	out := make([]*DeadLetter, len(raws))
	for i, raw := range raws {
		out[i] = newDeadLetter(raw)
	}
	return out, nil
}

// Get returns the job dead letter at seq in the DEADLETTER stream;
// ErrDeadLetterNotFound if there is none (or it is not a job's).
func (d *DeadLetters) Get(ctx context.Context, seq uint64) (*DeadLetter, error) {
	raw, err := jhjs.GetDeadLetter(ctx, d.js, seq, func(subject string) bool { return strings.HasPrefix(subject, deadLetterJobsPrefix) }, ErrDeadLetterNotFound)
	if err != nil {
		return nil, err
	}
	return newDeadLetter(raw), nil
}

func newDeadLetter(raw *jetstream.RawStreamMsg) *DeadLetter {
	dl := &DeadLetter{
		Sequence: raw.Sequence,
		Subject:  raw.Subject,
		Job:      strings.TrimPrefix(raw.Subject, deadLetterJobsPrefix),
		Time:     raw.Time,
		Header:   raw.Header,
		Data:     raw.Data,
	}
	if dl.Header == nil {
		dl.Header = nats.Header{}
	}
	dl.Hook = events.HeaderValue(dl.Header, events.HeaderHook)
	dl.ChangeID = events.HeaderValue(dl.Header, events.HeaderPrefix+"id")
	dl.Error = events.HeaderValue(dl.Header, events.HeaderError)
	dl.Attempts, _ = strconv.Atoi(events.HeaderValue(dl.Header, events.HeaderAttempts))
	return dl
}

// replayMarker is in the Nats-Msg-Id of a replayed job message, and nowhere
// else: change keys and hook names have no dots.
const replayMarker = ".replay-"

// Replayed reports a replayed dead letter.
type Replayed struct {
	DeadLetter *DeadLetter
	Subject    string // jobs.<job>
	Sequence   uint64 // of the new job message in the JOBS stream
	MsgID      string // its Nats-Msg-Id
	Duplicate  bool   // JetStream had it already: the replay was replayed before
}

// Replay publishes the dead letter at seq back to jobs.<job>, so that the
// job runs again with fresh attempts, and then deletes it from the
// DEADLETTER stream (it comes back, with a new sequence, if it dies again).
// The new message has the original headers and body, without
// Jobhooks-Error and Jobhooks-Attempts, and the Nats-Msg-Id
// <change key>.<hook>.replay-<seq> (events.ChangeKey), so replaying one dead letter twice runs
// it once.
func (d *DeadLetters) Replay(ctx context.Context, seq uint64) (*Replayed, error) {
	dl, err := d.Get(ctx, seq)
	if err != nil {
		return nil, err
	}
	subject, err := events.JobSubject(dl.Job)
	if err != nil {
		return nil, fmt.Errorf("replay dead letter %d: %w", seq, err)
	}
	h := nats.Header{}
	for k, v := range dl.Header {
		switch {
		case strings.EqualFold(k, events.HeaderError), strings.EqualFold(k, events.HeaderAttempts),
			strings.EqualFold(k, nats.MsgIdHdr), strings.HasPrefix(strings.ToLower(k), "nats-"):
			continue
		}
		h[k] = append([]string(nil), v...)
	}
	msgID := fmt.Sprintf("%s.%s"+replayMarker+"%d", events.ChangeKey(events.HeaderValue(dl.Header, events.HeaderPrefix+"source"), dl.ChangeID), dl.Hook, dl.Sequence)
	h.Set(nats.MsgIdHdr, msgID)
	ack, err := d.js.PublishMsg(ctx, &nats.Msg{Subject: subject, Header: h, Data: dl.Data})
	if err != nil {
		return nil, fmt.Errorf("replay dead letter %d to %s: %w", seq, subject, err)
	}
	stream, err := d.js.Stream(ctx, jhjs.StreamDeadLetter)
	if err == nil {
		err = stream.DeleteMsg(ctx, seq)
	}
	if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, fmt.Errorf("replayed dead letter %d as %s sequence %d, but could not delete it (replaying it again is harmless): %w",
			seq, subject, ack.Sequence, err)
	}
	return &Replayed{DeadLetter: dl, Subject: subject, Sequence: ack.Sequence, MsgID: msgID, Duplicate: ack.Duplicate}, nil
}

// deadLetterMsg builds the dead letter of a job message: its headers and
// body, with why (Jobhooks-Error), after how many attempts
// (Jobhooks-Attempts) and a Nats-Msg-Id naming the job message's stream
// sequence, so a repeated dead-lettering is stored once.
func deadLetterMsg(job string, msg jetstream.Msg, streamSeq uint64, reason string, attempts int) (*nats.Msg, error) {
	subject, err := events.DeadLetterJobSubject(job)
	if err != nil {
		return nil, err
	}
	orig := msg.Headers().Get(nats.MsgIdHdr)
	if orig == "" {
		orig = "jobs." + job
	}
	// The reason may carry a job's error at any length: a header must fit.
	m := events.NewDeadLetter(subject, msg.Headers(), msg.Data(), clip(reason, maxLogMessage), fmt.Sprintf("%s.deadletter-%d", orig, streamSeq))
	m.Header.Set(events.HeaderAttempts, strconv.Itoa(attempts))
	return m, nil
}
