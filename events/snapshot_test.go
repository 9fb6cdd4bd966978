package events_test

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
)

// obj decodes JSON into the map shape changes have after decoding.
func obj(t *testing.T, s string) map[string]any {
	t.Helper()
	if s == "" {
		return nil
	}
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(s), &m))
	return m
}

func TestSnapshots(t *testing.T) {
	for _, tc := range []struct {
		name        string
		action      events.Action
		pre, post   string
		wantPre     string
		wantAdded   string
		wantRemoved string
	}{
		{
			name: "create: added is the whole postchange", action: events.ActionCreate,
			post:      `{"name":"edge-01","serial":"A1"}`,
			wantAdded: `{"name":"edge-01","serial":"A1"}`,
		},
		{
			name: "create ignores a prechange it should not have", action: events.ActionCreate,
			pre: `{"name":"old"}`, post: `{"name":"edge-01"}`,
			wantAdded: `{"name":"edge-01"}`,
		},
		{
			name: "delete: removed is the whole prechange", action: events.ActionDelete,
			pre: `{"name":"edge-01","serial":"A1"}`, wantPre: `{"name":"edge-01","serial":"A1"}`,
			wantRemoved: `{"name":"edge-01","serial":"A1"}`,
		},
		{
			name: "delete without prechange: nothing to report", action: events.ActionDelete,
		},
		{
			name: "update: only changed keys", action: events.ActionUpdate,
			pre: `{"name":"edge-01","serial":"A1","status":"active"}`, post: `{"name":"edge-01","serial":"B2","status":"active"}`,
			wantPre: `{"name":"edge-01","serial":"A1","status":"active"}`, wantAdded: `{"serial":"B2"}`, wantRemoved: `{"serial":"A1"}`,
		},
		{
			name: "update: nested values compared whole", action: events.ActionUpdate,
			pre:         `{"name":"edge-01","custom_fields":{"owner":"neteng","tier":1},"location":{"id":7,"name":"DC1"}}`,
			post:        `{"name":"edge-01","custom_fields":{"owner":"neteng","tier":2},"location":{"id":7,"name":"DC1"}}`,
			wantPre:     `{"name":"edge-01","custom_fields":{"owner":"neteng","tier":1},"location":{"id":7,"name":"DC1"}}`,
			wantAdded:   `{"custom_fields":{"owner":"neteng","tier":2}}`,
			wantRemoved: `{"custom_fields":{"owner":"neteng","tier":1}}`,
		},
		{
			name: "update: lists compared whole", action: events.ActionUpdate,
			pre: `{"tags":["a","b"]}`, post: `{"tags":["b","a"]}`, wantPre: `{"tags":["a","b"]}`,
			wantAdded: `{"tags":["b","a"]}`, wantRemoved: `{"tags":["a","b"]}`,
		},
		{
			name: "update: a key that disappeared is in removed only", action: events.ActionUpdate,
			pre: `{"name":"edge-01","asset_tag":"X9"}`, post: `{"name":"edge-01"}`, wantPre: `{"name":"edge-01","asset_tag":"X9"}`,
			wantAdded: `{}`, wantRemoved: `{"asset_tag":"X9"}`,
		},
		{
			name: "update: a key that appeared is in added only", action: events.ActionUpdate,
			pre: `{"name":"edge-01"}`, post: `{"name":"edge-01","asset_tag":"X9"}`, wantPre: `{"name":"edge-01"}`,
			wantAdded: `{"asset_tag":"X9"}`, wantRemoved: `{}`,
		},
		{
			name: "update: a key set to null is a change", action: events.ActionUpdate,
			pre: `{"serial":"A1"}`, post: `{"serial":null}`, wantPre: `{"serial":"A1"}`,
			wantAdded: `{"serial":null}`, wantRemoved: `{"serial":"A1"}`,
		},
		{
			name: "update: last_updated ignored", action: events.ActionUpdate,
			pre:     `{"name":"edge-01","last_updated":"2026-11-01T00:00:00Z"}`,
			post:    `{"name":"edge-01","last_updated":"2026-11-22T00:00:00Z"}`,
			wantPre: `{"name":"edge-01","last_updated":"2026-11-01T00:00:00Z"}`, wantAdded: `{}`, wantRemoved: `{}`,
		},
		{
			name: "update: last_updated ignored only at the top level", action: events.ActionUpdate,
			pre:         `{"location":{"id":7,"last_updated":"2026-11-01T00:00:00Z"}}`,
			post:        `{"location":{"id":7,"last_updated":"2026-11-22T00:00:00Z"}}`,
			wantPre:     `{"location":{"id":7,"last_updated":"2026-11-01T00:00:00Z"}}`,
			wantAdded:   `{"location":{"id":7,"last_updated":"2026-11-22T00:00:00Z"}}`,
			wantRemoved: `{"location":{"id":7,"last_updated":"2026-11-01T00:00:00Z"}}`,
		},
		{
			name: "update without prechange: added is the whole postchange", action: events.ActionUpdate,
			post: `{"name":"edge-01","serial":"B2"}`, wantAdded: `{"name":"edge-01","serial":"B2"}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch := events.Change{Action: tc.action, ContentType: "dcim.device", PreChange: obj(t, tc.pre), PostChange: obj(t, tc.post)}
			s := ch.Snapshots()
			require.Equal(t, obj(t, tc.wantPre), s.PreChange, "prechange")
			require.Equal(t, obj(t, tc.post), s.PostChange, "postchange")
			require.Equal(t, obj(t, tc.wantAdded), s.Differences.Added, "added")
			require.Equal(t, obj(t, tc.wantRemoved), s.Differences.Removed, "removed")
		})
	}
}

func TestSnapshotsJSONShape(t *testing.T) {
	ch := events.Change{Action: events.ActionCreate, ContentType: "dcim.device", PostChange: map[string]any{"serial": "A1"}}
	got, err := json.Marshal(ch.Snapshots())
	require.NoError(t, err)
	require.JSONEq(t, `{"prechange":null,"postchange":{"serial":"A1"},"differences":{"added":{"serial":"A1"},"removed":null}}`, string(got))
}

// decodeUpdate decodes an update with prechange pre and postchange post as
// the router and receivers do, from a change message.
func decodeUpdate(t *testing.T, pre, post string) *events.Change {
	t.Helper()
	body := `{"action":"update","content_type":"dcim.device","prechange":` + pre + `,"postchange":` + post + `}`
	ce, err := events.Decode(updateSubject, plainHeaders(), []byte(body))
	require.NoError(t, err)
	return &ce.Change
}

// TestSnapshotsCompareNumbersExactly pins that differences compare numbers
// as written, not as float64: 2^53+1 and 2^53 are one float64. Numbers equal
// in value (1 and 1.0, 100 and 1e2) are no difference, as in Nautobot,
// where Python compares them equal.
func TestSnapshotsCompareNumbersExactly(t *testing.T) {
	for _, tc := range []struct {
		name      string
		pre, post string
		differ    bool
	}{
		{"2^53+1 to 2^53", `{"n":9007199254740993}`, `{"n":9007199254740992}`, true},
		{"equal big integers", `{"n":9007199254740993}`, `{"n":9007199254740993}`, false},
		{"beyond 64 bits", `{"n":123456789012345678901234567890}`, `{"n":123456789012345678901234567891}`, true},
		{"negative beyond 64 bits, equal", `{"n":-123456789012345678901234567890}`, `{"n":-123456789012345678901234567890}`, false},
		{"decimals one float64 apart from none", `{"n":0.1}`, `{"n":0.10000000000000001}`, true},
		{"long equal decimals", `{"n":3.14159265358979323846264338327950288}`, `{"n":3.14159265358979323846264338327950288}`, false},
		{"beyond float64's range", `{"n":1e400}`, `{"n":1e401}`, true},
		{"beyond float64's range, equal", `{"n":1e400}`, `{"n":10e399}`, false},
		{"1 and 1.0", `{"n":1}`, `{"n":1.0}`, false},
		{"100 and 1e2", `{"n":100}`, `{"n":1e2}`, false},
		{"0.5 and 5E-1", `{"n":0.5}`, `{"n":5E-1}`, false},
		{"0 and -0.0", `{"n":0}`, `{"n":-0.0}`, false},
		{"1 and -1", `{"n":1}`, `{"n":-1}`, true},
		{"a number and a string", `{"n":1}`, `{"n":"1"}`, true},
		{"nested", `{"cf":{"asn":4294967297000000001}}`, `{"cf":{"asn":4294967297000000000}}`, true},
		{"nested, equal", `{"cf":{"asn":4294967297000000001,"x":[1,2.0]}}`, `{"cf":{"x":[1.0,2],"asn":4294967297000000001}}`, false},
		{"in a list", `{"vids":[9007199254740993]}`, `{"vids":[9007199254740992]}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch := decodeUpdate(t, tc.pre, tc.post)
			d := ch.Snapshots().Differences
			if !tc.differ {
				require.Empty(t, d.Added, "added")
				require.Empty(t, d.Removed, "removed")
				return
			}
			key := "n"
			for k := range d.Added {
				key = k
			}
			added, err := json.Marshal(d.Added)
			require.NoError(t, err)
			removed, err := json.Marshal(d.Removed)
			require.NoError(t, err)
			// The values are the ones written, digit for digit.
			require.Equal(t, `{"`+key+`":`+tc.post[len(`{"`+key+`":`):len(tc.post)-1]+`}`, string(added), "added")
			require.Equal(t, `{"`+key+`":`+tc.pre[len(`{"`+key+`":`):len(tc.pre)-1]+`}`, string(removed), "removed")
		})
	}
}

// TestSnapshotsCompareGoNumbersByValue: a change built in Go (NewEvent,
// Publisher) may hold ints, floats and json.Numbers; equal values are no
// difference whatever their Go type.
func TestSnapshotsCompareGoNumbersByValue(t *testing.T) {
	for _, tc := range []struct {
		name      string
		pre, post any
		differ    bool
	}{
		{"int and float64", 7, 7.0, false},
		{"int64 and json.Number", int64(9007199254740993), json.Number("9007199254740993"), false},
		{"float64 and json.Number it was written as", 0.1, json.Number("0.1"), false},
		{"uint64 max and json.Number", uint64(18446744073709551615), json.Number("18446744073709551615"), false},
		{"small float64 and json.Number", 1e-7, json.Number("0.0000001"), false},
		{"large float64 and json.Number", 1e21, json.Number("1000000000000000000000"), false},
		{"float32 and json.Number", float32(0.1), json.Number("0.1"), false},
		{"-0.0 and 0", math.Copysign(0, -1), 0, false},
		{"int64 and json.Number one apart", int64(9007199254740993), json.Number("9007199254740992"), true},
		{"[]string and []any", []string{"a", "b"}, []any{"a", "b"}, false},
		{"map[string]int and map[string]any", map[string]int{"tier": 1}, map[string]any{"tier": json.Number("1")}, false},
		{"map[string]int and map[string]any, differing", map[string]int{"tier": 1}, map[string]any{"tier": 2}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch := events.Change{Action: events.ActionUpdate, ContentType: "dcim.device",
				PreChange: map[string]any{"v": tc.pre}, PostChange: map[string]any{"v": tc.post}}
			d := ch.Snapshots().Differences
			if tc.differ {
				require.Equal(t, map[string]any{"v": tc.post}, d.Added)
				require.Equal(t, map[string]any{"v": tc.pre}, d.Removed)
			} else {
				require.Empty(t, d.Added)
				require.Empty(t, d.Removed)
			}
		})
	}
}
