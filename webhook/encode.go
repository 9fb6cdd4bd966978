package webhook

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/jobhooks/jobhooks/events"
)

// TimestampLayout is the layout of Payload.Timestamp as NetBox writes it
// (Python's isoformat of an aware datetime: microseconds, "+00:00").
const TimestampLayout = "2006-01-02T15:04:05.000000-07:00"

// EventName returns NetBox's webhook event name of an action: created,
// updated or deleted.
func EventName(a events.Action) string {
	switch a {
	case events.ActionCreate:
		return EventCreated
	case events.ActionUpdate:
		return EventUpdated
	case events.ActionDelete:
		return EventDeleted
	}
	return string(a)
}

// NewPayload returns NetBox's webhook body for a change: data is the
// change's Data (the source's REST serialization) when it has one, else
// postchange, else prechange; context is omitted when empty. at is the
// timestamp used when the change has no time of its own.
func NewPayload(ch *events.Change, context map[string]any, at time.Time) Payload {
	when := ch.Time
	if when.IsZero() {
		when = at
	}
	p := Payload{
		Event:      EventName(ch.Action),
		Timestamp:  when.UTC().Format(TimestampLayout),
		ObjectType: ch.ContentType,
		Username:   optional(ch.User),
		RequestID:  optional(ch.RequestID),
		Data:       ch.Data,
		Snapshots:  &Snapshots{PreChange: ch.PreChange, PostChange: ch.PostChange},
	}
	if p.Data == nil {
		p.Data = ch.PostChange
	}
	if p.Data == nil {
		p.Data = ch.PreChange
	}
	if len(context) > 0 {
		p.Context = context
	}
	return p
}

// Encode returns the JSON body of p, keys in NetBox's order (the struct's).
func Encode(p Payload) ([]byte, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode webhook payload: %w", err)
	}
	return b, nil
}

// optional is nil for "", as NetBox sends null for a missing username or
// request id.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
