package receiver

import (
	"encoding/json"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jobhooks/jobhooks/events"
)

// orderKey names what msg's job must not overtake, and be overtaken by:
// its object (content type and object id), read from the change data
// without decoding the rest. A change without an object id, or a message
// that is no readable job message (the worker rejects it), has no order to
// keep: "".
func orderKey(msg jetstream.Msg) string {
	var obj struct {
		ContentType string `json:"content_type"`
		ObjectID    string `json:"object_id"`
	}
	if events.HeaderValue(msg.Headers(), events.HeaderPrefix+"specversion") != "" {
		if json.Unmarshal(msg.Data(), &obj) != nil {
			return ""
		}
	} else { // structured mode: the change is the event's data
		var ev struct {
			Data *json.RawMessage `json:"data"`
		}
		if json.Unmarshal(msg.Data(), &ev) != nil || ev.Data == nil || json.Unmarshal(*ev.Data, &obj) != nil {
			return ""
		}
	}
	if obj.ObjectID == "" {
		return ""
	}
	return obj.ContentType + "\x00" + obj.ObjectID
}
