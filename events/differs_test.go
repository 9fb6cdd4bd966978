package events_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jobhooks/jobhooks/events"
)

// TestDiffers: Differs reads an update's snapshots as they arrived and
// answers as Snapshots does on the decoded change: each case states the
// answer, and Snapshots is asked too.
func TestDiffers(t *testing.T) {
	header := parseHeaderLines("ce-specversion: 1.0\nce-id: chg-1\nce-source: nautobot://prod\nce-type: jobhooks.change.update")
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
		{name: "nested objects reordered", pre: `{"site":{"id":1,"name":"dc1"}}`, post: `{"site": {"name":"dc1","id":1}}`},
		{name: "nested value differs", pre: `{"site":{"id":1}}`, post: `{"site":{"id":2}}`, want: true},
		{name: "members reordered", pre: `{"a":1,"b":2}`, post: `{"b":2,"a":1}`},
		{name: "a key added", pre: `{"a":1}`, post: `{"a":1,"b":null}`, want: true},
		{name: "a key removed", pre: `{"a":1,"b":null}`, post: `{"a":1}`, want: true},
		{name: "last_updated added", pre: `{"a":1}`, post: `{"a":1,"last_updated":"t"}`},
		{name: "empty objects", pre: `{}`, post: ` { } `},
		{name: "a repeated name: the last counts", pre: `{"a":1}`, post: `{"a":2,"a":1}`},
		{name: "a repeated name: the last differs", pre: `{"a":1}`, post: `{"a":1,"a":2}`, want: true},
		{name: "a repeated name before", pre: `{"a":2,"a":1}`, post: `{"a":1}`},
		{name: "an escaped name", pre: `{"a":1}`, post: `{"\u0061":1}`},
		{name: "an escaped name differs", pre: `{"a":1}`, post: `{"\u0061":2}`, want: true},
		{name: "keys: one differs", pre: `{"a":1,"b":1}`, post: `{"a":1,"b":2}`, keys: []string{"a", "b"}, want: true},
		{name: "keys: another differs", pre: `{"a":1,"b":1}`, post: `{"a":1,"b":2}`, keys: []string{"a"}},
		{name: "keys: added", pre: `{}`, post: `{"a":1}`, keys: []string{"a"}, want: true},
		{name: "keys: removed", pre: `{"a":1}`, post: `{}`, keys: []string{"a"}, want: true},
		{name: "keys: absent from both", pre: `{}`, post: `{"b":1}`, keys: []string{"a"}},
		{name: "keys: last_updated", pre: `{"last_updated":"t1"}`, post: `{"last_updated":"t2"}`, keys: []string{"last_updated"}},
		{name: "keys: 1 and 1.0", pre: `{"a":1}`, post: `{"a":1.0}`, keys: []string{"a"}},
		{name: "no prechange", pre: `null`, post: `{"a":1}`, want: true},
		{name: "no prechange, empty postchange", pre: `null`, post: `{}`},
		{name: "no prechange, keys", pre: `null`, post: `{"a":1}`, keys: []string{"b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(`{"action":"update","content_type":"dcim.device","object_id":"1","prechange":` + tc.pre + `,"postchange":` + tc.post + `}`)
			ch, err := events.DecodeHead(updateSubject, header, data)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ch.Differs(tc.keys...)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Differs(%q) = %v, want %v", tc.keys, got, tc.want)
			}
			full, err := events.Decode(updateSubject, header, data)
			if err != nil {
				t.Fatal(err)
			}
			if snap := snapshotsDiffer(full.Change.Snapshots().Differences, tc.keys); snap != tc.want {
				t.Errorf("Snapshots says %v, want %v", snap, tc.want)
			}
		})
	}
}

func snapshotsDiffer(d events.Differences, keys []string) bool {
	if len(keys) == 0 {
		return len(d.Added) > 0 || len(d.Removed) > 0
	}
	for _, k := range keys {
		_, a := d.Added[k]
		_, r := d.Removed[k]
		if a || r {
			return true
		}
	}
	return false
}

// TestDiffersLarge: on snapshots of many members Differs agrees with
// Snapshots (differsRaw leaves them to it: TestDiffersRaw).
func TestDiffersLarge(t *testing.T) {
	header := parseHeaderLines("ce-specversion: 1.0\nce-id: chg-1\nce-source: nautobot://prod\nce-type: jobhooks.change.update")
	object := func(n int, last string) string {
		var b strings.Builder
		b.WriteByte('{')
		for i := range n {
			fmt.Fprintf(&b, `"f%d":"v",`, i)
		}
		b.WriteString(`"last":"` + last + `"}`)
		return b.String()
	}
	for _, tc := range []struct {
		name      string
		pre, post string
		keys      []string
		want      bool
	}{
		{name: "identical", pre: object(40000, "x"), post: object(40000, "x")},
		{name: "the last differs", pre: object(40000, "x"), post: object(40000, "y"), want: true},
		{name: "keys: the last differs", pre: object(40000, "x"), post: object(40000, "y"), keys: []string{"last"}, want: true},
		{name: "keys: another", pre: object(40000, "x"), post: object(40000, "y"), keys: []string{"f1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(`{"action":"update","content_type":"dcim.device","object_id":"1","prechange":` + tc.pre + `,"postchange":` + tc.post + `}`)
			ch, err := events.DecodeHead(updateSubject, header, data)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ch.Differs(tc.keys...)
			if err != nil {
				t.Fatal(err)
			}
			full, err := events.Decode(updateSubject, header, data)
			if err != nil {
				t.Fatal(err)
			}
			if snap := snapshotsDiffer(full.Change.Snapshots().Differences, tc.keys); got != snap || got != tc.want {
				t.Errorf("Differs(%q) = %v, Snapshots says %v, want %v", tc.keys, got, snap, tc.want)
			}
		})
	}
}
