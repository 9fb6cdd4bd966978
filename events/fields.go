package events

import (
	"bytes"
	"encoding/json"
	"reflect"
	"time"
)

// changeFields is Change with the fields that are only checked, not kept,
// as jsonKind (fields_test.go holds its names and types to Change's): what
// readMembers reads of an ordinary change without building the snapshots'
// maps, and, of any other, what decode keeps of the Change it decodes.
type changeFields struct {
	Action      Action    `json:"action"`
	ContentType string    `json:"content_type"`
	ObjectID    string    `json:"object_id"`
	ObjectRepr  jsonKind  `json:"object_repr"`
	User        jsonKind  `json:"user"`
	RequestID   jsonKind  `json:"request_id"`
	Time        time.Time `json:"time"`
	PreChange   jsonKind  `json:"prechange"`
	PostChange  jsonKind  `json:"postchange"`
	Data        jsonKind  `json:"data"`

	// raw says readMembers read the change: pre and post are then
	// prechange and postchange as they arrived when each is an object (nil
	// otherwise), what ChangeHead.Differs compares without decoding them.
	raw       bool
	pre, post []byte
}

// changeFieldNames are the JSON names of changeFields.
var changeFieldNames = func() (names [][]byte) {
	t := reflect.TypeFor[changeFields]()
	for i := range t.NumField() {
		if name := t.Field(i).Tag.Get("json"); name != "" {
			names = append(names, []byte(name))
		}
	}
	return names
}()

// decode reads data as decodeJSONData reads a Change, and accepts and
// refuses exactly what it does, with its errors.
//
// A change as publishers write it (an object whose members are spelt as
// Change names them, each once) is read in three passes: checkUTF8,
// json.Valid, then readMembers, which only has to find where each member
// ends. Anything else is decoded into a Change by decodeJSONData, as
// Decode decodes it, so that what is accepted or refused, and why, is
// Decode's by construction; ordinary changes do not take that way because
// it costs more (encoding/json checks the data, decodes it and builds each
// snapshot's map), which made it most of the cost of routing a change.
//
// contentType and action are the subject's, which the data's should
// match: they are kept when they do, rather than allocated again.
func (f *changeFields) decode(data []byte, contentType string, action Action) error {
	if checkUTF8(data) == nil && json.Valid(data) && f.readMembers(data, contentType, action) {
		f.raw = true
		return nil
	}
	var c Change
	if err := decodeJSONData(data, &c); err != nil {
		return err
	}
	*f = changeFields{Action: c.Action, ContentType: c.ContentType, ObjectID: c.ObjectID, PostChange: kindNull}
	if c.PostChange != nil {
		f.PostChange = kindObject
	}
	return nil
}

// readMembers reads the members of data, valid JSON, into f as
// encoding/json would read them into a Change. It reports false, having
// read a part of them, when data holds what it leaves to encoding/json: a
// top level that is not an object, a member name that encoding/json might
// match to a field by case folding, a field's name twice (encoding/json
// remembers an earlier member of the wrong type), or a value of a kind the
// field refuses.
func (f *changeFields) readMembers(data []byte, contentType string, action Action) bool {
	i := skipSpace(data, 0)
	if data[i] != '{' {
		return false
	}
	if i = skipSpace(data, i+1); data[i] == '}' {
		return true
	}
	var seen uint16 // a bit for each field read
	for {
		end := stringEnd(data, i) // data[i] opens a member name: data is valid
		name := data[i+1 : end-1]
		i = skipSpace(data, skipSpace(data, end)+1) // past the ':'
		end = valueEnd(data, i)
		if !f.set(name, data[i:end], contentType, action, &seen) {
			return false
		}
		if i = skipSpace(data, end); data[i] == '}' {
			return true
		}
		i = skipSpace(data, i+1) // past the ','
	}
}

// set reads the member name: value into f, or reports false; seen has a
// bit for each field read, and set refuses a field read already.
func (f *changeFields) set(name, value []byte, contentType string, action Action, seen *uint16) bool {
	var field int
	var ok bool
	switch string(name) {
	case "action":
		field, ok = 0, setString((*string)(&f.Action), value, string(action))
	case "content_type":
		field, ok = 1, setString(&f.ContentType, value, contentType)
	case "object_id":
		field, ok = 2, setString(&f.ObjectID, value, "")
	case "object_repr":
		field, ok = 3, f.ObjectRepr.set(value, kindString)
	case "user":
		field, ok = 4, f.User.set(value, kindString)
	case "request_id":
		field, ok = 5, f.RequestID.set(value, kindString)
	case "time":
		field, ok = 6, setTime(&f.Time, value)
	case "prechange":
		field, ok = 7, f.PreChange.set(value, kindObject)
		f.pre = objectBytes(value)
	case "postchange":
		field, ok = 8, f.PostChange.set(value, kindObject)
		f.post = objectBytes(value)
	case "data":
		field, ok = 9, f.Data.set(value, kindObject)
	default:
		return !mayFoldToField(name)
	}
	bit := uint16(1) << field
	if *seen&bit != 0 {
		return false
	}
	*seen |= bit
	return ok
}

// mayFoldToField reports whether encoding/json might match a member name,
// other than a field's own, to a field: it matches names case-insensitively,
// with Unicode folding ('ſ' is an 's'), and names may be escaped.
func mayFoldToField(name []byte) bool {
	for _, c := range name {
		if c >= 0x80 || c == '\\' {
			return true
		}
	}
	for _, field := range changeFieldNames {
		if bytes.EqualFold(name, field) {
			return true
		}
	}
	return false
}

// setString reads a JSON string or null into s as encoding/json does; a
// string that reads expected is set to expected, which allocates nothing.
func setString(s *string, value []byte, expected string) bool {
	switch value[0] {
	case 'n':
		return true
	case '"':
		raw := value[1 : len(value)-1]
		switch {
		case bytes.IndexByte(raw, '\\') >= 0:
			return json.Unmarshal(value, s) == nil // escapes: encoding/json's own unquoting
		case string(raw) == expected:
			*s = expected
		default:
			*s = string(raw) // valid UTF-8 and JSON: as it is
		}
		return true
	}
	return false
}

// setTime reads a JSON string or null into t as encoding/json does: it
// calls t.UnmarshalJSON, which leaves t as it is on null.
func setTime(t *time.Time, value []byte) bool {
	switch value[0] {
	case 'n':
		return true
	case '"':
		return t.UnmarshalJSON(value) == nil
	}
	return false
}

// skipSpace returns the index of the first byte of data from i on that is
// not JSON white space.
func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n') {
		i++
	}
	return i
}

// stringEnd returns the index just after the JSON string that opens at
// data[i], in valid JSON. (A byte loop: most strings are short, shorter
// than what bytes.IndexByte pays for its call.)
func stringEnd(data []byte, i int) int {
	for i++; ; i++ {
		switch data[i] {
		case '"':
			return i + 1
		case '\\':
			i++ // the escaped byte; the hex digits of a \u escape are no quote
		}
	}
}

// structural marks the bytes valueEnd stops at in an object or array.
var structural = [256]bool{'"': true, '{': true, '}': true, '[': true, ']': true}

// valueEnd returns the index just after the JSON value that starts at
// data[i], in valid JSON.
func valueEnd(data []byte, i int) int {
	switch data[i] {
	case '"':
		return stringEnd(data, i)
	case '{', '[':
		depth := 0
		for {
			for !structural[data[i]] {
				i++
			}
			switch data[i] {
			case '"':
				i = stringEnd(data, i)
				continue
			case '{', '[':
				depth++
			default:
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
	}
	for i < len(data) && !endsLiteral(data[i]) {
		i++ // a number, true, false or null
	}
	return i
}

// endsLiteral reports whether c, after a number or literal, ends it.
func endsLiteral(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\t', '\r', '\n':
		return true
	}
	return false
}

// objectBytes is value when it is a JSON object, nil otherwise.
func objectBytes(value []byte) []byte {
	if value[0] == '{' {
		return value
	}
	return nil
}

// jsonKind records the kind of a JSON value a field of changeFields read,
// not the value.
type jsonKind byte

const (
	kindAbsent jsonKind = iota
	kindNull
	kindObject
	kindString
)

// set records the kind of value when it is null or want, or reports false.
func (k *jsonKind) set(value []byte, want jsonKind) bool {
	switch {
	case value[0] == 'n':
		*k = kindNull
	case value[0] == '{' && want == kindObject, value[0] == '"' && want == kindString:
		*k = want
	default:
		return false
	}
	return true
}
