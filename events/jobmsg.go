package events

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
)

// Headers jobhooks adds to job and dead-letter messages.
const (
	HeaderHook     = "Jobhooks-Hook"     // the hook that matched
	HeaderObject   = "Jobhooks-Object"   // the object the change is about: ObjectKey
	HeaderJob      = "Jobhooks-Job"      // the job it runs
	HeaderError    = "Jobhooks-Error"    // why a message was dead-lettered
	HeaderAttempts = "Jobhooks-Attempts" // how many attempts a dead-lettered job had
	HeaderSubject  = "Jobhooks-Subject"  // the subject a dead-lettered change was published on
	HeaderSequence = "Jobhooks-Sequence" // the CHANGES stream sequence of a dead-lettered change
	HeaderOmitted  = "Jobhooks-Omitted"  // what a dead letter leaves out of its message: "body", header names
)

// JobMessage is a decoded job message from jobs.<job>: the change that
// matched a hook, and what context callbacks added.
type JobMessage struct {
	ChangeEvent
	Hook    string
	Job     string
	Context map[string]any
}

// JobMessages renders the job messages of one change. The change is
// encoded once; For then only adds what differs per hook.
type JobMessages struct {
	id     string // the change key
	object string // its ObjectKey; "": no Jobhooks-Object header
	header nats.Header
	filter bool // header is the change's own: For copies its attribute headers only
	data   []byte
}

// NewJobMessages prepares the job messages of change ce, which must be
// valid (from Decode, or built with NewEvent): every ce-
// attribute of the change (binary mode) and, as the body, the change data
// with a top-level "context" when context is not empty. The attributes are
// encoded from ce; for a change that arrived as a message, use
// NewJobMessagesFrom, which keeps its headers as they are.
func NewJobMessages(ce *ChangeEvent, context map[string]any) (*JobMessages, error) {
	header, data, err := encodeValidBinary(&ce.Event) // ce was validated when decoded
	if err != nil {
		return nil, err
	}
	return newJobMessages(ce.Key(), ObjectKey(ce.Change.ContentType, ce.Change.ObjectID), header, data, context)
}

// NewJobMessagesFrom prepares the job messages of change ce, decoded from a
// message with header (as it arrived on CHANGES). A binary-mode change
// keeps its attributes as they arrived: every ce- header and content-type,
// names and values unchanged (not decoded and encoded again, which could
// make them grow: percent-encoding triples every byte beyond ASCII). Its
// other headers (Nats-Msg-Id, server directives, ...) are left out. A
// structured-mode change (the whole event in the body) is written in binary
// mode, its attributes encoded once as the binding says, so that every job
// message has the same shape. The body is as NewJobMessages makes it.
func NewJobMessagesFrom(ce *ChangeEvent, header nats.Header, context map[string]any) (*JobMessages, error) {
	if !arrivedBinary(header) {
		return NewJobMessages(ce, context)
	}
	return newBinaryJobMessages(ce.Key(), ObjectKey(ce.Change.ContentType, ce.Change.ObjectID), header, ce.Event.Data(), context)
}

// newBinaryJobMessages prepares the job messages of a binary-mode change
// with key, header and data as it arrived: each gets its ce- headers and
// content-type, names and values as they are.
func newBinaryJobMessages(key, object string, header nats.Header, data []byte, context map[string]any) (*JobMessages, error) {
	j, err := newJobMessages(key, object, header, data, context)
	if err != nil {
		return nil, err
	}
	j.filter = true // in For: one map per job message, none per change
	return j, nil
}

// newJobMessages prepares the job messages of the change with key, about
// object (its ObjectKey), whose attributes are header and data its change
// data.
func newJobMessages(key, object string, header nats.Header, data []byte, context map[string]any) (*JobMessages, error) {
	if len(context) > 0 {
		var err error
		if data, err = withContext(data, context); err != nil {
			return nil, err
		}
	}
	return &JobMessages{id: key, object: object, header: header, data: data}, nil
}

// isAttributeHeader: a ce- header or content-type, in any case.
func isAttributeHeader(name string) bool {
	return len(name) > len(HeaderPrefix) && strings.EqualFold(name[:len(HeaderPrefix)], HeaderPrefix) ||
		strings.EqualFold(name, HeaderContentType)
}

// arrivedBinary says whether Decode read a message with header in binary
// mode: it has ce-specversion and its content type's media type (as
// newNATSMessage parses it) is not application/cloudevents.
func arrivedBinary(header nats.Header) bool {
	binary := false
	for k, v := range header {
		switch {
		case len(v) == 0:
		case strings.EqualFold(k, HeaderPrefix+"specversion"):
			binary = true
		case strings.EqualFold(k, HeaderContentType):
			ct, err := decodeHeaderValue(v[0])
			if err != nil || strings.HasPrefix(mediaTypeOf(ct), "application/cloudevents") {
				return false
			}
		}
	}
	return binary
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// For returns the message for hook on job, on jobs.<job>, with
// Jobhooks-Hook, Jobhooks-Job and Nats-Msg-Id = <change key>.<hook> (see
// ChangeKey), so a router that routes a change twice stores it once and two
// changes never share one; and Jobhooks-Object (ObjectKey) when the change
// has one, so a receiver orders its jobs without reading the body.
func (j *JobMessages) For(hook, job string) (*nats.Msg, error) {
	subject, err := JobSubject(job)
	if err != nil {
		return nil, err
	}
	header := make(nats.Header, len(j.header)+4)
	for k, v := range j.header {
		if !j.filter || isAttributeHeader(k) {
			header[k] = v // values are never modified: sharing them is safe
		}
	}
	values := [...]string{hook, job, j.id + "." + hook, j.object} // one allocation for the four
	header[HeaderHook] = values[0:1:1]
	header[HeaderJob] = values[1:2:2]
	header[nats.MsgIdHdr] = values[2:3:3]
	if j.object != "" {
		header[HeaderObject] = values[3:4:4]
	}
	return &nats.Msg{Subject: subject, Header: header, Data: j.data}, nil
}

// NewJobMsg renders the one job message of change ce for hook on job; see
// NewJobMessages and For.
func NewJobMsg(ce *ChangeEvent, hook, job string, context map[string]any) (*nats.Msg, error) {
	msgs, err := NewJobMessages(ce, context)
	if err != nil {
		return nil, err
	}
	return msgs.For(hook, job)
}

// withContext adds "context" to a JSON object, keeping every other member
// as it is.
func withContext(data []byte, context map[string]any) ([]byte, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil {
		return nil, fmt.Errorf("add context to change data: %w", err)
	}
	raw, err := json.Marshal(context)
	if err != nil {
		return nil, fmt.Errorf("encode context: %w", err)
	}
	members["context"] = raw
	return json.Marshal(members)
}

// DecodeJobMessage reads a job message: the CloudEvent, the change (valid
// on its own; the subject is jobs.<job>, not the change's), the hook and job
// headers and the context.
func DecodeJobMessage(subject string, header nats.Header, data []byte) (*JobMessage, error) {
	job, err := ParseJobSubject(subject)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidChange, err)
	}
	ev, _, err := headEvent(header, data)
	if err != nil {
		// The binding decides, as for a change (DecodeHead): its reason, or
		// its event should it accept what directEvent refused.
		if ev, err = DecodeEvent(header, data); err != nil {
			return nil, err
		}
	}
	if h := HeaderValue(header, HeaderJob); h != "" && h != job {
		return nil, fmt.Errorf("%w: header %s %q does not match subject %q", ErrInvalidChange, HeaderJob, h, subject)
	}
	m := &JobMessage{ChangeEvent: ChangeEvent{Event: *ev}, Job: job, Hook: HeaderValue(header, HeaderHook)}
	if m.Hook == "" {
		return nil, fmt.Errorf("%w: job message without a %s header", ErrInvalidChange, HeaderHook)
	}
	// One pass over the body: the change data and the context beside it.
	body := struct {
		*Change
		Context *map[string]any `json:"context"`
	}{&m.Change, &m.Context}
	if err := decodeData(ev, &body); err != nil {
		return nil, err
	}
	if err := m.Change.Validate(); err != nil {
		return nil, err
	}
	if err := checkType(ev, m.Change.Action); err != nil {
		return nil, err
	}
	return m, nil
}

// ObjectKey names the object a change is about, for the Jobhooks-Object
// header: "<content_type> <object_id>" (a content type has no space). It
// is "" for a change without an object id, and for an id a header value
// cannot hold as it is (a control character): such a job message has no
// Jobhooks-Object header, and a receiver reads the object from its body.
func ObjectKey(contentType, objectID string) string {
	if objectID == "" || strings.ContainsFunc(objectID, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return ""
	}
	return contentType + " " + objectID
}
