package events_test

import (
	"testing"

	"github.com/jobhooks/jobhooks/events"
)

// TestDiffers: Differs reads an update's snapshots as they arrived and
// answers as Snapshots does on the decoded change: each case states the
// answer, and Snapshots is asked too.
func TestDiffers(t *testing.T) {
	header := parseHeaderLines("ce-specversion: 1.0\nce-id: chg-1\nce-source: nautobot://prod\nce-type: jobhooks.change.update")
	// Beside the cases differsRaw answers, those it leaves to Snapshots, and
	// whitespace around the snapshots.
	cases := append([]events.DifferCase(nil), events.DiffersCases...)
	cases = append(cases,
		events.DifferCase{Name: "empty objects, spaced", Pre: `{}`, Post: ` { } `},
		events.DifferCase{Name: "an escaped name", Pre: `{"a":1}`, Post: `{"\u0061":1}`},
		events.DifferCase{Name: "an escaped name differs", Pre: `{"a":1}`, Post: `{"\u0061":2}`, Want: true},
		events.DifferCase{Name: "no prechange", Pre: `null`, Post: `{"a":1}`, Want: true},
		events.DifferCase{Name: "no prechange, empty postchange", Pre: `null`, Post: `{}`},
		events.DifferCase{Name: "no prechange, keys", Pre: `null`, Post: `{"a":1}`, Keys: []string{"b"}},
	)
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			data := []byte(`{"action":"update","content_type":"dcim.device","object_id":"1","prechange":` + tc.Pre + `,"postchange":` + tc.Post + `}`)
			ch, err := events.DecodeHead(updateSubject, header, data)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ch.Differs(tc.Keys...)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.Want {
				t.Errorf("Differs(%q) = %v, want %v", tc.Keys, got, tc.Want)
			}
			full, err := events.Decode(updateSubject, header, data)
			if err != nil {
				t.Fatal(err)
			}
			if snap := snapshotsDiffer(full.Change.Snapshots().Differences, tc.Keys); snap != tc.Want {
				t.Errorf("Snapshots says %v, want %v", snap, tc.Want)
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
	// f0 … f40000, the last one last.
	object := func(last string) string { return events.Members(40001, last) }
	for _, tc := range []struct {
		name      string
		pre, post string
		keys      []string
		want      bool
	}{
		{name: "identical", pre: object("x"), post: object("x")},
		{name: "the last differs", pre: object("x"), post: object("y"), want: true},
		{name: "keys: the last differs", pre: object("x"), post: object("y"), keys: []string{"f40000"}, want: true},
		{name: "keys: another", pre: object("x"), post: object("y"), keys: []string{"f1"}},
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
