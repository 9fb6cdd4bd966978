package events

import (
	"errors"
	"fmt"
	"strings"
)

// Errors returned by the name validators. They are wrapped with the offending
// value, so test with errors.Is.
var (
	ErrInvalidContentType = errors.New("invalid content type")
	ErrInvalidAction      = errors.New("invalid action")
	ErrInvalidJobName     = errors.New("invalid job name")
	ErrInvalidHookName    = errors.New("invalid hook name")
	ErrInvalidChangeID    = errors.New("invalid change id")
)

// Action is what happened to an object.
type Action string

// The three actions of Nautobot's ObjectChange and NetBox's event types.
const (
	ActionCreate Action = "create"
	ActionUpdate Action = "update"
	ActionDelete Action = "delete"
)

// Actions lists every valid action, in the order users see them.
var Actions = [...]Action{ActionCreate, ActionUpdate, ActionDelete}

// Valid reports whether a is one of the three actions.
func (a Action) Valid() bool {
	return a == ActionCreate || a == ActionUpdate || a == ActionDelete
}

// ParseAction returns the Action named s.
func ParseAction(s string) (Action, error) {
	a := Action(s)
	if !a.Valid() {
		return "", fmt.Errorf("%w %q: want create, update or delete", ErrInvalidAction, s)
	}
	return a, nil
}

// MaxChangeIDLen is the longest change id (CloudEvent id) accepted, in bytes.
const MaxChangeIDLen = 256

// The name rules are checked with byte loops, not regular expressions:
// the router checks a change's content type on every change it routes. The
// patterns the loops implement are in each function's comment (and in
// names_test.go, which holds them to it).

// ValidateContentType checks that ct is "<app_label>.<model>", each token
// matching ^[a-z][a-z0-9_]*$ (for example "dcim.device").
func ValidateContentType(ct string) error {
	app, model, ok := strings.Cut(ct, ".")
	if !ok || !isContentTypeToken(app) || !isContentTypeToken(model) {
		return fmt.Errorf("%w %q: want <app_label>.<model>, lower-case tokens matching [a-z][a-z0-9_]* (e.g. dcim.device)", ErrInvalidContentType, ct)
	}
	return nil
}

// ValidateJobName checks a job name: ^[a-z0-9][a-z0-9_-]{0,63}$, so that it
// is both a subject token (jobs.<job>) and a consumer name (receiver-<job>).
func ValidateJobName(name string) error {
	if !isJobName(name) {
		return fmt.Errorf("%w %q: want 1-64 characters of a-z, 0-9, '_' and '-', starting with a letter or digit", ErrInvalidJobName, name)
	}
	return nil
}

// ValidateHookName checks a hook name: ^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$. It
// is also the hook's key in the job_hooks bucket.
func ValidateHookName(name string) error {
	if !isHookName(name) {
		return fmt.Errorf("%w %q: want 1-128 characters of A-Z, a-z, 0-9, '_' and '-', starting with a letter or digit", ErrInvalidHookName, name)
	}
	return nil
}

// isContentTypeToken: ^[a-z][a-z0-9_]*$.
func isContentTypeToken(s string) bool {
	if s == "" || !isLower(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isLower(c) && !isDigit(c) && c != '_' {
			return false
		}
	}
	return true
}

// isJobName: ^[a-z0-9][a-z0-9_-]{0,63}$.
func isJobName(s string) bool {
	if s == "" || len(s) > 64 || !isLower(s[0]) && !isDigit(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isLower(c) && !isDigit(c) && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// isHookName: ^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$.
func isHookName(s string) bool {
	if s == "" || len(s) > 128 || !isAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isAlnum(c byte) bool { return isLower(c) || 'A' <= c && c <= 'Z' || isDigit(c) }

// ValidateChangeID checks a change id (the CloudEvent id): non-empty and at
// most MaxChangeIDLen bytes.
func ValidateChangeID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: it is empty", ErrInvalidChangeID)
	case len(id) > MaxChangeIDLen:
		return fmt.Errorf("%w: %d bytes, at most %d allowed", ErrInvalidChangeID, len(id), MaxChangeIDLen)
	}
	return nil
}
