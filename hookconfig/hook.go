package hookconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/jobhooks/jobhooks/events"
)

// Hook is a job hook: run Job for every change of one of ContentTypes whose
// action is one of Events. It is the value of key Name in the job_hooks
// bucket.
type Hook struct {
	Name         string          `json:"name"`
	ContentTypes []string        `json:"content_types"`
	Job          string          `json:"job"`
	Enabled      bool            `json:"enabled"`
	Events       []events.Action `json:"events"`
	// Params is job-specific configuration (a JSON object), read by the
	// job's receivers from the bucket. It may hold secrets, so it never
	// travels in stream messages.
	Params json.RawMessage `json:"params,omitempty"`

	// Conditions is a NetBox condition set (docs/conditions.md) the change
	// must satisfy, as written (compacted); absent: every change. Validate
	// compiles it; ConditionSet returns the compiled set.
	Conditions json.RawMessage `json:"conditions,omitempty"`
	// ChangedFields, if set, makes an update fire only when one of these
	// top-level keys of the object differs. Creates and deletes are not
	// affected.
	ChangedFields []string `json:"changed_fields,omitempty"`
	// SkipNoop is whether an update without differences is skipped. Nil,
	// for a hook written without the field, means true (SkipsNoop): a
	// pointer so that the default is not written into hooks that never
	// chose it, and a Hook built in Go gets the default too.
	SkipNoop *bool `json:"skip_noop,omitempty"`

	compiled compiledConditions // set by Validate
}

// hookFields lists the JSON fields of a hook, for error messages.
const hookFields = "name, content_types, job, enabled, events, params, conditions, changed_fields, skip_noop"

// DecodeHook decodes and validates a hook config. Decoding is strict, so
// that a typo never silently turns a setting off: every field must be one
// of the contract's, spelled exactly (encoding/json alone would accept
// "Name" for "name"), at most once, and nothing may follow the object.
// A missing "enabled" means true, Nautobot's default. Params are stored
// compacted, in the form json.Marshal writes them, so that encoding a
// decoded hook and decoding it again gives an equal hook.
func DecodeHook(data []byte) (*Hook, error) {
	h, err := decodeHook(data)
	if err != nil {
		// Name the hook if its name was read, and valid, before the error.
		if events.ValidateHookName(h.Name) == nil {
			return nil, fmt.Errorf("%w %q: %w", ErrInvalidHook, h.Name, err)
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalidHook, err)
	}
	if err := h.Validate(); err != nil {
		return nil, err
	}
	return h, nil
}

// decodeHook decodes without validating. It returns the hook even with an
// error, so that the error can name it.
func decodeHook(data []byte) (*Hook, error) {
	h := &Hook{}
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	switch {
	case errors.Is(err, io.EOF):
		return h, errors.New("empty document: want a JSON object")
	case err != nil:
		return h, err
	case tok != json.Delim('{'):
		return h, fmt.Errorf("want a JSON object, got %s", describeToken(tok))
	}

	var enabled *bool
	seen := make(map[string]bool, 9)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return h, unexpectedEOF(err)
		}
		field := tok.(string) // inside an object, Token returns keys as strings
		if seen[field] {
			return h, fmt.Errorf("duplicate field %q", field)
		}
		seen[field] = true
		var dst any
		switch field {
		case "name":
			dst = &h.Name
		case "content_types":
			dst = &h.ContentTypes
		case "job":
			dst = &h.Job
		case "enabled":
			dst = &enabled
		case "events":
			dst = &h.Events
		case "params":
			dst = &h.Params
		case "conditions":
			dst = &h.Conditions
		case "changed_fields":
			dst = &h.ChangedFields
		case "skip_noop":
			dst = &h.SkipNoop
		default:
			return h, fmt.Errorf("unknown field %q (want %s)", field, hookFields)
		}
		if err := dec.Decode(dst); err != nil {
			return h, fmt.Errorf("%s: %w", field, err)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return h, unexpectedEOF(err)
	}
	if tok, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return h, fmt.Errorf("data after the hook object: %w", err)
		}
		return h, fmt.Errorf("data after the hook object: %s", describeToken(tok))
	}

	h.Enabled = enabled == nil || *enabled
	if h.Params, err = normalizeParams(h.Params); err != nil {
		return h, fmt.Errorf("params: %w", err)
	}
	if h.Conditions, err = normalizeParams(h.Conditions); err != nil {
		return h, fmt.Errorf("conditions: %w", err)
	}
	return h, nil
}

// unexpectedEOF reports an object cut short as such, not as a bare "EOF".
func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("the object is not closed: %w", io.ErrUnexpectedEOF)
	}
	return err
}

// normalizeParams (params and conditions) maps null to absent and compacts
// the rest exactly as json.Marshal does (which also escapes <, > and &), so
// decoding is a fixed point of encoding.
func normalizeParams(p json.RawMessage) (json.RawMessage, error) {
	if len(p) == 0 || string(p) == "null" {
		return nil, nil
	}
	return json.Marshal(p)
}

func describeToken(tok json.Token) string {
	switch tok := tok.(type) {
	case json.Delim:
		switch tok {
		case '[':
			return "an array"
		case '{':
			return "an object"
		}
		return fmt.Sprintf("%q", string(tok))
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%v", tok)
}

// Validate checks the hook on its own: a valid name; at least one content
// type or pattern and one event, each valid and listed once, and no content
// type covered by a pattern of the same hook; a valid job name; params, if
// present, a JSON object; valid changed_fields; conditions that compile
// (kept for ConditionSet, so Validate writes h: not for a hook others may
// be reading, such as an Index's). Whether the job is registered and
// whether the hook conflicts with others needs the buckets: see Store.Put.
func (h *Hook) Validate() error {
	if err := events.ValidateHookName(h.Name); err != nil {
		// The name error quotes the name; do not repeat a bad (maybe huge) name.
		return fmt.Errorf("%w: name: %w", ErrInvalidHook, err)
	}
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w %q: "+format, append([]any{ErrInvalidHook, h.Name}, args...)...)
	}

	if len(h.ContentTypes) == 0 {
		return invalid("content_types: at least one content type is required (e.g. [\"dcim.device\"])")
	}
	if err := validateContentTypes(h.ContentTypes); err != nil {
		return invalid("%w", err)
	}

	if err := events.ValidateJobName(h.Job); err != nil {
		return invalid("job: %w", err)
	}

	if len(h.Events) == 0 {
		return invalid("events: at least one event is required: create, update and/or delete")
	}
	for i, a := range h.Events {
		if _, err := events.ParseAction(string(a)); err != nil {
			return invalid("events[%d]: %w", i, err)
		}
		if j := slices.Index(h.Events[:i], a); j >= 0 {
			return invalid("events[%d]: %q is already events[%d]", i, a, j)
		}
	}

	if err := validateParams(h.Params); err != nil {
		return invalid("params: %w", err)
	}
	if err := validateChangedFields(h.ChangedFields); err != nil {
		return invalid("%w", err)
	}
	if err := h.compileConditions(); err != nil {
		return invalid("%w", err)
	}
	return nil
}

// validateParams accepts absent, null or a JSON object.
func validateParams(p json.RawMessage) error {
	if len(p) == 0 {
		return nil
	}
	if !json.Valid(p) {
		return errors.New("not valid JSON")
	}
	tok, err := json.NewDecoder(bytes.NewReader(p)).Token()
	if err != nil {
		return err
	}
	if tok != json.Delim('{') && tok != nil {
		return fmt.Errorf("want a JSON object (or null), got %s", describeToken(tok))
	}
	return nil
}

// Matches reports whether a change of contentType with action is one the
// hook is configured for, patterns included. It does not look at Enabled,
// nor at conditions, changed_fields or skip_noop (they need the change).
func (h *Hook) Matches(contentType string, action events.Action) bool {
	if !slices.Contains(h.Events, action) {
		return false
	}
	for _, p := range h.ContentTypes {
		if matchContentType(p, contentType) {
			return true
		}
	}
	return false
}

// Clone returns a deep copy of the hook, for callers that want to change a
// hook they did not decode themselves (an Index's hooks are shared).
func (h *Hook) Clone() *Hook {
	c := *h
	c.ContentTypes = slices.Clone(h.ContentTypes)
	c.Events = slices.Clone(h.Events)
	c.Params = slices.Clone(h.Params)
	c.Conditions = slices.Clone(h.Conditions)
	c.ChangedFields = slices.Clone(h.ChangedFields)
	if h.SkipNoop != nil {
		skip := *h.SkipNoop
		c.SkipNoop = &skip
	}
	// The compiled set is immutable and shared; its source is copied, so
	// that a change to one hook's Conditions is seen as such.
	c.compiled.source = slices.Clone(h.compiled.source)
	return &c
}

// decodeEntry decodes the value stored under key: a valid hook whose name
// is the key.
func decodeEntry(key string, value []byte) (*Hook, error) {
	h, err := DecodeHook(value)
	if err != nil {
		return nil, err
	}
	if h.Name != key {
		return nil, fmt.Errorf("%w %q: name %q does not match its key %q", ErrInvalidHook, key, h.Name, key)
	}
	return h, nil
}
