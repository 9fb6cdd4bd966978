package router

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jobhooks/jobhooks/events"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
)

// ErrDeadLetterNotFound is returned by DeadLetters.Get when the DEADLETTER
// stream has no dead-lettered change at a sequence.
var ErrDeadLetterNotFound = errors.New("dead-lettered change not found")

// DeadLetter is a change the router could not route, as stored on
// deadletter.changes: the change's headers and body, why (Jobhooks-Error),
// the subject it came on (Jobhooks-Subject) and its CHANGES sequence
// (Jobhooks-Sequence).
type DeadLetter struct {
	Sequence       uint64      // sequence in the DEADLETTER stream
	Time           time.Time   // when it was dead-lettered
	Reason         string      // Jobhooks-Error
	Subject        string      // the change's subject (Jobhooks-Subject)
	ChangeSequence uint64      // its sequence in CHANGES; 0 if unknown
	ChangeID       string      // its ce-id, if it had one
	Omitted        string      // Jobhooks-Omitted: what a too-large change's dead letter leaves out
	Header         nats.Header // every header
	Data           []byte      // the change's body
}

// DeadLetters reads dead-lettered changes in the DEADLETTER stream.
type DeadLetters struct {
	js jetstream.JetStream
}

// NewDeadLetters returns a reader of the dead-lettered changes through js.
func NewDeadLetters(js jetstream.JetStream) *DeadLetters { return &DeadLetters{js: js} }

// List returns the dead-lettered changes, oldest first. A missing
// DEADLETTER stream is an empty list.
func (d *DeadLetters) List(ctx context.Context) ([]*DeadLetter, error) {
	raws, err := jhjs.ListDeadLetters(ctx, d.js, events.DeadLetterChanges)
	if err != nil {
		return nil, err
	}
	out := make([]*DeadLetter, len(raws))
	for i, raw := range raws {
		out[i] = newDeadLetter(raw)
	}
	return out, nil
}

// Get returns the dead-lettered change at seq in the DEADLETTER stream;
// ErrDeadLetterNotFound if there is none (or the message there is a job's).
func (d *DeadLetters) Get(ctx context.Context, seq uint64) (*DeadLetter, error) {
	raw, err := jhjs.GetDeadLetter(ctx, d.js, seq, func(subject string) bool { return subject == events.DeadLetterChanges }, ErrDeadLetterNotFound)
	if err != nil {
		return nil, err
	}
	return newDeadLetter(raw), nil
}

func newDeadLetter(raw *jetstream.RawStreamMsg) *DeadLetter {
	h := raw.Header
	if h == nil {
		h = nats.Header{}
	}
	dl := &DeadLetter{
		Sequence: raw.Sequence,
		Time:     raw.Time,
		Reason:   events.HeaderValue(h, events.HeaderError),
		Subject:  events.HeaderValue(h, events.HeaderSubject),
		ChangeID: events.HeaderValue(h, events.HeaderPrefix+"id"),
		Omitted:  events.HeaderValue(h, events.HeaderOmitted),
		Header:   h,
		Data:     raw.Data,
	}
	dl.ChangeSequence, _ = strconv.ParseUint(events.HeaderValue(h, events.HeaderSequence), 10, 64)
	return dl
}
