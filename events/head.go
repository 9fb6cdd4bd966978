package events

import (
	"fmt"
	"reflect"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
)

// ChangeHead is a change event checked as Decode checks it, without its
// snapshots decoded: what routing needs (the identity, content type,
// action and origin of the change) and the message, to render its job
// messages from. Decoding prechange and postchange into maps is most of
// the cost of Decode; a router that only matches hooks needs neither, and
// Change decodes them when something does (a context callback).
type ChangeHead struct {
	ContentType string // from the subject, which the data's content_type matches
	Action      Action // from the subject, which the data's action matches
	ObjectID    string // the data's object_id

	id, source  string // the CloudEvent's id and source, as Event.ID and Event.Source read them
	hookOrigin  string
	causationID string
	header      nats.Header  // as the change arrived
	data        []byte       // the change data
	event       *event.Event // structured mode: the event, to encode its attributes as headers; nil in binary mode
}

// ID returns the change id, the CloudEvent id.
func (h *ChangeHead) ID() string { return h.id }

// Source returns the CloudEvent source.
func (h *ChangeHead) Source() string { return h.source }

// HookOrigin returns the job whose receiver made this change, or "".
func (h *ChangeHead) HookOrigin() string { return h.hookOrigin }

// CausationID returns the id of the change that ran the job which made this
// change, or "".
func (h *ChangeHead) CausationID() string { return h.causationID }

// Key returns the change's ChangeKey.
func (h *ChangeHead) Key() string { return ChangeKey(h.source, h.id) }

// DecodeHead reads a change event from a NATS message on subject as Decode
// does, and accepts exactly what Decode accepts, but leaves the snapshots
// (prechange, postchange, data) undecoded: it checks that each is a JSON
// object or null, which is all Decode requires of them. A change it
// refuses gets Decode's own error, so that the reason is the same whichever
// one refused it.
func DecodeHead(subject string, header nats.Header, data []byte) (*ChangeHead, error) {
	h, err := decodeHead(subject, header, data)
	if err != nil {
		if _, why := Decode(subject, header, data); why != nil {
			return nil, why
		}
		return nil, err // Decode accepts it: the two disagree (FuzzDecodeHead says they do not)
	}
	return h, nil
}

func decodeHead(subject string, header nats.Header, data []byte) (*ChangeHead, error) {
	contentType, action, err := ParseChangeSubject(subject)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidChange, err)
	}
	ev, binary, err := headEvent(header, data)
	if err != nil {
		return nil, err
	}
	h := &ChangeHead{ContentType: contentType, Action: action, header: header,
		id: ev.ID(), source: ev.Source(), data: ev.Data(),
		hookOrigin: stringExtension(ev, ExtHookOrigin), causationID: stringExtension(ev, ExtCausationID)}
	if !binary {
		h.event = ev // its attributes are encoded for the job messages
	}
	if err := checkDataContentType(ev.DataContentType()); err != nil {
		return nil, err
	}
	var f changeFields
	if err := f.decode(h.data); err != nil {
		return nil, err
	}
	if err := validateChangeFor(subject, f.ContentType, f.Action, f.PostChange == kindObject); err != nil {
		return nil, err
	}
	if err := checkType(ev, f.Action); err != nil {
		return nil, err
	}
	h.ObjectID = f.ObjectID
	return h, nil
}

// headEvent reads and validates the CloudEvent of a message, and says
// whether it arrived in binary mode: it builds a binary-mode event straight
// from the headers (natsMessage.binaryEvent), and leaves a structured one
// to the SDK.
func headEvent(header nats.Header, data []byte) (*event.Event, bool, error) {
	msg, err := newNATSMessage(header, data)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrInvalidChange, err)
	}
	if msg.encoding != binding.EncodingBinary {
		ev, err := toEvent(msg)
		return ev, false, err
	}
	ev, err := msg.binaryEvent()
	return ev, true, err
}

// Change decodes the change data in full, as Decode does: its snapshots as
// maps, numbers float64 where that is exact and json.Number where not.
func (h *ChangeHead) Change() (*Change, error) {
	var c Change
	if err := decodeJSONData(h.data, &c); err != nil {
		return nil, err
	}
	exactNumbers(reflect.ValueOf(&c))
	return &c, nil
}

// JobMessages prepares the job messages of the change, as
// NewJobMessagesFrom does for a decoded one: a binary-mode change keeps
// its ce- headers and content-type as they arrived; a structured-mode one
// has its attributes encoded as headers, once.
func (h *ChangeHead) JobMessages(context map[string]any) (*JobMessages, error) {
	if h.event == nil {
		return newJobMessages(h.Key(), attributeHeaders(h.header), h.data, context)
	}
	header, data, err := encodeValidBinary(h.event)
	if err != nil {
		return nil, err
	}
	return newJobMessages(h.Key(), header, data, context)
}
