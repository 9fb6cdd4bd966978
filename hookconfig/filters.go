package hookconfig

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/jobhooks/jobhooks/conditions"
)

// maxFieldName bounds a changed_fields name: a top-level key of a NetBox or
// Nautobot object is a Python attribute name, far shorter.
const maxFieldName = 100

// compiledConditions is a hook's compiled condition set and the Conditions
// it was compiled from, so that validating an unchanged hook again (Store.Put
// after DecodeHook) does not compile again, and a changed one does.
type compiledConditions struct {
	source []byte
	set    *conditions.Set
}

// compileConditions compiles h.Conditions unless the set compiled last is
// of the same text. A refused set is an error naming its JSON path
// (conditions.and[1].op: ...).
func (h *Hook) compileConditions() error {
	if h.compiled.set != nil && bytes.Equal(h.compiled.source, h.Conditions) {
		return nil
	}
	if len(h.Conditions) == 0 {
		h.compiled = compiledConditions{}
		return nil
	}
	set, err := conditions.Compile(h.Conditions)
	if err != nil {
		return err // *conditions.Error: its text starts with the path
	}
	h.compiled = compiledConditions{source: slices.Clone(h.Conditions), set: set}
	return nil
}

// ConditionSet returns the hook's compiled conditions, nil if it has none.
// It is compiled by Validate (which DecodeHook and Store.Put call), once per
// change of Conditions; a hook whose Conditions changed since, or were
// never validated, returns nil: validate it first. The Set is immutable
// and safe for concurrent use.
func (h *Hook) ConditionSet() *conditions.Set {
	if len(h.Conditions) == 0 || !bytes.Equal(h.compiled.source, h.Conditions) {
		return nil
	}
	return h.compiled.set
}

// SkipsNoop reports whether an update without differences is skipped:
// SkipNoop, true when absent.
func (h *Hook) SkipsNoop() bool { return h.SkipNoop == nil || *h.SkipNoop }

// validateChangedFields checks changed_fields: absent, or at least one
// top-level key name, each listed once.
func validateChangedFields(fields []string) error {
	if fields == nil {
		return nil
	}
	if len(fields) == 0 {
		return fmt.Errorf("changed_fields: at least one field name, or leave the field out (every update)")
	}
	seen := make(map[string]int, len(fields))
	for i, f := range fields {
		if err := validateFieldName(f); err != nil {
			return fmt.Errorf("changed_fields[%d]: %w", i, err)
		}
		if why, never := neverDiffers[f]; never {
			return fmt.Errorf("changed_fields[%d]: %q %s, so it never counts as changed: leave it out", i, f, why)
		}
		if j, dup := seen[f]; dup {
			return fmt.Errorf("changed_fields[%d]: %q is already changed_fields[%d]", i, f, j)
		}
		seen[f] = i
	}
	return nil
}

// neverDiffers are the keys whose change alone the router does not count
// as a difference (events' ignoredKeys), with why: listed alone in
// changed_fields they would never count as changed.
var neverDiffers = map[string]string{
	"last_updated": "is ignored when snapshots are compared (it changes on every save)",
}

// validateFieldName accepts ^[A-Za-z_][A-Za-z0-9_]{0,99}$: the names of a
// serialized object's top-level keys. Dots are refused with a pointer to
// conditions, which take nested paths.
func validateFieldName(f string) error {
	ok := f != "" && len(f) <= maxFieldName && !isDigit(f[0])
	for i := 0; ok && i < len(f); i++ {
		c := f[i]
		ok = c == '_' || isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
	}
	switch {
	case ok:
		return nil
	case len(f) > maxFieldName:
		return fmt.Errorf("a field name of %d bytes: want at most %d", len(f), maxFieldName)
	case strings.Contains(f, "."):
		return fmt.Errorf("%q: a top-level key only; for a nested value use conditions with op \"changed\" (snapshots paths)", f)
	}
	return fmt.Errorf("%q: want a top-level key of the object, ^[A-Za-z_][A-Za-z0-9_]{0,99}$ (e.g. serial)", f)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
