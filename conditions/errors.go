package conditions

import "errors"

// Sentinel errors, wrapped by the *Error Compile returns, so callers can
// tell problems apart with errors.Is.
var (
	// ErrSyntax: the conditions are not one JSON value.
	ErrSyntax = errors.New("not valid JSON")
	// ErrShape: a JSON value of the wrong kind where a condition, a set,
	// or a field was expected.
	ErrShape = errors.New("wrong JSON type")
	// ErrUnknownKey: a key a condition does not have.
	ErrUnknownKey = errors.New("unknown key")
	// ErrEmptySet: an "and" or "or" with no conditions.
	ErrEmptySet = errors.New("empty condition set")
	// ErrAttr: a missing, empty or malformed "attr".
	ErrAttr = errors.New("bad attr")
	// ErrUnknownOp: an "op" that is not one of the operators.
	ErrUnknownOp = errors.New("unknown op")
	// ErrOpNotAllowed: an "op" the value's type does not allow.
	ErrOpNotAllowed = errors.New("op not allowed for the value's type")
	// ErrValueRequired: an operator that compares with a value has none.
	ErrValueRequired = errors.New("value required")
	// ErrValueNotTaken: changed / unchanged given a value.
	ErrValueNotTaken = errors.New("value not taken")
	// ErrValueType: a value of a type no operator takes (an object).
	ErrValueType = errors.New("unsupported value type")
	// ErrRegex: a regex value Go's RE2 engine cannot compile.
	ErrRegex = errors.New("bad regex")
)

// Error is a refused condition: Path is the JSON path of the problem, from
// "conditions" (e.g. "conditions.and[1].op"), and Err says what it is; it
// wraps one of the sentinel errors.
type Error struct {
	Path string
	Err  error
}

func (e *Error) Error() string { return e.Path + ": " + e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// problem is an error whose text is msg and which wraps a sentinel, so an
// *Error reads as the exact problem yet still matches errors.Is.
type problem struct {
	msg string
	is  error
}

func (p *problem) Error() string { return p.msg }

func (p *problem) Unwrap() error { return p.is }
