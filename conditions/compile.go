package conditions

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Root is the JSON path Compile's errors start from: the hook field.
const Root = "conditions"

// Compile parses and checks a condition set as NetBox's event rules take
// it: a condition, or {"and": [...]} / {"or": [...]} (one key, any case)
// nesting conditions and sets. Empty input, null and {} are no conditions:
// the Set matches every change. A refused set returns an *Error naming the
// JSON path of the first problem found (keys are checked in sorted order,
// so the same input always reports the same problem).
func Compile(raw []byte) (*Set, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return &Set{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, &Error{Path: Root, Err: fmt.Errorf("%w: %w", ErrSyntax, err)}
	}
	if rest := bytes.TrimLeft(raw[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return nil, &Error{Path: Root, Err: fmt.Errorf("%w: more data after the conditions, at byte %d", ErrSyntax, len(raw)-len(rest))}
	}
	return compileValue(v)
}

// CompileValue is Compile on conditions already decoded from JSON (numbers
// as json.Number or float64), e.g. a field of a hook decoded as any.
func CompileValue(v any) (*Set, error) { return compileValue(v) }

func compileValue(v any) (*Set, error) {
	if v == nil {
		return &Set{}, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &Error{Path: Root, Err: &problem{
			msg: fmt.Sprintf("must be an object (a condition, or an \"and\"/\"or\" set), not %s", aTypeName(v)),
			is:  ErrShape}}
	}
	if len(m) == 0 {
		return &Set{}, nil
	}
	s := &Set{}
	root, err := s.compileNode(m, Root)
	if err != nil {
		return nil, err
	}
	s.root = root
	return s, nil
}

// setKey returns the and/or key of m, if m is a set: one key, "and" or "or"
// in any case.
func setKey(m map[string]any) (string, logic, bool) {
	if len(m) != 1 {
		return "", 0, false
	}
	for k := range m {
		switch strings.ToLower(k) {
		case "and":
			return k, logicAnd, true
		case "or":
			return k, logicOr, true
		}
		return k, 0, false
	}
	return "", 0, false
}

func (s *Set) compileNode(v any, path string) (*node, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &Error{Path: path, Err: &problem{
			msg: fmt.Sprintf("must be an object (a condition, or an \"and\"/\"or\" set), not %s", aTypeName(v)),
			is:  ErrShape}}
	}
	key, lg, isSet := setKey(m)
	if !isSet {
		if len(m) == 1 && !slices.Contains(conditionKeys, key) {
			return nil, &Error{Path: path + "." + key, Err: &problem{
				msg: fmt.Sprintf("unknown key %q: a set has one key, \"and\" or \"or\"; a condition has %s", key, strings.Join(conditionKeys, ", ")),
				is:  ErrUnknownKey}}
		}
		c, err := compileCondition(m, path)
		if err != nil {
			return nil, err
		}
		if c.src == srcObject && !c.op.snapshot() {
			s.needsData = true
		} else {
			s.needsSnapshots = true
		}
		return &node{logic: logicCond, cond: c}, nil
	}
	path += "." + key
	list, ok := m[key].([]any)
	if !ok {
		return nil, &Error{Path: path, Err: &problem{
			msg: fmt.Sprintf("must be a list of conditions, not %s", aTypeName(m[key])), is: ErrShape}}
	}
	if len(list) == 0 {
		return nil, &Error{Path: path, Err: &problem{
			msg: fmt.Sprintf("%q needs at least one condition", key), is: ErrEmptySet}}
	}
	n := &node{logic: lg, children: make([]*node, len(list))}
	for i, e := range list {
		child, err := s.compileNode(e, path+"["+strconv.Itoa(i)+"]")
		if err != nil {
			return nil, err
		}
		n.children[i] = child
	}
	return n, nil
}

var conditionKeys = []string{"attr", "value", "op", "negate"}

func compileCondition(m map[string]any, path string) (*condition, error) {
	fail := func(key string, is error, format string, args ...any) error {
		return &Error{Path: path + "." + key, Err: &problem{msg: fmt.Sprintf(format, args...), is: is}}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if slices.Contains(conditionKeys, k) {
			continue
		}
		if l := strings.ToLower(k); l == "and" || l == "or" {
			return nil, fail(k, ErrUnknownKey, "%q with other keys: a set has exactly one key, \"and\" or \"or\"", k)
		}
		return nil, fail(k, ErrUnknownKey, "unknown key %q: a condition has %s", k, strings.Join(conditionKeys, ", "))
	}
	c := &condition{path: path, op: OpEq}

	attr, ok := m["attr"]
	if !ok {
		return nil, &Error{Path: path, Err: &problem{msg: `a condition needs "attr"`, is: ErrAttr}}
	}
	if c.attr, ok = attr.(string); !ok {
		return nil, fail("attr", ErrShape, "must be a string, not %s", aTypeName(attr))
	}
	if op, ok := m["op"]; ok {
		s, isStr := op.(string)
		if !isStr {
			return nil, fail("op", ErrShape, "must be a string, not %s", aTypeName(op))
		}
		c.op = Op(s)
		if !c.op.known() {
			return nil, fail("op", ErrUnknownOp, "unknown op %q: one of %s", s, joinOps(ops))
		}
	}
	if neg, ok := m["negate"]; ok && neg != nil {
		b, isBool := neg.(bool)
		if !isBool {
			return nil, fail("negate", ErrShape, "must be true or false, not %s", aTypeName(neg))
		}
		c.negate = b
	}
	if err := c.compileAttr(fail); err != nil {
		return nil, err
	}

	value, hasValue := m["value"]
	if c.op.snapshot() {
		if hasValue {
			return nil, fail("value", ErrValueNotTaken, "%q takes no value: it compares attr between the prechange and postchange snapshots", c.op)
		}
		return c, nil
	}
	if !hasValue {
		return nil, &Error{Path: path, Err: &problem{msg: fmt.Sprintf("%q needs a value", c.op), is: ErrValueRequired}}
	}
	k, ok := kindOf(value)
	if !ok {
		return nil, fail("value", ErrValueType, "%s value is not supported: use a string, number, boolean, list or null", aTypeName(value))
	}
	if !k.allows(c.op) {
		return nil, fail("op", ErrOpNotAllowed, "%q is not allowed for a %s value (a %s value allows %s)", c.op, k, k, joinOps(allowed[k]))
	}
	c.kind = k
	c.value = normalize(value)
	switch k {
	case kindString:
		c.str = value.(string)
		if c.op == OpRegex {
			re, err := compileRegex(c.str)
			if err != nil {
				return nil, &Error{Path: path + ".value", Err: err}
			}
			c.re = re
		}
	case kindNumber, kindBool:
		n, ok := toNumber(c.value)
		if !ok {
			return nil, fail("value", ErrShape, "%s is not a number", jsonText(value))
		}
		c.num = n
	case kindList:
		c.list = c.value.([]any)
	}
	return c, nil
}

// compileAttr splits attr into its source and keys. It refuses what can
// never resolve: an empty attr or key, a snapshots.<x> path with x neither
// prechange nor postchange, and (as NetBox does) a snapshot path with
// changed/unchanged, which read attr inside each snapshot themselves.
func (c *condition) compileAttr(fail func(string, error, string, ...any) error) error {
	if c.attr == "" {
		return fail("attr", ErrAttr, "must not be empty")
	}
	keys := strings.Split(c.attr, ".")
	if slices.Contains(keys, "") {
		return fail("attr", ErrAttr, "%q has an empty key: keys are separated by single dots", c.attr)
	}
	if c.op.snapshot() {
		if strings.HasPrefix(c.attr, "snapshots.") {
			return fail("attr", ErrAttr, "%q reads attr in each snapshot itself: use the bare attribute (e.g. \"status\"), not a snapshots. path", c.op)
		}
		c.src, c.keys = srcObject, keys
		return nil
	}
	if keys[0] != "snapshots" {
		c.src, c.keys = srcObject, keys
		return nil
	}
	switch {
	case len(keys) == 1:
		c.src = srcSnapshots
	case keys[1] == "prechange":
		c.src, c.keys = srcPre, keys[2:]
	case keys[1] == "postchange":
		c.src, c.keys = srcPost, keys[2:]
	default:
		return fail("attr", ErrAttr, "%q: a snapshot path is snapshots.prechange.<attr> or snapshots.postchange.<attr>", c.attr)
	}
	return nil
}

// jsonText is v as compact JSON, for messages.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
