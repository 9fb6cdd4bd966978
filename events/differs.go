package events

import (
	"bytes"
	"encoding/json"
)

// Differs reports whether the change's differences (Snapshots) are not
// empty or, given keys, whether one of those top-level keys is among them:
// what a hook's skip_noop and changed_fields ask of an update. It answers
// as Snapshots does, but for an update that arrived with both snapshots it
// compares them as they arrived, member by member, without decoding them
// into maps: values with the same bytes are equal, strings without escapes
// with different bytes differ, and only other values that differ in bytes
// (1 and 1.0, nested objects) are decoded and compared as Snapshots
// compares them. Anything else is decoded in full (Change).
func (h *ChangeHead) Differs(keys ...string) (bool, error) {
	if d, ok := h.DiffersRaw(keys...); ok {
		return d, nil
	}
	c, err := h.Change()
	if err != nil {
		return false, err
	}
	return DiffersIn(c.Snapshots().Differences, keys...), nil
}

// DiffersRaw is Differs without the full decode: ok is false when Differs
// would decode the change (not an update with both snapshots as they
// arrived, a member name with an escape, or more than maxRawMembers members
// on a side), and the caller is to answer from Snapshots (DiffersIn), so
// that it can decode the change once for several questions.
func (h *ChangeHead) DiffersRaw(keys ...string) (differs, ok bool) {
	if h.raw && h.Action == ActionUpdate && h.pre != nil && h.post != nil {
		return differsRaw(h.pre, h.post, keys)
	}
	return false, false
}

// DiffersIn answers Differs from a change's Differences (Snapshots).
func DiffersIn(d Differences, keys ...string) bool {
	if len(keys) == 0 {
		return len(d.Added) > 0 || len(d.Removed) > 0
	}
	for _, k := range keys {
		_, added := d.Added[k]
		_, removed := d.Removed[k]
		if added || removed {
			return true
		}
	}
	return false
}

// member is a member of a JSON object as it arrived.
type member struct{ name, value []byte }

// maxRawMembers bounds the members differsRaw compares on a side: it looks
// members up by scanning (lastMember), quadratic in their number, so larger
// objects (outside input) are left to Snapshots, which is linear.
const maxRawMembers = 64

// differsRaw is Differs on two JSON objects, before and after. It reports
// false for ok when it leaves them to Snapshots: a member name with an
// escape, which may spell a name written plainly elsewhere, or more than
// maxRawMembers members on a side.
func differsRaw(before, after []byte, keys []string) (differs, ok bool) {
	var preBuf, postBuf [maxRawMembers]member
	pre, ok := appendMembers(preBuf[:0], before)
	if !ok {
		return false, false
	}
	post, ok := appendMembers(postBuf[:0], after)
	if !ok {
		return false, false
	}
	if len(keys) > 0 {
		for _, k := range keys {
			if ignoredKeys[k] {
				continue
			}
			oldValue, existed := lastMember(pre, k)
			newValue, exists := lastMember(post, k)
			if existed != exists || exists && !equalRaw(oldValue, newValue) {
				return true, true
			}
		}
		return false, true
	}
	for i, m := range post {
		if ignoredKeys[string(m.name)] {
			continue
		}
		oldValue, existed := lastMember(pre, string(m.name))
		if existed && equalRaw(oldValue, m.value) {
			continue
		}
		// A member whose name comes again later is not the value
		// encoding/json keeps: the last one is, and is compared in turn.
		if _, again := lastMember(post[i+1:], string(m.name)); !again {
			return true, true
		}
	}
	for _, m := range pre {
		if _, kept := lastMember(post, string(m.name)); !kept && !ignoredKeys[string(m.name)] {
			return true, true
		}
	}
	return false, true
}

// appendMembers appends the members of obj, a valid JSON object, to ms. It
// reports false when a member name holds an escape, or when ms would hold
// more than maxRawMembers members (it stops there: no scan of the rest).
func appendMembers(ms []member, obj []byte) ([]member, bool) {
	i := skipSpace(obj, 1)
	if obj[i] == '}' {
		return ms, true
	}
	for {
		end := stringEnd(obj, i)
		name := obj[i+1 : end-1]
		if bytes.IndexByte(name, '\\') >= 0 {
			return nil, false
		}
		i = skipSpace(obj, skipSpace(obj, end)+1) // past the ':'
		end = valueEnd(obj, i)
		if len(ms) == maxRawMembers {
			return nil, false
		}
		ms = append(ms, member{name: name, value: obj[i:end]})
		if i = skipSpace(obj, end); obj[i] == '}' {
			return ms, true
		}
		i = skipSpace(obj, i+1) // past the ','
	}
}

// lastMember returns the value of the last member named name: the one
// encoding/json keeps when a name comes more than once.
func lastMember(ms []member, name string) ([]byte, bool) {
	for i := len(ms) - 1; i >= 0; i-- {
		if string(ms[i].name) == name {
			return ms[i].value, true
		}
	}
	return nil, false
}

// equalRaw reports whether two valid JSON values are equal as equalJSON
// compares them decoded.
func equalRaw(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	if plainString(a) && plainString(b) {
		return false // the same string is written one way without escapes
	}
	av, aok := decodeValue(a)
	bv, bok := decodeValue(b)
	return aok && bok && equalJSON(av, bv)
}

// plainString reports whether v is a JSON string without escapes.
func plainString(v []byte) bool {
	return v[0] == '"' && bytes.IndexByte(v, '\\') < 0
}

func decodeValue(v []byte) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	var out any
	return out, dec.Decode(&out) == nil
}
