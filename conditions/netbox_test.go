package conditions

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNetBoxExamples evaluates the examples of NetBox's
// docs/reference/conditions.md (4.7, feature branch) and cases of its
// extras/tests/test_conditions.py, with the results NetBox gives. The
// section or test each comes from is named.
func TestNetBoxExamples(t *testing.T) {
	obj := func(s string) map[string]any {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(s), &m))
		return m
	}
	const exemptOr = `{"or": [{"and": [{"attr": "status.value", "value": "active"}, {"attr": "primary_ip4", "value": null, "negate": true}]},
		{"attr": "tags.slug", "value": "exempt", "op": "contains"}]}`
	const createdOrWasPlanned = `{"or": [{"attr": "snapshots.prechange.status", "value": null}, {"attr": "snapshots.prechange.status", "value": "planned"}]}`
	const toActive = `{"and": [{"attr": "status.value", "value": "active"}, {"attr": "status", "op": "changed"}]}`
	tests := []struct {
		source, cond string
		in           Input
		want         bool
		invalid      bool
	}{
		{"Accessing Nested Keys", `{"attr": "a.b.c", "value": 123}`, Input{Data: obj(`{"a": {"b": {"c": 123}}}`)}, true, false},
		{"Examples: name equals foo", `{"attr": "name", "value": "foo"}`, Input{Data: obj(`{"name": "foo"}`)}, true, false},
		{"Examples: name does not equal foo", `{"attr": "name", "value": "foo", "negate": true}`, Input{Data: obj(`{"name": "foo"}`)}, false, false},
		{"Examples: name does not equal foo (bar)", `{"attr": "name", "value": "foo", "negate": true}`, Input{Data: obj(`{"name": "bar"}`)}, true, false},
		{"Examples: asn greater than 65000", `{"attr": "asn", "value": 65000, "op": "gt"}`, Input{Data: obj(`{"asn": 65001}`)}, true, false},
		{"Examples: asn greater than 65000 (64512)", `{"attr": "asn", "value": 65000, "op": "gt"}`, Input{Data: obj(`{"asn": 64512}`)}, false, false},
		{"Examples: status not planned or staging", `{"attr": "status.value", "value": ["planned", "staging"], "op": "in", "negate": true}`,
			Input{Data: obj(`{"status": {"value": "active", "label": "Active"}}`)}, true, false},
		{"Examples: status not planned or staging (planned)", `{"attr": "status.value", "value": ["planned", "staging"], "op": "in", "negate": true}`,
			Input{Data: obj(`{"status": {"value": "planned", "label": "Planned"}}`)}, false, false},
		{"Missing keys: fail closed", `{"attr": "name", "value": "foo", "negate": true}`, Input{Data: obj(`{"other": 1}`)}, false, true},

		{"Snapshot Operators: status changes", `{"attr": "status", "op": "changed"}`,
			Input{Pre: obj(`{"status": "planned"}`), Post: obj(`{"status": "active"}`)}, true, false},
		{"Snapshot Operators: status does not change", `{"attr": "status", "op": "changed"}`,
			Input{Pre: obj(`{"status": "active"}`), Post: obj(`{"status": "active"}`)}, false, false},
		{"Snapshot Operators: resolves in neither snapshot, regardless of negate", `{"attr": "stauts", "op": "changed", "negate": true}`,
			Input{Pre: obj(`{"status": "planned"}`), Post: obj(`{"status": "active"}`)}, false, true},
		{"Combining: status changes to active", toActive,
			Input{Data: obj(`{"status": {"value": "active"}}`), Pre: obj(`{"status": "planned"}`), Post: obj(`{"status": "active"}`)}, true, false},
		{"Combining: status active, unchanged", toActive,
			Input{Data: obj(`{"status": {"value": "active"}}`), Pre: obj(`{"status": "active", "name": "a"}`), Post: obj(`{"status": "active", "name": "b"}`)}, false, false},
		{"Combining: status changes to offline", toActive,
			Input{Data: obj(`{"status": {"value": "offline"}}`), Pre: obj(`{"status": "active"}`), Post: obj(`{"status": "offline"}`)}, false, false},
		{"Direct Snapshot Path Access", `{"attr": "snapshots.prechange.status", "value": "planned"}`,
			Input{Pre: obj(`{"status": "planned"}`), Post: obj(`{"status": "active"}`)}, true, false},
		{"Snapshot serialization format: .value fails closed", `{"attr": "snapshots.prechange.status.value", "value": "planned"}`,
			Input{Pre: obj(`{"status": "planned"}`), Post: obj(`{"status": "active"}`)}, false, true},
		{"Snapshot availability: create, changed", `{"attr": "status", "op": "changed"}`, Input{Post: obj(`{"status": "active"}`)}, true, false},
		{"Snapshot availability: create, prechange path is null", `{"attr": "snapshots.prechange.status", "value": null}`, Input{Post: obj(`{"status": "active"}`)}, true, false},
		{"Snapshot availability: create, prechange path fails other comparisons", `{"attr": "snapshots.prechange.status", "value": "planned"}`, Input{Post: obj(`{"status": "active"}`)}, false, false},
		// extras/conditions.py (4.7): Condition.eval turns the TypeError of an
		// absent snapshot's None into a plain False, which negate inverts; and
		// eval_changed compares _MISSING (the absent snapshot) with the null
		// the other resolves to, which differ.
		{"conditions.py: create, absent prechange, gt negated", `{"attr": "snapshots.prechange.serial", "value": 5, "op": "gt", "negate": true}`,
			Input{Post: obj(`{"serial": 7}`)}, true, false},
		{"conditions.py: create, null serial changed", `{"attr": "serial", "op": "changed"}`, Input{Post: obj(`{"serial": null}`)}, true, false},
		{"conditions.py: create, null serial not unchanged", `{"attr": "serial", "op": "unchanged"}`, Input{Post: obj(`{"serial": null}`)}, false, false},
		{"Snapshot availability: delete, changed", `{"attr": "status", "op": "changed"}`, Input{Pre: obj(`{"status": "active"}`)}, true, false},
		{"Snapshot availability: delete, unchanged is false", `{"attr": "status", "op": "unchanged"}`, Input{Pre: obj(`{"status": "active"}`)}, false, false},
		{"Snapshot availability: delete, postchange path is null", `{"attr": "snapshots.postchange.status", "value": null}`, Input{Pre: obj(`{"status": "active"}`)}, true, false},
		{"Snapshot availability: a misspelled path fails closed", `{"attr": "snapshots.prechange.stauts", "value": null}`, Input{Post: obj(`{"status": "active"}`)}, false, true},
		{"Snapshot availability: .value fails closed on create", `{"attr": "snapshots.prechange.status.value", "value": null}`, Input{Post: obj(`{"status": "active"}`)}, false, true},
		{"Snapshot availability: test the snapshot itself", `{"attr": "snapshots.prechange", "value": null}`, Input{Post: obj(`{"status": "active"}`)}, true, false},
		{"created or previously planned: create", createdOrWasPlanned, Input{Post: obj(`{"status": "active"}`)}, true, false},
		{"created or previously planned: update from planned", createdOrWasPlanned, Input{Pre: obj(`{"status": "planned"}`), Post: obj(`{"status": "active"}`)}, true, false},
		{"created or previously planned: update from active", createdOrWasPlanned, Input{Pre: obj(`{"status": "active"}`), Post: obj(`{"status": "offline"}`)}, false, false},

		{"Condition Sets: active with primary_ip4", exemptOr, Input{Data: obj(`{"status": {"value": "active"}, "primary_ip4": {"address": "192.0.2.1/32"}, "tags": []}`)}, true, false},
		{"Condition Sets: exempt tag", exemptOr, Input{Data: obj(`{"status": {"value": "planned"}, "primary_ip4": null, "tags": [{"slug": "exempt"}]}`)}, true, false},
		{"Condition Sets: neither", exemptOr, Input{Data: obj(`{"status": {"value": "active"}, "primary_ip4": null, "tags": [{"slug": "other"}]}`)}, false, false},
		// test_untagged_object_does_not_veto_sibling_conditions
		{"untagged object, tag rule first", `{"or": [{"attr": "tags.slug", "value": "exempt", "op": "contains"}, {"and": [{"attr": "status.value", "value": "active"}, {"attr": "primary_ip4", "value": null, "negate": true}]}]}`,
			Input{Data: obj(`{"status": {"value": "active"}, "primary_ip4": {"address": "192.0.2.1/32"}, "tags": []}`)}, true, false},
		// test_nested_within_empty_list
		{"tags.parent.slug over no tags", `{"attr": "tags.parent.slug", "value": "exempt", "op": "contains"}`, Input{Data: obj(`{"tags": []}`)}, false, false},
		// test_absent_data_does_not_veto_sibling_conditions (the object is absent, a snapshot is not)
		{"absent data, or", `{"or": [{"attr": "status", "value": "foo", "op": "regex"}, {"attr": "snapshots.prechange.status", "value": "planned"}]}`,
			Input{Pre: obj(`{"status": "planned"}`)}, true, false},
		// test_changed_raises_when_counterpart_snapshot_resolves_to_nothing
		{"tags.name changed from no tags", `{"attr": "tags.name", "op": "changed"}`, Input{Pre: obj(`{"tags": []}`), Post: obj(`{"tags": ["Alpha"]}`)}, false, true},
		// test_changed_when_path_is_walkable_in_only_one_snapshot
		{"blob changed shape", `{"attr": "custom_fields.blob.key", "op": "changed"}`,
			Input{Pre: obj(`{"custom_fields": {"blob": "legacy"}}`), Post: obj(`{"custom_fields": {"blob": {"key": 1}}}`)}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.source, func(t *testing.T) {
			s, err := Compile([]byte(tt.cond))
			require.NoError(t, err)
			got, f := s.Eval(tt.in)
			assert.Equal(t, tt.want, got, "failure: %s", f)
			assert.Equal(t, tt.invalid, f.Invalid(), "invalid; failure: %s", f)
		})
	}
}

// TestNetBoxAbsentData: test_absent_data_is_a_non_match_for_every_operator
// and test_negate_cannot_turn_an_absent_payload_into_a_match: a change with
// no object matches no plain condition, negated or not, with no error.
func TestNetBoxAbsentData(t *testing.T) {
	for _, c := range []string{
		`{"attr": "status", "value": null}`, `{"attr": "status", "value": "foo"}`,
		`{"attr": "status", "value": ["foo"], "op": "in"}`, `{"attr": "status", "value": "foo", "op": "contains"}`,
		`{"attr": "status", "value": "^foo", "op": "regex"}`, `{"attr": "status", "value": 1, "op": "gt"}`,
		`{"attr": "status", "value": 1, "op": "gte"}`, `{"attr": "status", "value": 1, "op": "lt"}`,
		`{"attr": "status", "value": 1, "op": "lte"}`, `{"attr": "output.result", "value": null}`,
	} {
		for _, negate := range []bool{false, true} {
			raw := c[:len(c)-1] + `, "negate": ` + map[bool]string{false: "false", true: "true"}[negate] + `}`
			s, err := Compile([]byte(raw))
			require.NoError(t, err)
			got, f := s.Eval(Input{})
			assert.False(t, got, raw)
			assert.Equal(t, ReasonAbsentData, f.Reason, raw)
			assert.False(t, f.Invalid(), raw)
		}
	}
}

// TestNetBoxAbsentSnapshot: test_absent_snapshot_is_a_non_match_for_every_operator.
func TestNetBoxAbsentSnapshot(t *testing.T) {
	in := Input{Post: map[string]any{"description": "foo"}}
	for _, c := range []struct {
		op    string
		value string
	}{{"contains", `"foo"`}, {"regex", `"^foo"`}, {"gt", "1"}, {"gte", "1"}, {"lt", "1"}, {"lte", "1"}} {
		for _, negate := range []bool{false, true} {
			raw := `{"attr": "snapshots.prechange.description", "op": "` + c.op + `", "value": ` + c.value + `, "negate": ` + map[bool]string{false: "false", true: "true"}[negate] + `}`
			s, err := Compile([]byte(raw))
			require.NoError(t, err)
			got, _ := s.Eval(in)
			assert.Equal(t, negate, got, raw)
		}
	}
}
