package events

import (
	"strconv"
	"strings"
	"testing"
)

// TestDiffersRaw: differsRaw itself, on the cases it answers (ok), each
// with the answer Snapshots gives (TestDiffers checks those through
// Differs), and the cases it leaves to Snapshots (not ok).
func TestDiffersRaw(t *testing.T) {
	for _, tc := range []struct {
		name      string
		pre, post string
		keys      []string
		want      bool
	}{
		{name: "the same bytes", pre: `{"serial":"A","n":1}`, post: `{"serial":"A","n":1}`},
		{name: "last_updated only", pre: `{"serial":"A","last_updated":"t1"}`, post: `{"serial":"A","last_updated":"t2"}`},
		{name: "a string differs", pre: `{"serial":"A"}`, post: `{"serial":"B"}`, want: true},
		{name: "1 and 1.0", pre: `{"n":1}`, post: `{"n":1.0}`},
		{name: "1 and 2", pre: `{"n":1}`, post: `{"n":2}`, want: true},
		{name: "an escaped string equal", pre: `{"s":"é"}`, post: `{"s":"\u00e9"}`},
		{name: "an escaped string differs", pre: `{"s":"é"}`, post: `{"s":"\u00e8"}`, want: true},
		{name: "nested objects reordered", pre: `{"site":{"id":1,"name":"dc1"}}`, post: `{"site": {"name":"dc1","id":1}}`},
		{name: "nested value differs", pre: `{"site":{"id":1}}`, post: `{"site":{"id":2}}`, want: true},
		{name: "members reordered", pre: `{"a":1,"b":2}`, post: `{"b":2,"a":1}`},
		{name: "a key added", pre: `{"a":1}`, post: `{"a":1,"b":null}`, want: true},
		{name: "a key removed", pre: `{"a":1,"b":null}`, post: `{"a":1}`, want: true},
		{name: "last_updated added", pre: `{"a":1}`, post: `{"a":1,"last_updated":"t"}`},
		{name: "empty objects", pre: `{}`, post: `{ }`}, // a value as it arrived, from its brace
		{name: "a repeated name: the last counts", pre: `{"a":1}`, post: `{"a":2,"a":1}`},
		{name: "a repeated name: the last differs", pre: `{"a":1}`, post: `{"a":1,"a":2}`, want: true},
		{name: "a repeated name before", pre: `{"a":2,"a":1}`, post: `{"a":1}`},
		{name: "a repeated name before differs", pre: `{"a":1,"a":2}`, post: `{"a":1}`, want: true},
		{name: "keys: one differs", pre: `{"a":1,"b":1}`, post: `{"a":1,"b":2}`, keys: []string{"a", "b"}, want: true},
		{name: "keys: another differs", pre: `{"a":1,"b":1}`, post: `{"a":1,"b":2}`, keys: []string{"a"}},
		{name: "keys: added", pre: `{}`, post: `{"a":1}`, keys: []string{"a"}, want: true},
		{name: "keys: removed", pre: `{"a":1}`, post: `{}`, keys: []string{"a"}, want: true},
		{name: "keys: absent from both", pre: `{}`, post: `{"b":1}`, keys: []string{"a"}},
		{name: "keys: last_updated", pre: `{"last_updated":"t1"}`, post: `{"last_updated":"t2"}`, keys: []string{"last_updated"}},
		{name: "keys: 1 and 1.0", pre: `{"a":1}`, post: `{"a":1.0}`, keys: []string{"a"}},
		{name: "keys: a repeated name, the last counts", pre: `{"a":1}`, post: `{"a":2,"a":1}`, keys: []string{"a"}},
		{name: "64 members", pre: members(maxRawMembers, "x"), post: members(maxRawMembers, "x")},
		{name: "64 members, one differs", pre: members(maxRawMembers, "x"), post: members(maxRawMembers, "y"), want: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := differsRaw([]byte(tc.pre), []byte(tc.post), tc.keys)
			if !ok {
				t.Fatalf("differsRaw left it to Snapshots")
			}
			if got != tc.want {
				t.Errorf("differsRaw(%q) = %v, want %v", tc.keys, got, tc.want)
			}
		})
	}
	for _, tc := range []struct{ name, pre, post string }{
		{name: "an escaped name after", pre: `{"a":1}`, post: `{"\u0061":1}`},
		{name: "an escaped name before", pre: `{"\u0061":1}`, post: `{"a":1}`},
		{name: "65 members after", pre: `{}`, post: members(maxRawMembers+1, "x")},
		{name: "65 members before", pre: members(maxRawMembers+1, "x"), post: `{}`},
		// Identical large snapshots: the scan per member made this
		// quadratic (seconds for one change); left to Snapshots, linear.
		{name: "40000 members", pre: members(40000, "x"), post: members(40000, "x")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := differsRaw([]byte(tc.pre), []byte(tc.post), nil); ok {
				t.Errorf("differsRaw answered; want it left to Snapshots")
			}
		})
	}
}

// members is a JSON object of n members f0..f(n-1), the last with value
// last and the others "v".
func members(n int, last string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		v := "v"
		if i == n-1 {
			v = last
		}
		b.WriteString(`"f` + strconv.Itoa(i) + `":"` + v + `"`)
	}
	b.WriteByte('}')
	return b.String()
}
