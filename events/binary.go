package events

import (
	"fmt"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
	"github.com/nats-io/nats.go"
)

// maxDirectHeaders bounds the attribute headers directEvent reads: it
// finds a header spelt twice by comparing each with those before it.
const maxDirectHeaders = 32

// directEvent reads the CloudEvent of a binary-mode message as decodeEvent
// does (newNATSMessage, then the SDK's binding, which calls the SDK's
// setters for each attribute, and the SDK's validation), calling the
// setters straight: no map of the headers, no binding, no copy of the
// data. It reports false, having done nothing that counts, for a message
// it leaves to decodeEvent: one that may be structured, one with no
// ce-specversion, or one with a header name that is not ASCII (Unicode
// lower-casing can make it an attribute) or with many attribute headers.
func directEvent(header nats.Header, data []byte) (*event.Event, bool, error) {
	// First the headers, decoded, as newNATSMessage reads them: whether the
	// message is binary is known only once all are read.
	var (
		attrs       [maxDirectHeaders]struct{ name, value string } // lower-case names
		n           int
		specVersion = -1 // its index in attrs
		contentType string
	)
	for name, values := range header {
		if len(values) == 0 || !isAttributeHeader(name) && !strings.EqualFold(name, HeaderPrefix) {
			continue
		}
		if n == len(attrs) || !isASCII(name) {
			return nil, false, nil
		}
		lower := strings.ToLower(name) // allocates only when name is not lower-case
		for _, a := range attrs[:n] {
			if a.name == lower {
				return nil, true, fmt.Errorf("%w: header %s appears more than once", ErrInvalidChange, lower)
			}
		}
		if len(values) > 1 {
			return nil, true, fmt.Errorf("%w: header %s appears more than once", ErrInvalidChange, lower)
		}
		value, err := decodeHeaderValue(values[0])
		if err != nil {
			return nil, true, fmt.Errorf("%w: header %s: %w", ErrInvalidChange, lower, err)
		}
		attrs[n].name, attrs[n].value = lower, value
		n++
		switch lower {
		case HeaderContentType:
			contentType = value
		case headerSpecVersion:
			specVersion = n - 1
		}
	}
	switch {
	case specVersion < 0 || strings.HasPrefix(mediaTypeOf(contentType), "application/cloudevents"):
		return nil, false, nil // structured, or no CloudEvent: toEvent says which
	case attrs[specVersion].value != event.CloudEventsVersionV1:
		return nil, true, fmt.Errorf("%w: specversion %q: want 1.0", ErrInvalidChange, attrs[specVersion].value)
	}
	// Then the attributes, through the SDK's setters.
	ev := event.New(event.CloudEventsVersionV1)
	dataType := false // ce-datacontenttype was set
	for _, a := range attrs[:n] {
		switch a.name {
		case HeaderContentType, headerSpecVersion:
			continue
		case HeaderPrefix + "datacontenttype":
			dataType = true
		}
		if err := setAttribute(ev.Context, a.name[len(HeaderPrefix):], a.value); err != nil {
			return nil, true, fmt.Errorf("%w: not a valid CloudEvent: header %s: %w", ErrInvalidChange, a.name, err)
		}
	}
	if !dataType && contentType != "" {
		_ = ev.Context.SetDataContentType(contentType) // cannot fail
	}
	if len(data) > 0 {
		ev.DataEncoded = data
	}
	if err := ValidateEvent(&ev); err != nil {
		return nil, true, err
	}
	return &ev, true, nil
}

// setAttribute sets the attribute or extension name of a CloudEvents 1.0
// context to value, a header's, as the SDK's binding does (spec.Attribute
// Set calls these setters, after types.ToString, which leaves a string as
// it is, or types.ToTime).
func setAttribute(c event.EventContext, name, value string) error {
	switch name {
	case "id":
		return c.SetID(value)
	case "source":
		return c.SetSource(value)
	case "type":
		return c.SetType(value)
	case "datacontenttype":
		return c.SetDataContentType(value)
	case "dataschema":
		return c.SetDataSchema(value)
	case "subject":
		return c.SetSubject(value)
	case "time":
		t, err := types.ToTime(value)
		if err != nil {
			return err
		}
		return c.SetTime(t)
	}
	return c.SetExtension(name, value)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
