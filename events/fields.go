package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"time"
)

// changeFields is Change with the fields that are only checked, not kept,
// as jsonKind: decoding data into it accepts and refuses exactly what
// decoding it into a Change does (fields_test.go holds its names and types
// to Change's), without building the snapshots' maps.
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
}

// changeFieldNames are the JSON names of changeFields.
var changeFieldNames = func() (names [][]byte) {
	t := reflect.TypeFor[changeFields]()
	for i := range t.NumField() {
		names = append(names, []byte(t.Field(i).Tag.Get("json")))
	}
	return names
}()

// decode reads data as decodeJSONData reads a Change, with the same checks
// of the whole: UTF-8, one JSON value, nothing after it.
//
// A change as publishers write it (an object whose members are spelt as
// Change names them) is read in two passes: json.Valid, then readMembers,
// which only has to find where each member ends. encoding/json reads
// anything else, and finds the error in what is invalid: it takes three
// passes (checking, decoding, and skipping each snapshot), which made it
// most of the cost of routing a change.
//
// contentType and action are the subject's, which the data's should
// match: they are kept when they do, rather than allocated again.
func (f *changeFields) decode(data []byte, contentType string, action Action) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return fmt.Errorf("%w: the event has no data", ErrInvalidChange)
	}
	if err := checkUTF8(data); err != nil {
		return fmt.Errorf("%w: data %w", ErrInvalidChange, err)
	}
	if !json.Valid(data) || !f.readMembers(data, contentType, action) {
		*f = changeFields{}
		if err := json.Unmarshal(data, f); err != nil {
			return fmt.Errorf("%w: data is not a change JSON object: %w", ErrInvalidChange, err)
		}
	}
	for _, c := range [...]struct {
		field      string
		kind, want jsonKind
	}{
		{"object_repr", f.ObjectRepr, kindString}, {"user", f.User, kindString}, {"request_id", f.RequestID, kindString},
		{"prechange", f.PreChange, kindObject}, {"postchange", f.PostChange, kindObject}, {"data", f.Data, kindObject},
	} {
		if c.kind != kindAbsent && c.kind != kindNull && c.kind != c.want {
			return fmt.Errorf("%w: data is not a change JSON object: %s is %s: want %s or null", ErrInvalidChange, c.field, c.kind, c.want)
		}
	}
	return nil
}

// readMembers reads the members of data, valid JSON, into f as
// encoding/json would (in order, a later member of one name over an
// earlier one; null leaves a field as it is, but for a jsonKind). It
// reports false, having read a part of them, when data holds what it
// leaves to encoding/json: a top level that is not an object, a member
// name that encoding/json might match to a field by case folding, or a
// value of a kind the field refuses.
func (f *changeFields) readMembers(data []byte, contentType string, action Action) bool {
	i := skipSpace(data, 0)
	if data[i] != '{' {
		return false
	}
	if i = skipSpace(data, i+1); data[i] == '}' {
		return true
	}
	for {
		end := stringEnd(data, i) // data[i] opens a member name: data is valid
		name := data[i+1 : end-1]
		i = skipSpace(data, skipSpace(data, end)+1) // past the ':'
		end = valueEnd(data, i)
		if !f.set(name, data[i:end], contentType, action) {
			return false
		}
		if i = skipSpace(data, end); data[i] == '}' {
			return true
		}
		i = skipSpace(data, i+1) // past the ','
	}
}

// set reads the member name: value into f, or reports false.
func (f *changeFields) set(name, value []byte, contentType string, action Action) bool {
	switch string(name) {
	case "action":
		return setString((*string)(&f.Action), value, string(action))
	case "content_type":
		return setString(&f.ContentType, value, contentType)
	case "object_id":
		return setString(&f.ObjectID, value, "")
	case "object_repr":
		return f.ObjectRepr.set(value, kindString)
	case "user":
		return f.User.set(value, kindString)
	case "request_id":
		return f.RequestID.set(value, kindString)
	case "time":
		return setTime(&f.Time, value)
	case "prechange":
		return f.PreChange.set(value, kindObject)
	case "postchange":
		return f.PostChange.set(value, kindObject)
	case "data":
		return f.Data.set(value, kindObject)
	}
	return !mayFoldToField(name)
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

// jsonKind records the kind of a JSON value, not the value.
type jsonKind byte

const (
	kindAbsent jsonKind = iota
	kindNull
	kindObject
	kindString
	kindArray
	kindBool
	kindNumber
)

// kindOf returns the kind of the JSON value that starts with c.
func kindOf(c byte) jsonKind {
	switch c {
	case '{':
		return kindObject
	case '"':
		return kindString
	case '[':
		return kindArray
	case 't', 'f':
		return kindBool
	case 'n':
		return kindNull
	}
	return kindNumber
}

// UnmarshalJSON gets the value's bytes, which the decoder has checked
// already (null included: encoding/json passes it to an Unmarshaler).
func (k *jsonKind) UnmarshalJSON(b []byte) error {
	*k = kindOf(b[0])
	return nil
}

// set records the kind of value when it is null or want.
func (k *jsonKind) set(value []byte, want jsonKind) bool {
	kind := kindOf(value[0])
	if kind != kindNull && kind != want {
		return false
	}
	*k = kind
	return true
}

func (k jsonKind) String() string {
	return [...]string{"absent", "null", "an object", "a string", "an array", "a boolean", "a number"}[k]
}
