package conditions

import (
	"regexp"
	"strings"
)

// Set is a compiled condition set. The zero of *Set (nil) and the Set of
// empty conditions match every change. A Set is immutable and safe for
// concurrent use.
type Set struct {
	root           *node
	needsData      bool
	needsSnapshots bool
}

// Empty reports whether s has no conditions, so matches every change.
func (s *Set) Empty() bool { return s == nil || s.root == nil }

// NeedsData reports whether a condition reads the change's object: Data,
// or postchange (then prechange) when the change has no data. A router can
// skip decoding the object for sets that do not.
func (s *Set) NeedsData() bool { return s != nil && s.needsData }

// NeedsSnapshots reports whether a condition reads a snapshot
// (snapshots.* paths, changed, unchanged).
func (s *Set) NeedsSnapshots() bool { return s != nil && s.needsSnapshots }

// logic is a node's kind: a condition, or an and/or of children.
type logic uint8

const (
	logicCond logic = iota
	logicAnd
	logicOr
)

type node struct {
	logic    logic
	children []*node
	cond     *condition
}

// source is where a condition's attr is read.
type source uint8

const (
	// srcObject: the change's object (Data, else postchange, else prechange).
	srcObject source = iota
	// srcPre, srcPost: snapshots.prechange.<keys> / snapshots.postchange.<keys>.
	srcPre
	srcPost
	// srcSnapshots: "snapshots" itself, {"prechange": ..., "postchange": ...}.
	srcSnapshots
)

// condition is one compiled {"attr", "value", "op", "negate"}.
type condition struct {
	path   string // JSON path of the condition in the set, for Failures
	attr   string
	keys   []string // attr's keys below its source
	src    source
	op     Op
	negate bool

	kind  kind
	value any // normalized value, as Failures show it
	str   string
	num   number
	list  []any
	re    *regexp.Regexp
}

func (c *condition) String() string {
	var b strings.Builder
	b.WriteString(c.attr)
	b.WriteByte(' ')
	if c.negate {
		b.WriteString("not ")
	}
	b.WriteString(string(c.op))
	if !c.op.snapshot() {
		b.WriteByte(' ')
		b.WriteString(jsonText(c.value))
	}
	return b.String()
}
