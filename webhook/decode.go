package webhook

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/jobhooks/jobhooks/events"
)

// Errors of the webhook body decoders. Every decoding error wraps one of
// them, so that HTTP ingest can answer 400 or 422.
var (
	// ErrMalformed: the body is not a webhook body jobhooks can read (not
	// JSON, a missing or mistyped field, no way to tell the object type).
	ErrMalformed = errors.New("malformed webhook body")
	// ErrNotObjectChange: a well-formed body whose event is not an object
	// change (NetBox's job_started and job_ended, or an unknown event).
	ErrNotObjectChange = errors.New("not an object change")
)

// Dialect names the sender of a webhook body.
type Dialect string

// The dialects jobhooks reads.
const (
	NetBox   Dialect = "netbox"
	Nautobot Dialect = "nautobot"
)

// DecodeOptions says what a body alone may not: the object type for bodies
// that carry only a bare model name and no URL to take the app label from.
type DecodeOptions struct {
	// ContentType ("<app_label>.<model>") is used when the body names no
	// app label: NetBox before 4.4 and Nautobot without data.object_type and
	// data.url. When the body names a model, it must be this one's.
	ContentType string
}

// Inbound is a decoded webhook body: the change it describes and the change
// id derived from the exact body.
type Inbound struct {
	Change events.Change
	// ID is ChangeID of the body: the sender's retry of the same webhook
	// has the same id, so JetStream stores it once.
	ID string
}

// ChangeID derives a change id from a webhook body: "<dialect>-" and the
// first 32 hex digits (128 bits) of a SHA-256 over the body's top-level
// members, each name and value as sent, except "context", and over
// opts.ContentType when given. NetBox and Nautobot send a retry with the
// same members (NetBox fixes the timestamp when it queues the webhook), but
// NetBox runs its context callbacks again for every attempt, so context may
// differ; two different changes differ in time, request or data, and the
// same body sent for two content types differs in opts. A body that is not
// a JSON object is hashed whole.
func ChangeID(d Dialect, body []byte, opts DecodeOptions) string {
	h := sha256.New()
	if !hashMembers(h, body) {
		h.Reset()
		h.Write(body)
	}
	if opts.ContentType != "" {
		h.Write([]byte("\x00content_type="))
		h.Write([]byte(opts.ContentType))
	}
	var sum [sha256.Size]byte
	return string(d) + "-" + hex.EncodeToString(h.Sum(sum[:0])[:16])
}

// hashMembers writes the top-level members of a JSON object but "context"
// to h, each as name NUL value NUL, the value's bytes as sent. It reports
// false when body is not one well-formed JSON object.
func hashMembers(h io.Writer, body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		name, _ := tok.(string)
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return false
		}
		if name == "context" {
			continue
		}
		fmt.Fprintf(h, "%q\x00%s\x00", name, value)
	}
	_, err := dec.Token()
	return err == nil
}

// Decode reads a NetBox (3.5 to 4.7) or Nautobot (2.x) webhook body:
//   - event created, updated or deleted (create, update, delete accepted
//     too) gives the action; any other event is ErrNotObjectChange;
//   - the content type is object_type (NetBox 4.4+), else data.object_type
//     (Nautobot only: its REST serialization), else the bare model with the app label
//     from data.url (/api/<app_label>/...), else opts.ContentType;
//   - prechange and postchange come from snapshots; a body without
//     snapshots uses data (as postchange, or as prechange of a delete);
//   - object id from data.id, repr from data.display (or data.name), user
//     from username (or request.user), request id from request_id (or
//     request.id), time from timestamp; data is kept as the change's Data.
func Decode(d Dialect, body []byte, opts DecodeOptions) (*Inbound, error) {
	var p Payload
	if err := decodeObject(body, &p); err != nil {
		return nil, err
	}
	if p.Event == "" {
		return nil, fmt.Errorf("%w: no \"event\" (want created, updated or deleted)", ErrMalformed)
	}
	action, ok := eventActions[p.Event]
	if !ok {
		return nil, fmt.Errorf("%w: event %q: only created, updated and deleted are object changes", ErrNotObjectChange, p.Event)
	}
	if p.Data == nil {
		return nil, fmt.Errorf("%w: no \"data\" object (the serialized object)", ErrMalformed)
	}
	contentType, err := contentTypeOf(d, &p, opts)
	if err != nil {
		return nil, err
	}
	ch := events.Change{
		Action:      action,
		ContentType: contentType,
		Data:        p.Data,
		ObjectID:    scalarString(p.Data["id"]),
		ObjectRepr:  stringField(p.Data, "display"),
	}
	if ch.ObjectRepr == "" {
		ch.ObjectRepr = stringField(p.Data, "name")
	}
	if p.Username != nil {
		ch.User = *p.Username
	}
	if p.RequestID != nil {
		ch.RequestID = *p.RequestID
	}
	if p.Request != nil {
		if ch.User == "" {
			ch.User = p.Request.User
		}
		if ch.RequestID == "" {
			ch.RequestID = p.Request.ID
		}
	}
	if p.Timestamp != "" {
		if ch.Time, err = ParseTimestamp(p.Timestamp); err != nil {
			return nil, fmt.Errorf("%w: timestamp: %w", ErrMalformed, err)
		}
	}
	if p.Snapshots != nil {
		ch.PreChange, ch.PostChange = p.Snapshots.PreChange, p.Snapshots.PostChange
	}
	if ch.PreChange == nil && ch.PostChange == nil {
		if action == events.ActionDelete {
			ch.PreChange = p.Data
		} else {
			ch.PostChange = p.Data
		}
	}
	if err := ch.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return &Inbound{Change: ch, ID: ChangeID(d, body, opts)}, nil
}

// eventActions maps the event names NetBox and Nautobot send (and the
// create/update/delete some of NetBox's own pages still show) to actions.
var eventActions = map[string]events.Action{
	EventCreated: events.ActionCreate,
	EventUpdated: events.ActionUpdate,
	EventDeleted: events.ActionDelete,
	"create":     events.ActionCreate,
	"update":     events.ActionUpdate,
	"delete":     events.ActionDelete,
}

// decodeObject unmarshals a JSON object into p, keeping numbers as written
// (json.Number) so that ids and decimals pass through unchanged.
func decodeObject(body []byte, p *Payload) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return fmt.Errorf("%w: the body is empty", ErrMalformed)
	}
	if trimmed[0] != '{' {
		return fmt.Errorf("%w: the body is not a JSON object", ErrMalformed)
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	if err := dec.Decode(p); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return fmt.Errorf("%w: %q is a JSON %s, want %s", ErrMalformed, typeErr.Field, typeErr.Value, jsonKind(typeErr.Type.String()))
		}
		return fmt.Errorf("%w: invalid JSON: %w", ErrMalformed, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: data after the JSON object", ErrMalformed)
	}
	return nil
}

// jsonKind names a Go type of Payload as the JSON kind it decodes from.
func jsonKind(goType string) string {
	switch {
	case strings.HasPrefix(goType, "map["), strings.Contains(goType, "webhook."):
		return "an object"
	case strings.HasSuffix(goType, "string"):
		return "a string"
	}
	return goType
}

// contentTypeOf finds the body's "<app_label>.<model>".
// data.object_type is the object's own type only in Nautobot's REST
// serialization; in NetBox's it is a related object's (image attachments).
func contentTypeOf(d Dialect, p *Payload, opts DecodeOptions) (string, error) {
	var ct, from string
	switch {
	case p.ObjectType != "":
		ct, from = p.ObjectType, "object_type"
	case d == Nautobot && stringField(p.Data, "object_type") != "":
		ct, from = stringField(p.Data, "object_type"), "data.object_type"
	case p.Model == "":
		if opts.ContentType == "" {
			return "", fmt.Errorf("%w: no object type: the body has neither \"object_type\" nor \"model\"; add ?content_type=<app_label>.<model> to the URL", ErrMalformed)
		}
		ct, from = opts.ContentType, "content_type"
	default:
		app, err := appLabelFromURL(p.Data["url"])
		switch {
		case err == nil:
			ct, from = app+"."+strings.ToLower(p.Model), "model and data.url"
		case opts.ContentType != "":
			ct, from = opts.ContentType, "content_type"
		default:
			return "", fmt.Errorf("%w: model %q has no app label: %w; add ?content_type=<app_label>.%s to the URL", ErrMalformed, p.Model, err, strings.ToLower(p.Model))
		}
	}
	if err := events.ValidateContentType(ct); err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrMalformed, from, err)
	}
	if p.Model != "" && !strings.EqualFold(ct[strings.IndexByte(ct, '.')+1:], p.Model) {
		return "", fmt.Errorf("%w: model %q does not match %s %q", ErrMalformed, p.Model, from, ct)
	}
	return ct, nil
}

// appLabelFromURL reads the app label from a REST URL, relative (NetBox:
// /api/dcim/sites/4/) or absolute (Nautobot: https://host/api/dcim/...).
// Plugin URLs (/api/plugins/...) name the plugin's base URL, not its app
// label, so they do not count.
func appLabelFromURL(v any) (string, error) {
	s, ok := v.(string)
	if !ok || s == "" {
		return "", errors.New("data.url is missing")
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("data.url: %w", err)
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	for i, part := range parts {
		if part != "api" || i+1 >= len(parts) {
			continue
		}
		if app := parts[i+1]; app != "plugins" && app != "" {
			return app, nil
		}
		return "", fmt.Errorf("data.url %q is a plugin's URL, which does not name its app label", s)
	}
	return "", fmt.Errorf("data.url %q has no /api/<app_label>/ part", s)
}

// ParseTimestamp reads a webhook timestamp: ISO 8601 as NetBox 3.6.6+ and
// Nautobot send it ("2026-03-06T15:11:23.503186+00:00"), or Python's
// str(datetime) with a space that older NetBox sent.
func ParseTimestamp(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, strings.Replace(s, " ", "T", 1))
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an ISO 8601 time with a zone", s)
	}
	return t.UTC(), nil
}

// stringField returns m[key] when it is a string.
func stringField(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// scalarString renders an id (a number or a string) as a string.
func scalarString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case float64, bool:
		return fmt.Sprint(v)
	}
	return ""
}
