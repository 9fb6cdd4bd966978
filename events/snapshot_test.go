package events_test

import (
	"encoding/json"
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
