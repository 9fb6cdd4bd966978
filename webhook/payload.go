package webhook

import "github.com/jobhooks/jobhooks/events"

// Event names of NetBox's and Nautobot's webhook bodies.
const (
	EventCreated = "created"
	EventUpdated = "updated"
	EventDeleted = "deleted"
)

// Payload is a webhook body: NetBox's (3.5 to 4.7) and Nautobot's default
// body share it. Fields are declared in NetBox's key order, so encoding a
// Payload writes the keys as NetBox does: event, timestamp, object_type,
// username, request_id, data, request, snapshots, context.
type Payload struct {
	// Event is created, updated or deleted for object changes; NetBox also
	// sends job_started and job_ended, which are not object changes.
	Event string `json:"event"`
	// Timestamp is the source's ISO 8601 time of the event, kept as sent
	// (NetBox: "2026-03-06T15:11:23.503186+00:00").
	Timestamp string `json:"timestamp"`
	// ObjectType is "<app_label>.<model>" (NetBox 4.4+).
	ObjectType string `json:"object_type,omitempty"`
	// Model is the bare model name (NetBox before 4.5, Nautobot).
	Model string `json:"model,omitempty"`
	// Username and RequestID are null when the source had none (NetBox 4.7
	// drops both; its request carries the user).
	Username  *string `json:"username"`
	RequestID *string `json:"request_id"`
	// Data is the source's REST serialization of the object.
	Data map[string]any `json:"data"`
	// Request describes the request that made the change (NetBox 4.6+).
	Request *Request `json:"request,omitempty"`
	// Snapshots are the object's state before and after the change.
	Snapshots *Snapshots `json:"snapshots,omitempty"`
	// Context is what context callbacks added (NetBox 4.4+), omitted when
	// empty.
	Context map[string]any `json:"context,omitempty"`
}

// Request is NetBox's request block: {id, method, path, user}.
type Request struct {
	ID     string `json:"id,omitempty"`
	Method string `json:"method,omitempty"`
	Path   string `json:"path,omitempty"`
	User   string `json:"user,omitempty"`
}

// Snapshots is the snapshots block. Nautobot adds differences; NetBox does
// not send them.
type Snapshots struct {
	PreChange   map[string]any      `json:"prechange"`
	PostChange  map[string]any      `json:"postchange"`
	Differences *events.Differences `json:"differences,omitempty"`
}
