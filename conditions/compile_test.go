package conditions

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCompileEmptyMatchesEverything(t *testing.T) {
	for _, raw := range []string{"", "  \n", "null", "{}", " { } "} {
		t.Run(raw, func(t *testing.T) {
			s, err := Compile([]byte(raw))
			require.NoError(t, err)
			assert.True(t, s.Empty())
			assert.False(t, s.NeedsData())
			assert.False(t, s.NeedsSnapshots())
			ok, f := s.Eval(Input{})
			assert.True(t, ok)
			assert.Equal(t, ReasonNone, f.Reason)
		})
	}
	var nilSet *Set
	ok, _ := nilSet.Eval(Input{})
	assert.True(t, ok, "a nil *Set has no conditions")
}

func TestCompileAccepts(t *testing.T) {
	for _, raw := range []string{
		`{"attr": "name", "value": "edge-01"}`,                             // op defaults to eq
		`{"attr": "name", "value": "edge-01", "op": "eq", "negate": null}`, // null negate is false
		`{"attr": "status", "op": "changed"}`,
		`{"attr": "status", "op": "unchanged", "negate": true}`,
		`{"AND": [{"attr": "a", "value": 1}]}`, // and/or in any case
		`{"Or": [{"attr": "a", "value": 1}, {"and": [{"attr": "b", "value": null}]}]}`,
		`{"attr": "snapshots.prechange", "value": null}`,
		`{"attr": "snapshots", "value": null}`,
		`{"attr": "tags.slug", "value": ["a", {"x": 1}], "op": "eq"}`, // lists may hold anything
		`{"attr": "asn", "value": 1.5e3, "op": "gte"}`,
		`{"attr": "id", "value": 123456789012345678901234567890, "op": "lt"}`,
		`{"attr": "name", "value": "(?i)^edge-(?P<n>\\d+)$", "op": "regex"}`,
		`{"attr": "name", "value": "a{0,3}$", "op": "regex"}`,
		`{"attr": "name", "value": "a\\{,3}$", "op": "regex"}`,               // an escaped brace is literal in both
		`{"attr": "name", "value": "a[{,3}]", "op": "regex"}`,                // so is one in a class
		`{"attr": "name", "value": "[]{,3}][[:alpha:]{,3}]", "op": "regex"}`, // ] first, [:alpha:]
		`{"attr": "name", "value": "\\Q{,3}\\E", "op": "regex"}`,             // RE2's literal text
	} {
		t.Run(raw, func(t *testing.T) {
			_, err := Compile([]byte(raw))
			require.NoError(t, err)
		})
	}
}

// TestCompileRefuses pins each refusal's exact text (JSON path first) and
// sentinel error.
func TestCompileRefuses(t *testing.T) {
	const ops = "eq, gt, gte, lt, lte, in, contains, regex, changed, unchanged"
	const keys = "attr, value, op, negate"
	tests := []struct {
		name, raw, msg string
		is             error
	}{
		{"unknown op", `{"attr": "name", "value": "x", "op": "neq"}`,
			`conditions.op: unknown op "neq": one of ` + ops, ErrUnknownOp},
		{"regex on a number, nested", `{"and": [{"attr": "a", "value": "x"}, {"attr": "asn", "value": 1, "op": "regex"}]}`,
			`conditions.and[1].op: "regex" is not allowed for a number value (a number value allows eq, gt, gte, lt, lte, contains)`, ErrOpNotAllowed},
		{"gt on a string, deep", `{"or": [{"and": [{"attr": "a", "value": "x"}, {"attr": "b", "op": "gt", "value": "1"}]}]}`,
			`conditions.or[0].and[1].op: "gt" is not allowed for a string value (a string value allows eq, contains, regex)`, ErrOpNotAllowed},
		{"in on a string", `{"attr": "a", "value": "x", "op": "in"}`,
			`conditions.op: "in" is not allowed for a string value (a string value allows eq, contains, regex)`, ErrOpNotAllowed},
		{"gt on a boolean", `{"attr": "a", "value": true, "op": "gt"}`,
			`conditions.op: "gt" is not allowed for a boolean value (a boolean value allows eq, contains)`, ErrOpNotAllowed},
		{"contains null", `{"attr": "a", "value": null, "op": "contains"}`,
			`conditions.op: "contains" is not allowed for a null value (a null value allows eq)`, ErrOpNotAllowed},
		{"regex on a list", `{"attr": "a", "value": ["x"], "op": "regex"}`,
			`conditions.op: "regex" is not allowed for a list value (a list value allows eq, in, contains)`, ErrOpNotAllowed},
		{"object value", `{"attr": "a", "value": {"x": 1}}`,
			`conditions.value: an object value is not supported: use a string, number, boolean, list or null`, ErrValueType},
		{"bad regex", `{"attr": "name", "value": "[a", "op": "regex"}`,
			"conditions.value: regex \"[a\" does not compile: missing closing ]: `[a`", ErrRegex},
		{"lookahead", `{"attr": "name", "value": "edge(?=-01)", "op": "regex"}`,
			`conditions.value: regex "edge(?=-01)" uses a lookahead (?=...), which Go's RE2 regex engine does not support (it has no backtracking); rewrite it without`, ErrRegex},
		{"negative lookbehind", `{"attr": "name", "value": "(?<!x)edge", "op": "regex"}`,
			`conditions.value: regex "(?<!x)edge" uses a negative lookbehind (?<!...), which Go's RE2 regex engine does not support (it has no backtracking); rewrite it without`, ErrRegex},
		{"backreference", `{"attr": "name", "value": "(a)\\1", "op": "regex"}`,
			`conditions.value: regex "(a)\\1" uses a backreference \1, which Go's RE2 regex engine does not support (it has no backtracking); rewrite it without`, ErrRegex},
		{"python \\Z", `{"attr": "name", "value": "edge\\Z", "op": "regex"}`,
			`conditions.value: regex "edge\\Z": Go's RE2 has no \Z; use \z (end of text)`, ErrRegex},
		{"python {,n}", `{"attr": "name", "value": "a{,3}$", "op": "regex"}`,
			`conditions.value: regex "a{,3}$" uses {,3}, which Python reads as {0,3} but Go's RE2 as literal text; write {0,3} (or \{ for a literal brace)`, ErrRegex},
		{"python {,}", `{"attr": "name", "value": "x(ab){,}", "op": "regex"}`,
			`conditions.value: regex "x(ab){,}" uses {,}, which Python reads as {0,} but Go's RE2 as literal text; write {0,} (or \{ for a literal brace)`, ErrRegex},
		{"python {,n} after a class", `{"attr": "name", "value": "[a-z]{,12}", "op": "regex"}`,
			`conditions.value: regex "[a-z]{,12}" uses {,12}, which Python reads as {0,12} but Go's RE2 as literal text; write {0,12} (or \{ for a literal brace)`, ErrRegex},
		{"changed with a value", `{"attr": "status", "op": "changed", "value": "active"}`,
			`conditions.value: "changed" takes no value: it compares attr between the prechange and postchange snapshots`, ErrValueNotTaken},
		{"unchanged with a null value", `{"attr": "status", "op": "unchanged", "value": null}`,
			`conditions.value: "unchanged" takes no value: it compares attr between the prechange and postchange snapshots`, ErrValueNotTaken},
		{"changed on a snapshot path", `{"attr": "snapshots.prechange.status", "op": "changed"}`,
			`conditions.attr: "changed" reads attr in each snapshot itself: use the bare attribute (e.g. "status"), not a snapshots. path`, ErrAttr},
		{"no value", `{"attr": "name"}`, `conditions: "eq" needs a value`, ErrValueRequired},
		{"no value for gt", `{"and": [{"attr": "name", "op": "gt"}]}`, `conditions.and[0]: "gt" needs a value`, ErrValueRequired},
		{"unknown key", `{"attr": "a", "value": 1, "negat": true}`,
			`conditions.negat: unknown key "negat": a condition has ` + keys, ErrUnknownKey},
		{"keys are case-sensitive", `{"Attr": "a", "value": 1}`,
			`conditions.Attr: unknown key "Attr": a condition has ` + keys, ErrUnknownKey},
		{"one unknown key", `{"all": [{"attr": "a", "value": 1}]}`,
			`conditions.all: unknown key "all": a set has one key, "and" or "or"; a condition has ` + keys, ErrUnknownKey},
		{"set mixed with a condition", `{"and": [], "attr": "a"}`,
			`conditions.and: "and" with other keys: a set has exactly one key, "and" or "or"`, ErrUnknownKey},
		{"and and or", `{"and": [], "or": []}`,
			`conditions.and: "and" with other keys: a set has exactly one key, "and" or "or"`, ErrUnknownKey},
		{"empty and", `{"and": []}`, `conditions.and: "and" needs at least one condition`, ErrEmptySet},
		{"empty nested or", `{"and": [{"OR": []}]}`, `conditions.and[0].OR: "OR" needs at least one condition`, ErrEmptySet},
		{"or of an object", `{"or": {"attr": "a", "value": 1}}`,
			`conditions.or: must be a list of conditions, not an object`, ErrShape},
		{"child not an object", `{"and": ["name"]}`,
			`conditions.and[0]: must be an object (a condition, or an "and"/"or" set), not a string`, ErrShape},
		{"top-level list", `[{"attr": "a", "value": 1}]`,
			`conditions: must be an object (a condition, or an "and"/"or" set), not a list`, ErrShape},
		{"no attr", `{"value": 1, "op": "eq"}`, `conditions: a condition needs "attr"`, ErrAttr},
		{"attr not a string", `{"attr": 1, "value": 1}`, `conditions.attr: must be a string, not a number`, ErrShape},
		{"empty attr", `{"attr": "", "value": 1}`, `conditions.attr: must not be empty`, ErrAttr},
		{"empty key", `{"attr": "site..slug", "value": 1}`,
			`conditions.attr: "site..slug" has an empty key: keys are separated by single dots`, ErrAttr},
		{"unknown snapshot", `{"attr": "snapshots.before.status", "value": 1}`,
			`conditions.attr: "snapshots.before.status": a snapshot path is snapshots.prechange.<attr> or snapshots.postchange.<attr>`, ErrAttr},
		{"op not a string", `{"attr": "a", "value": 1, "op": null}`, `conditions.op: must be a string, not null`, ErrShape},
		{"negate not a boolean", `{"attr": "a", "value": 1, "negate": "yes"}`,
			`conditions.negate: must be true or false, not a string`, ErrShape},
		{"bad JSON", `{"attr": `, `conditions: not valid JSON: unexpected EOF`, ErrSyntax},
		{"trailing data", ` {} {}`, `conditions: not valid JSON: more data after the conditions, at byte 4`, ErrSyntax},
		{"scalar", `true`, `conditions: must be an object (a condition, or an "and"/"or" set), not a boolean`, ErrShape},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Compile([]byte(tt.raw))
			require.Error(t, err)
			assert.Nil(t, s)
			assert.EqualError(t, err, tt.msg)
			assert.ErrorIs(t, err, tt.is)
			var ce *Error
			require.True(t, errors.As(err, &ce))
			assert.Equal(t, tt.msg, ce.Path+": "+ce.Err.Error())
		})
	}
}

func TestCompileValueTakesDecodedJSON(t *testing.T) {
	s, err := CompileValue(map[string]any{"attr": "asn", "value": 65000.0, "op": "gt"})
	require.NoError(t, err)
	ok, _ := s.Eval(Input{Data: map[string]any{"asn": 65001.0}})
	assert.True(t, ok)

	s, err = CompileValue(map[string]any{"attr": "asn", "value": 65001, "op": "gte"})
	require.NoError(t, err, "Go integers are numbers")
	ok, _ = s.Eval(Input{Data: map[string]any{"asn": 65001.0}})
	assert.True(t, ok)

	list := []any{json.Number("1"), json.Number("2.5")}
	s, err = CompileValue(map[string]any{"attr": "n", "value": list, "op": "in"})
	require.NoError(t, err)
	assert.Equal(t, []any{json.Number("1"), json.Number("2.5")}, list, "CompileValue leaves its argument as it was")
	ok, _ = s.Eval(Input{Data: map[string]any{"n": 2.5}})
	assert.True(t, ok)
}

func TestNeeds(t *testing.T) {
	tests := []struct {
		raw             string
		data, snapshots bool
	}{
		{`{"attr": "name", "value": "x"}`, true, false},
		{`{"attr": "status", "op": "changed"}`, false, true},
		{`{"attr": "snapshots.prechange.status", "value": "planned"}`, false, true},
		{`{"attr": "snapshots", "value": null}`, false, true},
		{`{"or": [{"attr": "name", "value": "x"}, {"attr": "serial", "op": "unchanged"}]}`, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			s, err := Compile([]byte(tt.raw))
			require.NoError(t, err)
			assert.Equal(t, tt.data, s.NeedsData(), "NeedsData")
			assert.Equal(t, tt.snapshots, s.NeedsSnapshots(), "NeedsSnapshots")
		})
	}
}
