package receiver

import (
	"encoding/json"

	"github.com/nats-io/nats.go"

	"github.com/jobhooks/jobhooks/events"
)

// orderKey names what the job of the message with header and data must not
// overtake, and be overtaken by: its object, as events.ObjectKey names it. The router says it in the
// Jobhooks-Object header; a job message without one (published by hand, or
// about an object id a header cannot hold) has it read from its change
// data, without decoding the rest. A change without an object id, or a
// message that is no readable job message (the worker rejects it), has no
// order to keep: "".
func orderKey(header nats.Header, data []byte) string {
	if key := events.HeaderValue(header, events.HeaderObject); key != "" {
		return key
	}
	var obj struct {
		ContentType string `json:"content_type"`
		ObjectID    string `json:"object_id"`
	}
	if events.HeaderValue(header, events.HeaderPrefix+"specversion") != "" {
		if json.Unmarshal(data, &obj) != nil {
			return ""
		}
	} else { // structured mode: the change is the event's data
		var ev struct {
			Data *json.RawMessage `json:"data"`
		}
		if json.Unmarshal(data, &ev) != nil || ev.Data == nil || json.Unmarshal(*ev.Data, &obj) != nil {
			return ""
		}
	}
	if obj.ObjectID == "" {
		return ""
	}
	// As ObjectKey, but for any id: one a header cannot hold is always read
	// from the body, so its messages still share a key.
	return obj.ContentType + " " + obj.ObjectID
}
