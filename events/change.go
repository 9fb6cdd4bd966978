package events

import (
	"errors"
	"fmt"
	"time"
)

// ErrInvalidChange is wrapped by every error that makes a change event
// unacceptable: the router dead-letters such events with the error's text.
var ErrInvalidChange = errors.New("invalid change")

// Change is the data of a change event: what happened to which object, who
// did it, and the object's state before and after.
type Change struct {
	Action      Action         `json:"action"`
	ContentType string         `json:"content_type"`
	ObjectID    string         `json:"object_id,omitempty"`
	ObjectRepr  string         `json:"object_repr,omitempty"`
	User        string         `json:"user,omitempty"`
	RequestID   string         `json:"request_id,omitempty"`
	Time        time.Time      `json:"time,omitzero"`
	PreChange   map[string]any `json:"prechange"`
	PostChange  map[string]any `json:"postchange"`
	// Data is the source's own full serialization of the object, when it
	// sent one: NetBox's and Nautobot's REST representation, kept by webhook
	// ingest. Optional; jobs and the webhook job prefer it to postchange.
	Data map[string]any `json:"data,omitempty"`
}

// Validate checks the change on its own: a valid action and content type;
// postchange present for create and update, absent for delete.
func (c *Change) Validate() error {
	return validateChange(c.ContentType, c.Action, c.PostChange != nil)
}

// ValidateFor checks the change and that its content type and action are the
// ones its subject names (changes.<content_type>.<action>).
func (c *Change) ValidateFor(subject string) error {
	return validateChangeFor(subject, c.ContentType, c.Action, c.PostChange != nil)
}

// validateChange is Change.Validate on what it checks, for the changes
// whose snapshots are not decoded (DecodeHead) as well.
func validateChange(contentType string, action Action, postChange bool) error {
	if err := ValidateContentType(contentType); err != nil {
		return fmt.Errorf("%w: content_type: %w", ErrInvalidChange, err)
	}
	if !action.Valid() {
		_, err := ParseAction(string(action))
		return fmt.Errorf("%w: action: %w", ErrInvalidChange, err)
	}
	switch action {
	case ActionCreate:
		if !postChange {
			return fmt.Errorf("%w: a create needs postchange (the new object)", ErrInvalidChange)
		}
	case ActionUpdate:
		if !postChange {
			return fmt.Errorf("%w: an update needs postchange (the object after the change)", ErrInvalidChange)
		}
	case ActionDelete:
		if postChange {
			return fmt.Errorf("%w: a delete must have postchange null (the object is gone); put its last state in prechange", ErrInvalidChange)
		}
	}
	return nil
}

// validateChangeFor is Change.ValidateFor on what it checks.
func validateChangeFor(subject, contentType string, action Action, postChange bool) error {
	subjectType, subjectAction, err := ParseChangeSubject(subject)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidChange, err)
	}
	if err := validateChange(contentType, action, postChange); err != nil {
		return err
	}
	if contentType != subjectType {
		return fmt.Errorf("%w: content_type %q does not match subject %q", ErrInvalidChange, contentType, subject)
	}
	if action != subjectAction {
		return fmt.Errorf("%w: action %q does not match subject %q", ErrInvalidChange, action, subject)
	}
	return nil
}

// Subject returns the subject the change belongs on.
func (c *Change) Subject() (string, error) {
	return ChangeSubject(c.ContentType, c.Action)
}
