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

	event  *event.Event // its attributes, and the change data as it arrived
	binary bool         // it arrived in binary mode, with header
	header nats.Header

	// raw says pre and post are the snapshots as they arrived (nil: null
	// or absent); otherwise Differs decodes the change.
	raw       bool
	pre, post []byte
}

// ID returns the change id, the CloudEvent id.
func (h *ChangeHead) ID() string { return h.event.ID() }

// Source returns the CloudEvent source.
func (h *ChangeHead) Source() string { return h.event.Source() }

// HookOrigin returns the job whose receiver made this change, or "".
func (h *ChangeHead) HookOrigin() string { return stringExtension(h.event, ExtHookOrigin) }

// CausationID returns the id of the change that ran the job which made this
// change, or "".
func (h *ChangeHead) CausationID() string { return stringExtension(h.event, ExtCausationID) }

// Key returns the change's ChangeKey.
func (h *ChangeHead) Key() string { return ChangeKey(h.event.Source(), h.event.ID()) }

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
	if err := checkDataContentType(ev.DataContentType()); err != nil {
		return nil, err
	}
	var f changeFields
	if err := f.decode(ev.Data(), contentType, action); err != nil {
		return nil, err
	}
	if err := validateChangeFor(subject, f.ContentType, f.Action, f.PostChange == kindObject); err != nil {
		return nil, err
	}
	if err := checkType(ev, f.Action); err != nil {
		return nil, err
	}
	return &ChangeHead{ContentType: contentType, Action: action, ObjectID: f.ObjectID,
		event: ev, binary: binary, header: header, raw: f.raw, pre: f.pre, post: f.post}, nil
}

// headEvent reads and validates the CloudEvent of a message, and says
// whether it arrived in binary mode: straight from the headers
// (directEvent) when it can, through the SDK's binding otherwise.
func headEvent(header nats.Header, data []byte) (*event.Event, bool, error) {
	if ev, ok, err := directEvent(header, data); ok {
		return ev, true, err
	}
	ev, encoding, err := decodeEvent(header, data)
	return ev, encoding == binding.EncodingBinary, err
}

// Change decodes the change data in full, as Decode does: its snapshots as
// maps, numbers float64 where that is exact and json.Number where not.
func (h *ChangeHead) Change() (*Change, error) {
	var c Change
	if err := decodeJSONData(h.event.Data(), &c); err != nil {
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
	if h.binary {
		return newBinaryJobMessages(h.Key(), ObjectKey(h.ContentType, h.ObjectID), h.header, h.event.Data(), context)
	}
	header, data, err := encodeValidBinary(h.event)
	if err != nil {
		return nil, err
	}
	return newJobMessages(h.Key(), ObjectKey(h.ContentType, h.ObjectID), header, data, context)
}
