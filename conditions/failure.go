package conditions

import (
	"fmt"
	"strings"
)

// Reason is why a condition did not match.
type Reason uint8

const (
	// ReasonNone: the change matched (the zero Failure).
	ReasonNone Reason = iota
	// ReasonFalse: the condition was evaluated and is false (after negate).
	ReasonFalse
	// ReasonAbsentData: the change has no object at all (no data, no
	// snapshots) for attr to read. False, and negate does not change it;
	// the rest of the set is still evaluated (NetBox's AbsentData).
	ReasonAbsentData
	// ReasonMissingKey: attr did not resolve: a key is missing or a null
	// is in the way. Invalid.
	ReasonMissingKey
	// ReasonNotAnObject: attr descends into a value that is neither an
	// object nor a list of objects (e.g. status.value on the raw string
	// status of a snapshot). Invalid.
	ReasonNotAnObject
	// ReasonNoSnapshots: changed / unchanged on a change with neither
	// snapshot. Invalid.
	ReasonNoSnapshots
	// ReasonTypeMismatch: the resolved value cannot be compared as op asks
	// (gt on a string, regex on a list, contains on a number). Invalid.
	ReasonTypeMismatch
)

func (r Reason) String() string {
	switch r {
	case ReasonNone:
		return "matched"
	case ReasonFalse:
		return "false"
	case ReasonAbsentData:
		return "absent data"
	case ReasonMissingKey:
		return "missing key"
	case ReasonNotAnObject:
		return "not an object"
	case ReasonNoSnapshots:
		return "no snapshots"
	case ReasonTypeMismatch:
		return "type mismatch"
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// Failure is why a Set did not match a change: the condition that decided
// it (for an "or", the first alternative tried; for an invalid condition,
// that one) and what its attr resolved to.
type Failure struct {
	// Path is the JSON path of the condition in the set, e.g.
	// "conditions.or[0].and[1]".
	Path   string
	Reason Reason
	// Key is the key of attr at which the path stopped, when it did not
	// resolve.
	Key string
	// Before and After are attr in the prechange and postchange snapshots,
	// for changed / unchanged; BeforeMissing / AfterMissing say that it did
	// not resolve there.
	Before, After               any
	BeforeMissing, AfterMissing bool

	value  any
	mapped bool // value is the list attr's last key maps over
	cond   *condition
}

// Value is what attr resolved to (ReasonFalse, ReasonTypeMismatch), or the
// value the path could not descend (ReasonMissingKey: the object lacking
// Key; ReasonNotAnObject: the scalar or list in the way). A path whose last
// key maps over a list (tags.slug) is built here, from the Input's maps:
// call Value before changing them.
func (f Failure) Value() any {
	if f.mapped {
		return mappedList{f.value.([]any), f.cond.keys[len(f.cond.keys)-1]}.materialize()
	}
	return f.value
}

// Invalid reports that the condition could not be evaluated (attr did not
// resolve, or its value had the wrong type): NetBox logs these as errors,
// and the whole set is false.
func (f Failure) Invalid() bool { return f.Reason >= ReasonMissingKey }

// Unresolved reports that attr did not resolve on the change: a missing
// key, a path through a scalar, or no snapshots for changed / unchanged.
// Callers log these (once per hook per while, not per change): they are
// usually a typo, or a path of NetBox's REST data on a change that has none.
func (f Failure) Unresolved() bool {
	return f.Reason == ReasonMissingKey || f.Reason == ReasonNotAnObject || f.Reason == ReasonNoSnapshots
}

// Attr is the failing condition's attr; Op its operator.
func (f Failure) Attr() string {
	if f.cond == nil {
		return ""
	}
	return f.cond.attr
}

// Op is the failing condition's operator.
func (f Failure) Op() Op {
	if f.cond == nil {
		return ""
	}
	return f.cond.op
}

// Condition is the failing condition in short form, e.g.
// `status.value not in ["planned","staging"]`.
func (f Failure) Condition() string {
	if f.cond == nil {
		return ""
	}
	return f.cond.String()
}

// String says in one line why the set did not match, for logs and for
// `router hooks test`. It formats on demand; Eval does not.
func (f Failure) String() string {
	if f.Reason == ReasonNone {
		return "matched"
	}
	if f.cond == nil {
		return f.Reason.String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s: ", f.Path, f.cond)
	switch f.Reason {
	case ReasonFalse:
		if f.cond.op.snapshot() {
			fmt.Fprintf(&b, "false: before %s, after %s", snapText(f.Before, f.BeforeMissing), snapText(f.After, f.AfterMissing))
		} else {
			fmt.Fprintf(&b, "false: %s is %s", f.cond.attr, jsonText(f.Value()))
		}
	case ReasonAbsentData:
		b.WriteString("the change has no object (no data, postchange or prechange)")
	case ReasonMissingKey:
		fmt.Fprintf(&b, "%s did not resolve: no key %q", f.cond.attr, f.Key)
	case ReasonNotAnObject:
		fmt.Fprintf(&b, "%s did not resolve: cannot read key %q in %s (%s)", f.cond.attr, f.Key, aTypeName(f.Value()), clip(jsonText(f.Value())))
		if f.cond.src != srcObject || f.cond.op.snapshot() {
			b.WriteString("; snapshots hold raw field values, so choice fields have no .value")
		}
	case ReasonNoSnapshots:
		b.WriteString("the change has neither a prechange nor a postchange snapshot")
	case ReasonTypeMismatch:
		fmt.Fprintf(&b, "%q cannot compare %s (%s)", f.cond.op, aTypeName(f.Value()), clip(jsonText(f.Value())))
	}
	return b.String()
}

func snapText(v any, missing bool) string {
	if missing {
		return "(missing)"
	}
	return clip(jsonText(v))
}

// clip keeps messages about large values to one readable line.
func clip(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
