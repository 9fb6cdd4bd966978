package receiver

import (
	"encoding/json"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/jobhooks/jobhooks/events"
)

// Change is the change a job runs for, the counterpart of Nautobot's
// ObjectChange: the change data (action, content type, object, user, the
// prechange and postchange snapshots), with Snapshots() for the
// differences, plus what the job message and the hook add.
type Change struct {
	events.Change
	// ID is the change id (the CloudEvent id).
	ID string
	// Key is the change's identity, source + id, as one safe token
	// (events.ChangeKey): the result key is <hook>.<key>.
	Key string
	// Hook is the job hook that matched the change.
	Hook string
	// Context is what the router's context callbacks added (NetBox's
	// webhook "context"); nil when none did.
	Context map[string]any
	// Params is the hook's job-specific configuration, read from the
	// job_hooks bucket when the attempt starts (never carried in the
	// message, as it may hold secrets). Nil when the hook has none or no
	// longer exists. A job only ever gets its own hooks' params: a message
	// naming a hook whose job is another is dead-lettered without running.
	Params json.RawMessage
	// Event is the CloudEvent as it arrived: source, time, extensions.
	Event event.Event
}

// Object returns a reference to the changed object, for log entries.
func (c *Change) Object() ObjectRef {
	return ObjectRef{ContentType: c.ContentType, ID: c.ObjectID, Repr: c.ObjectRepr}
}

// ObjectRef names an object in a log entry, as Nautobot's log entries link
// the object they are about.
type ObjectRef struct {
	ContentType string `json:"content_type"`
	ID          string `json:"id,omitempty"`
	Repr        string `json:"repr,omitempty"`
}
