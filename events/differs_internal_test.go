package events

import (
	"strconv"
	"strings"
	"testing"
)

// DifferCase is an update's snapshots and the answer Snapshots gives of
// them: TestDiffersRaw asks differsRaw, TestDiffers asks Differs and
// Snapshots, of the same cases.
type DifferCase struct {
	Name      string
	Pre, Post string
	Keys      []string
	Want      bool
}

// differsCases are the cases differsRaw answers itself (ok).
var differsCases = []DifferCase{
	{Name: "the same bytes", Pre: `{"serial":"A","n":1}`, Post: `{"serial":"A","n":1}`},
	{Name: "last_updated only", Pre: `{"serial":"A","last_updated":"t1"}`, Post: `{"serial":"A","last_updated":"t2"}`},
	{Name: "a string differs", Pre: `{"serial":"A"}`, Post: `{"serial":"B"}`, Want: true},
	{Name: "1 and 1.0", Pre: `{"n":1}`, Post: `{"n":1.0}`},
	{Name: "1 and 2", Pre: `{"n":1}`, Post: `{"n":2}`, Want: true},
	{Name: "an escaped string equal", Pre: `{"s":"é"}`, Post: `{"s":"\u00e9"}`},
	{Name: "an escaped string differs", Pre: `{"s":"é"}`, Post: `{"s":"\u00e8"}`, Want: true},
	{Name: "nested objects reordered", Pre: `{"site":{"id":1,"name":"dc1"}}`, Post: `{"site": {"name":"dc1","id":1}}`},
	{Name: "nested value differs", Pre: `{"site":{"id":1}}`, Post: `{"site":{"id":2}}`, Want: true},
	{Name: "members reordered", Pre: `{"a":1,"b":2}`, Post: `{"b":2,"a":1}`},
	{Name: "a key added", Pre: `{"a":1}`, Post: `{"a":1,"b":null}`, Want: true},
	{Name: "a key removed", Pre: `{"a":1,"b":null}`, Post: `{"a":1}`, Want: true},
	{Name: "last_updated added", Pre: `{"a":1}`, Post: `{"a":1,"last_updated":"t"}`},
	{Name: "empty objects", Pre: `{}`, Post: `{ }`},
	{Name: "a repeated Name: the last counts", Pre: `{"a":1}`, Post: `{"a":2,"a":1}`},
	{Name: "a repeated Name: the last differs", Pre: `{"a":1}`, Post: `{"a":1,"a":2}`, Want: true},
	{Name: "a repeated name before", Pre: `{"a":2,"a":1}`, Post: `{"a":1}`},
	{Name: "a repeated name before differs", Pre: `{"a":1,"a":2}`, Post: `{"a":1}`, Want: true},
	{Name: "Keys: one differs", Pre: `{"a":1,"b":1}`, Post: `{"a":1,"b":2}`, Keys: []string{"a", "b"}, Want: true},
	{Name: "Keys: another differs", Pre: `{"a":1,"b":1}`, Post: `{"a":1,"b":2}`, Keys: []string{"a"}},
	{Name: "Keys: added", Pre: `{}`, Post: `{"a":1}`, Keys: []string{"a"}, Want: true},
	{Name: "Keys: removed", Pre: `{"a":1}`, Post: `{}`, Keys: []string{"a"}, Want: true},
	{Name: "Keys: absent from both", Pre: `{}`, Post: `{"b":1}`, Keys: []string{"a"}},
	{Name: "Keys: last_updated", Pre: `{"last_updated":"t1"}`, Post: `{"last_updated":"t2"}`, Keys: []string{"last_updated"}},
	{Name: "Keys: 1 and 1.0", Pre: `{"a":1}`, Post: `{"a":1.0}`, Keys: []string{"a"}},
	{Name: "Keys: a repeated name, the last counts", Pre: `{"a":1}`, Post: `{"a":2,"a":1}`, Keys: []string{"a"}},
	{Name: "64 members", Pre: members(maxRawMembers, "x"), Post: members(maxRawMembers, "x")},
	{Name: "64 members, one differs", Pre: members(maxRawMembers, "x"), Post: members(maxRawMembers, "y"), Want: true},
}

// DiffersCases and Members are for the events_test package.
var (
	DiffersCases = differsCases
	Members      = members
)

// TestDiffersRaw: differsRaw itself, on the cases it answers (ok), each
// with the answer Snapshots gives (TestDiffers checks those through
// Differs), and the cases it leaves to Snapshots (not ok).
func TestDiffersRaw(t *testing.T) {
	for _, tc := range differsCases {
		t.Run(tc.Name, func(t *testing.T) {
			got, ok := differsRaw([]byte(tc.Pre), []byte(tc.Post), tc.Keys)
			if !ok {
				t.Fatalf("differsRaw left it to Snapshots")
			}
			if got != tc.Want {
				t.Errorf("differsRaw(%q) = %v, want %v", tc.Keys, got, tc.Want)
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
