package events

import (
	"context"
	"fmt"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// EventOptions sets the CloudEvent attributes of a change that its data does
// not determine.
type EventOptions struct {
	// ID is the change id; default a random UUID. Give the source's own id
	// (e.g. the ObjectChange UUID) so that a republish is de-duplicated.
	ID string
	// Source identifies the producer (ce-source), e.g. "nautobot://prod".
	// Required.
	Source string
	// Time is the event time (ce-time); default the change's time, or now.
	Time time.Time
	// HookOrigin and CausationID mark a change made by a job hook receiver.
	// The receiver package sets them; producers never should.
	HookOrigin  string
	CausationID string
}

// NewEvent builds the CloudEvent of a valid change: type
// jobhooks.change.<action>, subject = object id, JSON data.
func NewEvent(ch *Change, opts EventOptions) (*event.Event, error) {
	if err := ch.Validate(); err != nil {
		return nil, err
	}
	if opts.Source == "" {
		return nil, fmt.Errorf("%w: the event source is required (e.g. \"nautobot://prod\")", ErrInvalidChange)
	}
	ev := event.New()
	if opts.ID == "" {
		opts.ID = uuid.NewString()
	} else if err := ValidateChangeID(opts.ID); err != nil {
		return nil, err
	}
	ev.SetID(opts.ID)
	ev.SetSource(opts.Source)
	ev.SetType(TypePrefix + string(ch.Action))
	switch {
	case !opts.Time.IsZero():
		ev.SetTime(opts.Time)
	case !ch.Time.IsZero():
		ev.SetTime(ch.Time)
	default:
		ev.SetTime(time.Now().UTC())
	}
	if ch.ObjectID != "" {
		ev.SetSubject(ch.ObjectID)
	}
	if opts.HookOrigin != "" {
		ev.SetExtension(ExtHookOrigin, opts.HookOrigin)
	}
	if opts.CausationID != "" {
		ev.SetExtension(ExtCausationID, opts.CausationID)
	}
	if err := ev.SetData(event.ApplicationJSON, ch); err != nil {
		return nil, fmt.Errorf("encode change data: %w", err)
	}
	return &ev, nil
}

// NewMsg renders a change event as a NATS message on the change's subject,
// in binary mode, with Nats-Msg-Id = the change key (ChangeKey: source +
// id) so JetStream drops republished duplicates and keeps distinct changes.
func NewMsg(ch *Change, opts EventOptions) (*nats.Msg, error) {
	ev, err := NewEvent(ch, opts)
	if err != nil {
		return nil, err
	}
	subject, err := ch.Subject()
	if err != nil {
		return nil, err
	}
	header, data, err := EncodeBinary(ev)
	if err != nil {
		return nil, err
	}
	header[nats.MsgIdHdr] = []string{ChangeKey(ev.Source(), ev.ID())}
	return &nats.Msg{Subject: subject, Header: header, Data: data}, nil
}

// Publisher publishes changes to the CHANGES stream.
type Publisher struct {
	js     jetstream.JetStream
	source string
}

// NewPublisher returns a Publisher whose events carry source as ce-source
// unless EventOptions say otherwise.
func NewPublisher(js jetstream.JetStream, source string) *Publisher {
	return &Publisher{js: js, source: source}
}

// Publish stores one change and waits for JetStream's acknowledgement. A
// duplicate (same id within the stream's duplicate window) is acknowledged
// with PubAck.Duplicate set and stored once.
func (p *Publisher) Publish(ctx context.Context, ch *Change, opts EventOptions) (*jetstream.PubAck, error) {
	msg, err := p.msg(ch, opts)
	if err != nil {
		return nil, err
	}
	ack, err := p.js.PublishMsg(ctx, msg)
	if err != nil {
		return nil, fmt.Errorf("publish change %s to %s: %w", msg.Header.Get(nats.MsgIdHdr), msg.Subject, err)
	}
	return ack, nil
}

// PublishAsync sends a change without waiting; the future reports the
// acknowledgement. For bulk loads: publish many, then wait on
// PublishAsyncComplete.
func (p *Publisher) PublishAsync(ch *Change, opts EventOptions) (jetstream.PubAckFuture, error) {
	msg, err := p.msg(ch, opts)
	if err != nil {
		return nil, err
	}
	f, err := p.js.PublishMsgAsync(msg)
	if err != nil {
		return nil, fmt.Errorf("publish change %s to %s: %w", msg.Header.Get(nats.MsgIdHdr), msg.Subject, err)
	}
	return f, nil
}

// PublishAsyncComplete is closed when every asynchronous publish so far
// has been acknowledged or has failed.
func (p *Publisher) PublishAsyncComplete() <-chan struct{} { return p.js.PublishAsyncComplete() }

func (p *Publisher) msg(ch *Change, opts EventOptions) (*nats.Msg, error) {
	if opts.Source == "" {
		opts.Source = p.source
	}
	return NewMsg(ch, opts)
}
