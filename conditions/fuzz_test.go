package conditions

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

var fuzzSeeds = []string{
	``, `null`, `{}`, `[]`, `true`,
	`{"attr": "name", "value": "edge-01"}`,
	`{"attr": "tags.slug", "value": "core", "op": "contains", "negate": true}`,
	`{"attr": "asn", "value": 65000, "op": "gt"}`,
	`{"attr": "status.value", "value": ["planned", "staging"], "op": "in"}`,
	`{"attr": "serial", "value": "^[A-Z]{3}\\d+", "op": "regex"}`,
	`{"attr": "status", "op": "changed"}`,
	`{"attr": "snapshots.prechange.status", "value": null}`,
	`{"or": [{"and": [{"attr": "a", "value": 1}, {"attr": "b", "value": true}]}, {"attr": "c", "value": [1, "x", null]}]}`,
	`{"AND": [{"attr": "a", "op": "unchanged"}]}`,
	`{"and": []}`, `{"attr": "a", "value": "(?=x)", "op": "regex"}`,
	`{"attr": "n", "value": 123456789012345678901234567890, "op": "lte"}`,
}

// FuzzCompile: Compile never panics; it returns a Set or an *Error, never
// both, and a refusal names a JSON path under "conditions".
func FuzzCompile(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := Compile(raw)
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not an *Error", err)
			}
			if s != nil {
				t.Fatal("a Set and an error")
			}
			if len(ce.Path) < len(Root) || ce.Path[:len(Root)] != Root {
				t.Fatalf("path %q not under %q", ce.Path, Root)
			}
			return
		}
		if s == nil {
			t.Fatal("no Set and no error")
		}
	})
}

// FuzzEval compiles a condition set and evaluates it on random objects as
// data and both snapshots: it never panics, and a false result always
// comes with a reason and a true one never does.
func FuzzEval(f *testing.F) {
	objects := []string{
		`{"name": "edge-01", "tags": [{"slug": "core"}], "asn": 65001, "status": {"value": "active"}}`,
		`{"a": null, "b": [1, [2], {"c": "x"}], "status": "planned", "n": 1e308}`,
		`{"tags": [], "x": {"y": {"z": [null]}}, "n": 9007199254740993}`,
		`{}`, `null`,
	}
	for i, s := range fuzzSeeds {
		f.Add([]byte(s), []byte(objects[i%len(objects)]), []byte(objects[(i+1)%len(objects)]))
	}
	f.Fuzz(func(t *testing.T, raw, data, snap []byte) {
		s, err := Compile(raw)
		if err != nil {
			return
		}
		decode := func(b []byte, useNumber bool) map[string]any {
			var m map[string]any
			if useNumber {
				d := json.NewDecoder(bytes.NewReader(b))
				d.UseNumber()
				_ = d.Decode(&m)
			} else {
				_ = json.Unmarshal(b, &m)
			}
			return m
		}
		for _, in := range []Input{
			{Data: decode(data, false), Pre: decode(snap, false), Post: decode(data, true)},
			{Pre: decode(data, true)},
			{Post: decode(snap, false)},
			{},
		} {
			ok, fail := s.Eval(in)
			if ok != (fail.Reason == ReasonNone) {
				t.Fatalf("result %v with failure %v", ok, fail)
			}
			_ = fail.String()
		}
	})
}
