package conditions

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// loadJSON decodes a testdata object as the events codec gives it to the
// router: numbers float64 (exact ones; TestNumbers covers json.Number).
func loadJSON(t testing.TB, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

// change is which of the testdata parts an evaluation gets.
type change int

const (
	update   change = iota // data, prechange and postchange
	create                 // data and postchange
	deletion               // data and prechange
	dataOnly               // data, no snapshots
	postOnly               // postchange only (no data): plain paths read it
	preOnly                // prechange only: a delete without data
	nothing                // no data, no snapshots
)

func inputFor(t testing.TB, c change) Input {
	data, pre, post := loadJSON(t, "device.json"), loadJSON(t, "prechange.json"), loadJSON(t, "postchange.json")
	switch c {
	case update:
		return Input{Data: data, Pre: pre, Post: post}
	case create:
		return Input{Data: data, Post: post}
	case deletion:
		return Input{Data: data, Pre: pre}
	case dataOnly:
		return Input{Data: data}
	case postOnly:
		return Input{Post: post}
	case preOnly:
		return Input{Pre: pre}
	}
	return Input{}
}

type evalCase struct {
	name   string
	cond   string
	on     change
	want   bool
	reason Reason // ReasonNone when want is true
}

func runEval(t *testing.T, tests []evalCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Compile([]byte(tt.cond))
			require.NoError(t, err)
			got, f := s.Eval(inputFor(t, tt.on))
			assert.Equal(t, tt.want, got, "result; failure: %s", f)
			assert.Equal(t, tt.reason, f.Reason, "reason; failure: %s", f)
			if tt.want {
				assert.Equal(t, Failure{}, f)
			}
		})
	}
}

func TestEvalOps(t *testing.T) {
	runEval(t, []evalCase{
		// eq, for each value type
		{"eq string", `{"attr": "name", "value": "edge-01"}`, update, true, ReasonNone},
		{"eq string differs", `{"attr": "name", "value": "edge-02"}`, update, false, ReasonFalse},
		{"eq string is case-sensitive", `{"attr": "name", "value": "EDGE-01"}`, update, false, ReasonFalse},
		{"eq string on a number", `{"attr": "id", "value": "42"}`, update, false, ReasonFalse},
		{"eq number", `{"attr": "id", "value": 42}`, update, true, ReasonNone},
		{"eq int matches float (1 == 1.0)", `{"attr": "position", "value": 12}`, update, true, ReasonNone},
		{"eq float matches int", `{"attr": "id", "value": 42.0}`, update, true, ReasonNone},
		{"eq number on a string", `{"attr": "name", "value": 42}`, update, false, ReasonFalse},
		{"eq boolean", `{"attr": "enabled", "value": true}`, update, true, ReasonNone},
		{"eq false", `{"attr": "custom_fields.decommission", "value": false}`, update, true, ReasonNone},
		{"eq true == 1, as in Python", `{"attr": "enabled", "value": 1}`, update, true, ReasonNone},
		{"eq 12 == true is false", `{"attr": "custom_fields.rack_u", "value": true}`, update, false, ReasonFalse},
		{"eq null", `{"attr": "primary_ip4", "value": null}`, update, true, ReasonNone},
		{"eq null on a value", `{"attr": "name", "value": null}`, update, false, ReasonFalse},
		{"eq empty string", `{"attr": "description", "value": ""}`, update, true, ReasonNone},
		{"eq list", `{"attr": "labels", "value": ["a", "b"]}`, update, true, ReasonNone},
		{"eq list in order only", `{"attr": "labels", "value": ["b", "a"]}`, update, false, ReasonFalse},
		{"eq list of numbers, int vs float", `{"attr": "ids", "value": [1.0, 2]}`, update, true, ReasonNone},
		{"eq list on a string", `{"attr": "name", "value": ["edge-01"]}`, update, false, ReasonFalse},

		// gt, gte, lt, lte
		{"gt", `{"attr": "asn", "value": 65000, "op": "gt"}`, update, true, ReasonNone},
		{"gt equal", `{"attr": "asn", "value": 65001, "op": "gt"}`, update, false, ReasonFalse},
		{"gte equal", `{"attr": "asn", "value": 65001, "op": "gte"}`, update, true, ReasonNone},
		{"lt", `{"attr": "asn", "value": 65001, "op": "lt"}`, update, false, ReasonFalse},
		{"lte", `{"attr": "asn", "value": 65001.0, "op": "lte"}`, update, true, ReasonNone},
		{"lt float", `{"attr": "position", "value": 12.5, "op": "lt"}`, update, true, ReasonNone},
		{"gt on a boolean (true is 1)", `{"attr": "enabled", "value": 0, "op": "gt"}`, update, true, ReasonNone},
		{"gt on a string is invalid", `{"attr": "name", "value": 1, "op": "gt"}`, update, false, ReasonTypeMismatch},
		{"gt on null is invalid", `{"attr": "primary_ip4", "value": 1, "op": "gt"}`, update, false, ReasonTypeMismatch},
		{"lte on a list is invalid", `{"attr": "ids", "value": 1, "op": "lte"}`, update, false, ReasonTypeMismatch},

		// in: the data value is one of the list
		{"in", `{"attr": "status.value", "value": ["active", "offline"], "op": "in"}`, update, true, ReasonNone},
		{"in not", `{"attr": "status.value", "value": ["planned", "staging"], "op": "in"}`, update, false, ReasonFalse},
		{"in numbers, int vs float", `{"attr": "id", "value": [41, 42.0], "op": "in"}`, update, true, ReasonNone},
		{"in with null", `{"attr": "tenant", "value": [null], "op": "in"}`, update, true, ReasonNone},
		{"in a list of lists", `{"attr": "labels", "value": [["a", "b"]], "op": "in"}`, update, true, ReasonNone},
		{"in never a type error", `{"attr": "site", "value": ["dc1"], "op": "in"}`, update, false, ReasonFalse},

		// contains: the value is in the data value
		{"contains substring", `{"attr": "name", "value": "dge", "op": "contains"}`, update, true, ReasonNone},
		{"contains no substring", `{"attr": "name", "value": "core", "op": "contains"}`, update, false, ReasonFalse},
		{"contains empty substring", `{"attr": "name", "value": "", "op": "contains"}`, update, true, ReasonNone},
		{"contains a number in a string is invalid", `{"attr": "name", "value": 1, "op": "contains"}`, update, false, ReasonTypeMismatch},
		{"contains in a list", `{"attr": "labels", "value": "a", "op": "contains"}`, update, true, ReasonNone},
		{"contains not in a list", `{"attr": "labels", "value": "ab", "op": "contains"}`, update, false, ReasonFalse},
		{"contains true in [1, 2] (true == 1)", `{"attr": "ids", "value": true, "op": "contains"}`, update, true, ReasonNone},
		{"contains a number in a list", `{"attr": "ids", "value": 2.0, "op": "contains"}`, update, true, ReasonNone},
		{"contains a list in a list", `{"attr": "pairs", "value": ["a", "b"], "op": "contains"}`, update, true, ReasonNone},
		{"contains a key of an object", `{"attr": "custom_fields", "value": "owner", "op": "contains"}`, update, true, ReasonNone},
		{"contains a number in an object", `{"attr": "custom_fields", "value": 12, "op": "contains"}`, update, false, ReasonFalse},
		{"contains a list in an object is invalid", `{"attr": "custom_fields", "value": ["owner"], "op": "contains"}`, update, false, ReasonTypeMismatch},
		{"contains in a number is invalid", `{"attr": "asn", "value": 6, "op": "contains"}`, update, false, ReasonTypeMismatch},
		{"contains in null is invalid", `{"attr": "tenant", "value": "x", "op": "contains"}`, update, false, ReasonTypeMismatch},
		{"contains in a boolean is invalid", `{"attr": "enabled", "value": true, "op": "contains"}`, update, false, ReasonTypeMismatch},

		// regex: re.match, anchored at the start only
		{"regex", `{"attr": "name", "value": "edge-\\d+", "op": "regex"}`, update, true, ReasonNone},
		{"regex anchored at the start", `{"attr": "name", "value": "\\d+", "op": "regex"}`, update, false, ReasonFalse},
		{"regex not anchored at the end", `{"attr": "name", "value": "edge", "op": "regex"}`, update, true, ReasonNone},
		{"regex alternation anchored as a whole", `{"attr": "name", "value": "x|dge", "op": "regex"}`, update, false, ReasonFalse},
		{"regex alternation", `{"attr": "name", "value": "x|edge", "op": "regex"}`, update, true, ReasonNone},
		{"regex inline flags", `{"attr": "name", "value": "(?i)EDGE-01$", "op": "regex"}`, update, true, ReasonNone},
		{"regex (?m) still matches at the start of the text only", `{"attr": "comments", "value": "(?m)^edge", "op": "regex"}`, update, false, ReasonFalse},
		{"regex on a list is invalid", `{"attr": "tags.slug", "value": "core", "op": "regex"}`, update, false, ReasonTypeMismatch},
		{"regex on a number is invalid", `{"attr": "asn", "value": "6", "op": "regex"}`, update, false, ReasonTypeMismatch},
	})
}

func TestEvalNegate(t *testing.T) {
	runEval(t, []evalCase{
		{"negated true is false", `{"attr": "name", "value": "edge-01", "negate": true}`, update, false, ReasonFalse},
		{"negated false is true", `{"attr": "name", "value": "edge-02", "negate": true}`, update, true, ReasonNone},
		{"negate false is no negation", `{"attr": "name", "value": "edge-01", "negate": false}`, update, true, ReasonNone},
		{"negated in", `{"attr": "status.value", "value": ["planned"], "op": "in", "negate": true}`, update, true, ReasonNone},
		{"negated regex", `{"attr": "serial", "value": "JPE", "op": "regex", "negate": true}`, update, false, ReasonFalse},
		// Invalid conditions stay false whatever negate says.
		{"negated missing key", `{"attr": "nmae", "value": "x", "negate": true}`, update, false, ReasonMissingKey},
		{"negated type mismatch", `{"attr": "name", "value": 1, "op": "gt", "negate": true}`, update, false, ReasonTypeMismatch},
		{"negated absent data", `{"attr": "name", "value": "x", "negate": true}`, nothing, false, ReasonAbsentData},
	})
}

func TestEvalPaths(t *testing.T) {
	runEval(t, []evalCase{
		{"nested key", `{"attr": "site.slug", "value": "dc1"}`, update, true, ReasonNone},
		{"three keys", `{"attr": "device_type.manufacturer.slug", "value": "arista"}`, update, true, ReasonNone},
		{"a nested object", `{"attr": "custom_fields.rack_u", "value": 12}`, update, true, ReasonNone},
		{"list mapping", `{"attr": "tags.slug", "value": "core", "op": "contains"}`, update, true, ReasonNone},
		{"list mapping, not there", `{"attr": "tags.slug", "value": "dist", "op": "contains"}`, update, false, ReasonFalse},
		{"list mapping negated", `{"attr": "tags.slug", "value": "exempt", "op": "contains", "negate": true}`, update, true, ReasonNone},
		{"list mapping is the whole list", `{"attr": "tags.slug", "value": ["core", "edge"]}`, update, true, ReasonNone},
		{"list mapping numbers", `{"attr": "tags.id", "value": 2, "op": "contains"}`, update, true, ReasonNone},
		{"list mapping in a list of lists", `{"attr": "tags.slug", "value": [["x"], ["core", "edge"]], "op": "in"}`, update, true, ReasonNone},
		{"list mapping in a list of strings", `{"attr": "tags.slug", "value": ["core", "edge"], "op": "in"}`, update, false, ReasonFalse},
		{"list mapping eq a string", `{"attr": "tags.slug", "value": "core"}`, update, false, ReasonFalse},
		{"list mapping gt is invalid", `{"attr": "tags.id", "value": 1, "op": "gt"}`, update, false, ReasonTypeMismatch},
		{"list mapping twice", `{"attr": "device_type.manufacturer.slug", "value": "arista"}`, update, true, ReasonNone},
		{"a null item stops list mapping", `{"attr": "x.slug", "value": "a", "op": "contains"}`, nothing, false, ReasonAbsentData},
		{"a list itself", `{"attr": "config_context.ntp", "value": "10.0.0.2", "op": "contains"}`, update, true, ReasonNone},
		{"an empty list maps to an empty list", `{"attr": "interfaces.name", "value": []}`, update, true, ReasonNone},
		{"contains on an empty mapped list", `{"attr": "interfaces.name", "value": "e1", "op": "contains"}`, update, false, ReasonFalse},

		{"missing key", `{"attr": "nmae", "value": "edge-01"}`, update, false, ReasonMissingKey},
		{"missing nested key", `{"attr": "site.region.slug", "value": "eu"}`, update, false, ReasonMissingKey},
		{"null on the way is missing", `{"attr": "primary_ip4.address", "value": "10.0.0.1/32"}`, update, false, ReasonMissingKey},
		{"a key missing from list items", `{"attr": "tags.colour", "value": "ff0000", "op": "contains"}`, update, false, ReasonMissingKey},
		{"a key of a string", `{"attr": "name.value", "value": "edge-01"}`, update, false, ReasonNotAnObject},
		{"a key of list items that are strings", `{"attr": "labels.x", "value": []}`, update, false, ReasonNotAnObject},
		{"a key of a number", `{"attr": "asn.value", "value": 1}`, update, false, ReasonNotAnObject},

		{"no data: postchange is read", `{"attr": "serial", "value": "JPE12345678"}`, postOnly, true, ReasonNone},
		{"no data: REST paths do not resolve on a snapshot", `{"attr": "status.value", "value": "active"}`, postOnly, false, ReasonNotAnObject},
		{"no data on a delete: prechange is read", `{"attr": "status", "value": "planned"}`, preOnly, true, ReasonNone},
		{"data wins over postchange", `{"attr": "serial", "value": "JPE12345678"}`, create, true, ReasonNone},
		{"no object at all", `{"attr": "name", "value": "edge-01"}`, nothing, false, ReasonAbsentData},
	})
}

func TestEvalSets(t *testing.T) {
	runEval(t, []evalCase{
		{"and", `{"and": [{"attr": "name", "value": "edge-01"}, {"attr": "site.slug", "value": "dc1"}]}`, update, true, ReasonNone},
		{"and one false", `{"and": [{"attr": "name", "value": "edge-01"}, {"attr": "site.slug", "value": "dc2"}]}`, update, false, ReasonFalse},
		{"or", `{"or": [{"attr": "name", "value": "x"}, {"attr": "site.slug", "value": "dc1"}]}`, update, true, ReasonNone},
		{"or all false", `{"or": [{"attr": "name", "value": "x"}, {"attr": "site.slug", "value": "y"}]}`, update, false, ReasonFalse},
		{"upper-case AND", `{"AND": [{"attr": "name", "value": "edge-01"}]}`, update, true, ReasonNone},
		{"mixed-case Or", `{"Or": [{"attr": "name", "value": "x"}]}`, update, false, ReasonFalse},
		{"nested", `{"and": [{"or": [{"attr": "role.slug", "value": "spine"}, {"attr": "role.slug", "value": "router"}]},
			{"and": [{"attr": "asn", "op": "gte", "value": 64512}, {"attr": "asn", "op": "lte", "value": 65534}]}]}`, update, true, ReasonNone},
		{"nested negations", `{"or": [{"and": [{"attr": "name", "value": "edge-01", "negate": true}]}, {"attr": "tags.slug", "op": "contains", "value": "core", "negate": true}]}`, update, false, ReasonFalse},
		// An invalid condition makes the whole set false, even inside an or
		// whose other alternative matches, unless evaluation stops before it
		// (and / or short-circuit, as NetBox's all() / any() do).
		{"or stops at a match before an invalid condition", `{"or": [{"attr": "name", "value": "edge-01"}, {"attr": "nmae", "value": "x"}]}`, update, true, ReasonNone},
		{"an invalid condition before a match fails the or", `{"or": [{"attr": "nmae", "value": "x"}, {"attr": "name", "value": "edge-01"}]}`, update, false, ReasonMissingKey},
		{"and stops at a false before an invalid condition", `{"and": [{"attr": "name", "value": "x"}, {"attr": "nmae", "value": "x"}]}`, update, false, ReasonFalse},
		{"an invalid condition in a nested set fails the outer or", `{"or": [{"and": [{"attr": "asn", "op": "gt", "value": 1}, {"attr": "name", "op": "gt", "value": 1}]}, {"attr": "name", "value": "edge-01"}]}`, update, false, ReasonTypeMismatch},
		// Absent data is false for that condition only.
		{"absent data does not stop an or", `{"or": [{"attr": "name", "value": "x"}, {"attr": "snapshots.prechange", "value": null}]}`, nothing, true, ReasonNone},
	})
}

func TestEvalSnapshotPaths(t *testing.T) {
	runEval(t, []evalCase{
		{"prechange", `{"attr": "snapshots.prechange.status", "value": "planned"}`, update, true, ReasonNone},
		{"postchange", `{"attr": "snapshots.postchange.status", "value": "active"}`, update, true, ReasonNone},
		{"postchange list", `{"attr": "snapshots.postchange.tags", "value": "Edge", "op": "contains"}`, update, true, ReasonNone},
		{"nested in a snapshot", `{"attr": "snapshots.prechange.custom_fields.owner", "value": "netops"}`, update, true, ReasonNone},
		{"snapshots hold raw values: no .value", `{"attr": "snapshots.prechange.status.value", "value": "planned"}`, update, false, ReasonNotAnObject},
		{"missing key in a snapshot", `{"attr": "snapshots.prechange.sttus", "value": "planned"}`, update, false, ReasonMissingKey},
		{"the snapshot itself", `{"attr": "snapshots.prechange", "value": null, "negate": true}`, update, true, ReasonNone},
		{"snapshots is an object, never null", `{"attr": "snapshots", "value": null}`, update, false, ReasonFalse},
		{"snapshots contains prechange", `{"attr": "snapshots", "value": "prechange", "op": "contains"}`, create, true, ReasonNone},

		// A snapshot the change lacks reads as null...
		{"create: prechange is null", `{"attr": "snapshots.prechange", "value": null}`, create, true, ReasonNone},
		{"create: prechange.status is null", `{"attr": "snapshots.prechange.status", "value": null}`, create, true, ReasonNone},
		{"create: prechange.status is not planned", `{"attr": "snapshots.prechange.status", "value": "planned"}`, create, false, ReasonFalse},
		{"create: null in a list", `{"attr": "snapshots.prechange.status", "value": [null, "planned"], "op": "in"}`, create, true, ReasonNone},
		{"create: contains on null is false, not invalid", `{"attr": "snapshots.prechange.status", "value": "p", "op": "contains"}`, create, false, ReasonFalse},
		{"create: ...and negate applies", `{"attr": "snapshots.prechange.status", "value": "p", "op": "contains", "negate": true}`, create, true, ReasonNone},
		{"create: gt on null is false", `{"attr": "snapshots.prechange.asn", "value": 1, "op": "gt"}`, create, false, ReasonFalse},
		{"delete: postchange.status is null", `{"attr": "snapshots.postchange.status", "value": null}`, deletion, true, ReasonNone},
		{"neither snapshot: null", `{"attr": "snapshots.postchange.status", "value": null}`, dataOnly, true, ReasonNone},
		// ...but only for a path the other snapshot shows to be real.
		{"create: a typo is invalid", `{"attr": "snapshots.prechange.sttus", "value": null}`, create, false, ReasonMissingKey},
		{"create: .value is invalid", `{"attr": "snapshots.prechange.status.value", "value": null}`, create, false, ReasonNotAnObject},
		{"create: a path through an empty list is invalid", `{"attr": "snapshots.prechange.interfaces.name", "value": null}`, create, false, ReasonMissingKey},
		{"delete: a typo is invalid", `{"attr": "snapshots.postchange.sreial", "value": null}`, deletion, false, ReasonMissingKey},
	})
}

func TestEvalChanged(t *testing.T) {
	runEval(t, []evalCase{
		{"changed", `{"attr": "serial", "op": "changed"}`, update, true, ReasonNone},
		{"not changed", `{"attr": "name", "op": "changed"}`, update, false, ReasonFalse},
		{"unchanged", `{"attr": "name", "op": "unchanged"}`, update, true, ReasonNone},
		{"not unchanged", `{"attr": "serial", "op": "unchanged"}`, update, false, ReasonFalse},
		{"negated changed", `{"attr": "serial", "op": "changed", "negate": true}`, update, false, ReasonFalse},
		{"negated unchanged", `{"attr": "serial", "op": "unchanged", "negate": true}`, update, true, ReasonNone},
		{"a list changed", `{"attr": "tags", "op": "changed"}`, update, true, ReasonNone},
		{"a nested key unchanged", `{"attr": "custom_fields.owner", "op": "unchanged"}`, update, true, ReasonNone},
		{"12 and 12.0 are unchanged", `{"attr": "position", "op": "unchanged"}`, update, true, ReasonNone},
		{"an object replacing a string changed", `{"attr": "shape", "op": "changed"}`, update, true, ReasonNone},
		{"a key of it resolving on one side only changed", `{"attr": "shape.x", "op": "changed"}`, update, true, ReasonNone},
		{"a new key changed", `{"attr": "new_field", "op": "changed"}`, update, true, ReasonNone},
		{"a new key is not unchanged", `{"attr": "new_field", "op": "unchanged"}`, update, false, ReasonFalse},
		{"an empty list then items changed", `{"attr": "ports.name", "op": "changed"}`, update, true, ReasonNone},
		{"create: changed", `{"attr": "serial", "op": "changed"}`, create, true, ReasonNone},
		{"create: not unchanged", `{"attr": "serial", "op": "unchanged"}`, create, false, ReasonFalse},
		{"delete: changed", `{"attr": "serial", "op": "changed"}`, deletion, true, ReasonNone},
		{"delete: not unchanged", `{"attr": "serial", "op": "unchanged"}`, deletion, false, ReasonFalse},
		// Nothing to compare: invalid, whatever negate says.
		{"in neither snapshot", `{"attr": "sreial", "op": "changed"}`, update, false, ReasonMissingKey},
		{"in neither snapshot, negated", `{"attr": "sreial", "op": "changed", "negate": true}`, update, false, ReasonMissingKey},
		{"unchanged in neither snapshot, negated", `{"attr": "sreial", "op": "unchanged", "negate": true}`, update, false, ReasonMissingKey},
		{"empty lists on both sides", `{"attr": "interfaces.name", "op": "unchanged"}`, update, false, ReasonMissingKey},
		{".value on raw snapshots", `{"attr": "status.value", "op": "changed"}`, update, false, ReasonNotAnObject},
		{"no snapshots", `{"attr": "serial", "op": "changed"}`, dataOnly, false, ReasonNoSnapshots},
		{"no snapshots, negated", `{"attr": "serial", "op": "unchanged", "negate": true}`, dataOnly, false, ReasonNoSnapshots},
	})
}

// TestNumbers pins Python's number semantics on inputs the events codec
// leaves as json.Number (integers beyond 2^53) and on Go-typed numbers.
func TestNumbers(t *testing.T) {
	big := json.Number("9007199254740993") // 2^53 + 1: no float64 holds it
	tests := []struct {
		cond string
		v    any
		want bool
	}{
		{`{"attr": "n", "value": 9007199254740993}`, big, true},
		{`{"attr": "n", "value": 9007199254740992}`, big, false},
		{`{"attr": "n", "value": 9007199254740992, "op": "gt"}`, big, true},
		{`{"attr": "n", "value": 9007199254740992.0, "op": "gt"}`, big, true},
		{`{"attr": "n", "value": 9007199254740994, "op": "lt"}`, big, true},
		{`{"attr": "n", "value": [9007199254740993], "op": "in"}`, big, true},
		{`{"attr": "n", "value": [9007199254740992], "op": "in"}`, big, false},
		{`{"attr": "n", "value": 42}`, json.Number("42"), true},
		{`{"attr": "n", "value": 42}`, json.Number("42.0"), true},
		{`{"attr": "n", "value": 1e400, "op": "gt"}`, json.Number("1e300"), false}, // 1e400 is inf, as in Python
		{`{"attr": "n", "value": 42}`, 42, true},
		{`{"attr": "n", "value": 42, "op": "gte"}`, int64(42), true},
		{`{"attr": "n", "value": 0.1, "op": "lt"}`, 0.1, false},
	}
	for _, tt := range tests {
		t.Run(tt.cond, func(t *testing.T) {
			s, err := Compile([]byte(tt.cond))
			require.NoError(t, err)
			got, f := s.Eval(Input{Data: map[string]any{"n": tt.v}})
			assert.Equal(t, tt.want, got, "failure: %s", f)
		})
	}
}

func TestFailureSaysWhy(t *testing.T) {
	in := inputFor(t, update)
	tests := []struct {
		cond, msg  string
		value      any
		unresolved bool
	}{
		{`{"and": [{"attr": "name", "value": "edge-01"}, {"attr": "status.value", "value": ["planned"], "op": "in"}]}`,
			`conditions.and[1]: status.value in ["planned"]: false: status.value is "active"`, "active", false},
		{`{"attr": "site.region", "value": "eu", "negate": true}`,
			`conditions: site.region not eq "eu": site.region did not resolve: no key "region"`, nil, true},
		{`{"attr": "snapshots.prechange.status.value", "value": "planned"}`,
			`conditions: snapshots.prechange.status.value eq "planned": snapshots.prechange.status.value did not resolve: cannot read key "value" in a string ("planned"); snapshots hold raw field values, so choice fields have no .value`, "planned", true},
		{`{"or": [{"attr": "name", "value": "x"}, {"attr": "asn", "op": "gt", "value": 70000}]}`,
			`conditions.or[0]: name eq "x": false: name is "edge-01"`, "edge-01", false},
		{`{"attr": "name", "op": "lt", "value": 3}`,
			`conditions: name lt 3: "lt" cannot compare a string ("edge-01")`, "edge-01", false},
		{`{"attr": "tags.slug", "op": "contains", "value": "dist"}`,
			`conditions: tags.slug contains "dist": false: tags.slug is ["core","edge"]`, []any{"core", "edge"}, false},
		{`{"attr": "tags.id", "op": "lt", "value": 3}`,
			`conditions: tags.id lt 3: "lt" cannot compare a list ([1,2])`, []any{1.0, 2.0}, false},
		{`{"attr": "name", "op": "changed"}`,
			`conditions: name changed: false: before "edge-01", after "edge-01"`, nil, false},
		{`{"attr": "new_field", "op": "unchanged"}`,
			`conditions: new_field unchanged: false: before (missing), after 1`, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.cond, func(t *testing.T) {
			s, err := Compile([]byte(tt.cond))
			require.NoError(t, err)
			ok, f := s.Eval(in)
			require.False(t, ok)
			assert.Equal(t, tt.msg, f.String())
			assert.Equal(t, tt.unresolved, f.Unresolved())
			if tt.value != nil {
				assert.Equal(t, tt.value, f.Value())
			}
		})
	}

	s, err := Compile([]byte(`{"attr": "snapshots.prechange.custom_fields.ownr", "value": null}`))
	require.NoError(t, err)
	_, f := s.Eval(inputFor(t, create))
	assert.Equal(t, `conditions: snapshots.prechange.custom_fields.ownr eq null: snapshots.prechange.custom_fields.ownr did not resolve: no key "ownr"`, f.String())
	assert.True(t, f.Unresolved())

	s, err = Compile([]byte(`{"attr": "serial", "op": "changed"}`))
	require.NoError(t, err)
	_, f = s.Eval(inputFor(t, dataOnly))
	assert.Equal(t, `conditions: serial changed: the change has neither a prechange nor a postchange snapshot`, f.String())
	assert.True(t, f.Unresolved())
	assert.True(t, f.Invalid())
	assert.Equal(t, "serial", f.Attr())
	assert.Equal(t, OpChanged, f.Op())

	s, err = Compile([]byte(`{"attr": "name", "value": "x"}`))
	require.NoError(t, err)
	_, f = s.Eval(Input{})
	assert.Equal(t, `conditions: name eq "x": the change has no object (no data, postchange or prechange)`, f.String())
	assert.False(t, f.Invalid())
	assert.False(t, f.Unresolved())
}

// TestEvalAllocations pins the fast path: conditions allocate nothing,
// lists mapped by their last key (tags.slug) included, so thousands of
// hooks cost the router no garbage.
func TestEvalAllocations(t *testing.T) {
	in := inputFor(t, update)
	for _, cond := range []string{
		`{"attr": "name", "value": "edge-01"}`,
		`{"attr": "name", "value": "edge-02"}`, // false, with its Failure
		`{"attr": "site.slug", "value": ["dc1", "dc2"], "op": "in"}`,
		`{"attr": "asn", "value": 65000, "op": "gt"}`,
		`{"attr": "serial", "value": "JPE\\d+", "op": "regex"}`,
		`{"attr": "snapshots.prechange.status", "value": "planned"}`,
		`{"attr": "serial", "op": "changed"}`,
		`{"attr": "tags.slug", "value": "edge", "op": "contains"}`,
		`{"attr": "tags.slug", "value": "dist", "op": "contains"}`,
		`{"attr": "tags.slug", "value": ["core", "edge"]}`,
		`{"and": [{"attr": "name", "value": "edge-01"}, {"or": [{"attr": "role.slug", "value": "x"}, {"attr": "nmae", "value": "y"}]}]}`,
	} {
		s, err := Compile([]byte(cond))
		require.NoError(t, err)
		allocs := testing.AllocsPerRun(100, func() { s.Eval(in) })
		assert.Zero(t, allocs, cond)
	}
}

// TestListItemsChecked: as in NetBox, mapping a key over a list needs
// every item to be an object with that key, even when an earlier item
// already matched.
func TestListItemsChecked(t *testing.T) {
	tests := []struct {
		name   string
		tags   []any
		reason Reason
	}{
		{"a null item", []any{map[string]any{"slug": "core"}, nil}, ReasonMissingKey},
		{"an item without the key", []any{map[string]any{"slug": "core"}, map[string]any{"name": "x"}}, ReasonMissingKey},
		{"an item that is a string", []any{map[string]any{"slug": "core"}, "edge"}, ReasonNotAnObject},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, cond := range []string{
				`{"attr": "tags.slug", "value": "core", "op": "contains"}`,
				`{"attr": "tags.slug", "op": "changed"}`,
				`{"attr": "snapshots.postchange.tags.slug", "value": "core", "op": "contains"}`,
			} {
				s, err := Compile([]byte(cond))
				require.NoError(t, err)
				obj := map[string]any{"tags": tt.tags}
				ok, f := s.Eval(Input{Data: obj, Pre: obj, Post: obj})
				assert.False(t, ok, cond)
				assert.Equal(t, tt.reason, f.Reason, cond)
				assert.True(t, f.Unresolved(), cond)
			}
		})
	}
}

// TestMappedListMatchesMaterialized: a path whose last key maps over a
// list (read item by item, without building the list) evaluates exactly
// as the built list does.
func TestMappedListMatchesMaterialized(t *testing.T) {
	lists := [][]any{
		{},
		{"core"},
		{"core", "edge"},
		{1.0, 2.0},
		{true},
		{nil},
		{[]any{"a", "b"}},
		{map[string]any{"x": 1.0}},
	}
	ops := []string{
		`"value": "core", "op": "contains"`, `"value": "core"`, `"value": ["core", "edge"]`, `"value": []`,
		`"value": ["core"], "op": "in"`, `"value": [["core", "edge"], ["core"]], "op": "in"`, `"value": [[]], "op": "in"`,
		`"value": 1, "op": "contains"`, `"value": true, "op": "contains"`, `"value": ["a", "b"], "op": "contains"`,
		`"value": 1, "op": "gt"`, `"value": "c", "op": "regex"`, `"value": null`, `"value": 1`,
		`"value": "core", "op": "contains", "negate": true`,
	}
	for _, list := range lists {
		items := make([]any, len(list))
		for i, e := range list {
			items[i] = map[string]any{"slug": e}
		}
		in := Input{Data: map[string]any{"tags": items, "slugs": list}}
		for _, op := range ops {
			mapped, err := Compile([]byte(`{"attr": "tags.slug", ` + op + `}`))
			require.NoError(t, err)
			built, err := Compile([]byte(`{"attr": "slugs", ` + op + `}`))
			require.NoError(t, err)
			gotM, fM := mapped.Eval(in)
			gotB, fB := built.Eval(in)
			assert.Equal(t, gotB, gotM, "%v %s", list, op)
			assert.Equal(t, fB.Reason, fM.Reason, "%v %s", list, op)
			assert.Equal(t, fB.Value(), fM.Value(), "%v %s", list, op)
		}
	}
}
