package events_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
)

func TestChangeValidateFor(t *testing.T) {
	obj := map[string]any{"name": "edge-01"}
	for _, tc := range []struct {
		name    string
		subject string
		change  events.Change
		want    string // "" = valid
	}{
		{"create", "changes.dcim.device.create", events.Change{Action: "create", ContentType: "dcim.device", PostChange: obj}, ""},
		{"update", "changes.dcim.device.update", events.Change{Action: "update", ContentType: "dcim.device", PreChange: obj, PostChange: obj}, ""},
		{"update without prechange", "changes.dcim.device.update", events.Change{Action: "update", ContentType: "dcim.device", PostChange: obj}, ""},
		{"delete", "changes.dcim.device.delete", events.Change{Action: "delete", ContentType: "dcim.device", PreChange: obj}, ""},
		{"delete without prechange", "changes.dcim.device.delete", events.Change{Action: "delete", ContentType: "dcim.device"}, ""},
		{"create without postchange", "changes.dcim.device.create", events.Change{Action: "create", ContentType: "dcim.device"}, "a create needs postchange"},
		{"update without postchange", "changes.dcim.device.update", events.Change{Action: "update", ContentType: "dcim.device", PreChange: obj}, "an update needs postchange"},
		{"delete with postchange", "changes.dcim.device.delete", events.Change{Action: "delete", ContentType: "dcim.device", PostChange: obj}, "a delete must have postchange null"},
		{"content type differs from subject", "changes.dcim.device.create", events.Change{Action: "create", ContentType: "dcim.interface", PostChange: obj}, `content_type "dcim.interface" does not match subject "changes.dcim.device.create"`},
		{"action differs from subject", "changes.dcim.device.create", events.Change{Action: "update", ContentType: "dcim.device", PostChange: obj}, `action "update" does not match subject "changes.dcim.device.create"`},
		{"bad action", "changes.dcim.device.create", events.Change{Action: "created", ContentType: "dcim.device", PostChange: obj}, `action: invalid action "created"`},
		{"missing action", "changes.dcim.device.create", events.Change{ContentType: "dcim.device", PostChange: obj}, `action: invalid action ""`},
		{"bad content type", "changes.dcim.device.create", events.Change{Action: "create", ContentType: "Device", PostChange: obj}, `content_type: invalid content type "Device"`},
		{"bad subject", "changes.device.create", events.Change{Action: "create", ContentType: "dcim.device", PostChange: obj}, `invalid subject "changes.device.create"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.change.ValidateFor(tc.subject)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, events.ErrInvalidChange)
			require.ErrorContains(t, err, tc.want)
		})
	}
}
