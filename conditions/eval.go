package conditions

import "strings"

// Input is what a Set is evaluated on: a change's object and snapshots,
// decoded from JSON into maps (numbers as float64 or json.Number; the
// events codec gives float64 where that is exact and json.Number where it
// is not, and both compare exactly). A nil map is absent.
type Input struct {
	// Data is the source's own serialization of the object (NetBox's
	// REST representation), what plain paths such as status.value read.
	Data map[string]any
	// Pre and Post are the prechange and postchange snapshots.
	Pre, Post map[string]any
}

// object is what plain paths read, NetBox's event data: Data, or, for a
// change without it, the object as the snapshots give it: postchange, or
// prechange on a delete (NetBox's data for a delete is the object as it
// was).
func (in *Input) object() map[string]any {
	switch {
	case in.Data != nil:
		return in.Data
	case in.Post != nil:
		return in.Post
	}
	return in.Pre
}

// Eval reports whether the change in matches s. When it does not, the
// Failure says which condition decided it and why; it is the zero Failure
// when Eval returns true. Eval allocates nothing for conditions on scalar
// values; paths through lists (tags.slug) allocate the mapped list.
//
// As in NetBox, a condition whose attr does not resolve, or whose value
// cannot be compared as its op asks, is invalid: the whole set is false,
// whatever negate or an enclosing "or" says (Failure.Invalid).
func (s *Set) Eval(in Input) (bool, Failure) {
	if s.Empty() {
		return true, Failure{}
	}
	var f Failure
	if ok, _ := s.root.eval(&in, &f); ok {
		return true, Failure{}
	}
	return false, f
}

// eval returns the node's result and whether evaluation was aborted by an
// invalid condition; on false, f describes why.
func (n *node) eval(in *Input, f *Failure) (result, abort bool) {
	switch n.logic {
	case logicAnd:
		for _, c := range n.children {
			if ok, abort := c.eval(in, f); !ok || abort {
				return false, abort
			}
		}
		return true, false
	case logicOr:
		var first Failure
		for i, c := range n.children {
			ok, abort := c.eval(in, f)
			if ok || abort {
				return ok, abort
			}
			if i == 0 {
				first = *f
			}
		}
		*f = first
		return false, false
	}
	return n.cond.eval(in, f)
}

func (c *condition) eval(in *Input, f *Failure) (result, abort bool) {
	if c.op.snapshot() {
		return c.evalSnapshots(in, f)
	}
	var (
		v      any
		st     walkStatus
		absent bool // a snapshot the change does not have: v is null
	)
	switch c.src {
	case srcObject:
		obj := in.object()
		if obj == nil {
			// Nothing to compare: false, and negate does not turn it into
			// a match (NetBox's AbsentData).
			*f = c.failure(ReasonAbsentData, nil)
			return false, false
		}
		if v, st = walk(obj, c.keys, false, true); st.failed() {
			return c.unresolved(f, v, st)
		}
	case srcPre, srcPost:
		snap, other := in.Pre, in.Post
		if c.src == srcPost {
			snap, other = other, snap
		}
		if snap == nil {
			// An absent snapshot reads as null, but only for a path the
			// other snapshot shows to be real: a typo must not match every
			// create or delete.
			if len(c.keys) > 0 && other != nil {
				if ov, st := walk(other, c.keys, true, true); st.failed() {
					return c.unresolved(f, ov, st)
				}
			}
			absent = true
			break
		}
		if v, st = walk(snap, c.keys, false, true); st.failed() {
			return c.unresolved(f, v, st)
		}
	case srcSnapshots:
		v = map[string]any{"prechange": orNil(in.Pre), "postchange": orNil(in.Post)}
	}
	var ok, mismatch bool
	if st.mapped {
		ok, mismatch = c.applyMapped(mappedList{v.([]any), c.keys[len(c.keys)-1]})
	} else {
		ok, mismatch = c.apply(v)
	}
	if mismatch {
		if !absent {
			*f = c.failure(ReasonTypeMismatch, v)
			f.mapped = st.mapped
			return false, true
		}
		ok = false // null compared by an op that needs a value: a non-match
	}
	if c.negate {
		ok = !ok
	}
	if !ok {
		*f = c.failure(ReasonFalse, v)
		f.mapped = st.mapped
	}
	return ok, false
}

// applyMapped is apply on the list a path's last key maps to (tags.slug),
// read item by item.
func (c *condition) applyMapped(l mappedList) (ok, mismatch bool) {
	switch c.op {
	case OpEq:
		return c.kind == kindList && l.equalList(c.list), false
	case OpIn:
		for _, e := range c.list {
			if el, isList := e.([]any); isList && l.equalList(el) {
				return true, false
			}
		}
		return false, false
	case OpContains:
		for i := range l.items {
			e := l.at(i)
			if c.kind == kindString {
				if s, isStr := e.(string); isStr && s == c.str {
					return true, false
				}
			} else if pyEqual(e, c.value) {
				return true, false
			}
		}
		return false, false
	}
	return false, true // a list cannot be ordered against a number or matched by a regex
}

// apply is the op on the resolved value v; mismatch reports a comparison
// Python would refuse with a TypeError.
func (c *condition) apply(v any) (ok, mismatch bool) {
	switch c.op {
	case OpEq:
		switch c.kind {
		case kindString:
			s, isStr := v.(string)
			return isStr && s == c.str, false
		case kindNull:
			return v == nil, false
		case kindNumber, kindBool:
			n, isNum := toNumber(v)
			if !isNum {
				return false, false
			}
			cmp, ok := cmpNumbers(n, c.num)
			return ok && cmp == 0, false
		}
		return pyEqual(v, c.value), false
	case OpGt, OpGte, OpLt, OpLte:
		n, isNum := toNumber(v)
		if !isNum {
			return false, true
		}
		cmp, ok := cmpNumbers(n, c.num)
		if !ok {
			return false, false // NaN: every comparison is false
		}
		switch c.op {
		case OpGt:
			return cmp > 0, false
		case OpGte:
			return cmp >= 0, false
		case OpLt:
			return cmp < 0, false
		}
		return cmp <= 0, false
	case OpIn:
		for _, e := range c.list {
			if pyEqual(v, e) {
				return true, false
			}
		}
		return false, false
	case OpContains:
		return c.contains(v)
	case OpRegex:
		s, isStr := v.(string)
		if !isStr {
			return false, true
		}
		return c.re.MatchString(s), false
	}
	return false, true
}

// contains is Python's `value in data`: a substring of a string, a member
// of a list, a key of an object; anything else is a TypeError.
func (c *condition) contains(v any) (ok, mismatch bool) {
	switch x := v.(type) {
	case string:
		if c.kind != kindString {
			return false, true
		}
		return strings.Contains(x, c.str), false
	case []any:
		if c.kind == kindString {
			for _, e := range x {
				if s, isStr := e.(string); isStr && s == c.str {
					return true, false
				}
			}
			return false, false
		}
		for _, e := range x {
			if pyEqual(e, c.value) {
				return true, false
			}
		}
		return false, false
	case map[string]any:
		switch c.kind {
		case kindString:
			_, ok := x[c.str]
			return ok, false
		case kindList:
			return false, true // a list is unhashable
		}
		return false, false // JSON keys are strings: no number or boolean is one
	}
	return false, true
}

// evalSnapshots is changed / unchanged: attr read in both snapshots and
// compared. A snapshot missing, lacking attr, or not walkable by it gives
// "missing", which differs from every value; attr must resolve in at least
// one snapshot, or the condition is invalid.
func (c *condition) evalSnapshots(in *Input, f *Failure) (result, abort bool) {
	if in.Pre == nil && in.Post == nil {
		*f = c.failure(ReasonNoSnapshots, nil)
		return false, true
	}
	pre, preSt := walkSnapshot(in.Pre, c.keys)
	post, postSt := walkSnapshot(in.Post, c.keys)
	if preSt.failed() && postSt.failed() {
		st, v := preSt, pre
		if in.Pre == nil || (st.reason == ReasonMissingKey && postSt.reason == ReasonNotAnObject) {
			st, v = postSt, post // report the unwalkable side, as NetBox does
		}
		f2 := c.failure(st.reason, v)
		f2.Key = c.keys[st.at]
		*f = f2
		return false, true
	}
	same := preSt.failed() == postSt.failed() && pyEqual(pre, post)
	ok := same == (c.op == OpUnchanged)
	if c.negate {
		ok = !ok
	}
	if !ok {
		*f = c.failure(ReasonFalse, nil)
		f.Before, f.After = pre, post
		f.BeforeMissing, f.AfterMissing = preSt.failed(), postSt.failed()
	}
	return ok, false
}

func walkSnapshot(snap map[string]any, keys []string) (any, walkStatus) {
	if snap == nil {
		return nil, walkStatus{reason: ReasonMissingKey}
	}
	return walk(snap, keys, true, false)
}

func (c *condition) unresolved(f *Failure, v any, st walkStatus) (bool, bool) {
	*f = c.failure(st.reason, v)
	f.Key = c.keys[st.at]
	return false, true
}

func (c *condition) failure(r Reason, v any) Failure {
	return Failure{Path: c.path, Reason: r, value: v, cond: c}
}

func orNil(m map[string]any) any {
	if m == nil {
		return nil
	}
	return m
}
