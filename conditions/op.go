package conditions

import "strings"

// Op is a condition's operator.
type Op string

// The operators, as NetBox names them.
const (
	OpEq        Op = "eq"
	OpGt        Op = "gt"
	OpGte       Op = "gte"
	OpLt        Op = "lt"
	OpLte       Op = "lte"
	OpIn        Op = "in"
	OpContains  Op = "contains"
	OpRegex     Op = "regex"
	OpChanged   Op = "changed"
	OpUnchanged Op = "unchanged"
)

// ops is every operator in NetBox's order, for messages.
var ops = []Op{OpEq, OpGt, OpGte, OpLt, OpLte, OpIn, OpContains, OpRegex, OpChanged, OpUnchanged}

func (o Op) known() bool {
	for _, k := range ops {
		if o == k {
			return true
		}
	}
	return false
}

// snapshot reports whether o compares the two snapshots and takes no value.
func (o Op) snapshot() bool { return o == OpChanged || o == OpUnchanged }

// kind is the JSON type of a condition's value, which decides the
// operators it allows (NetBox's Condition.TYPES).
type kind uint8

const (
	kindNull kind = iota
	kindString
	kindBool
	kindNumber
	kindList
)

func (k kind) String() string {
	return [...]string{"null", "string", "boolean", "number", "list"}[k]
}

// allowed is Condition.TYPES: the operators each value type allows.
var allowed = [...][]Op{
	kindNull:   {OpEq},
	kindString: {OpEq, OpContains, OpRegex},
	kindBool:   {OpEq, OpContains},
	kindNumber: {OpEq, OpGt, OpGte, OpLt, OpLte, OpContains},
	kindList:   {OpEq, OpIn, OpContains},
}

func (k kind) allows(o Op) bool {
	for _, a := range allowed[k] {
		if a == o {
			return true
		}
	}
	return false
}

func joinOps(list []Op) string {
	s := make([]string, len(list))
	for i, o := range list {
		s[i] = string(o)
	}
	return strings.Join(s, ", ")
}
