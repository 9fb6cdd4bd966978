package events_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
)

func TestNameValidation(t *testing.T) {
	for _, tc := range []struct {
		name     string
		validate func(string) error
		value    string
		wantErr  error
		wantText string
	}{
		{"content type ok", events.ValidateContentType, "dcim.device", nil, ""},
		{"content type with digits and underscore", events.ValidateContentType, "ipam.ip_address2", nil, ""},
		{"content type missing model", events.ValidateContentType, "dcim", events.ErrInvalidContentType, `invalid content type "dcim": want <app_label>.<model>`},
		{"content type upper case", events.ValidateContentType, "DCIM.device", events.ErrInvalidContentType, `invalid content type "DCIM.device"`},
		{"content type three tokens", events.ValidateContentType, "dcim.device.x", events.ErrInvalidContentType, `"dcim.device.x"`},
		{"content type leading digit", events.ValidateContentType, "dcim.1device", events.ErrInvalidContentType, `"dcim.1device"`},
		{"content type wildcard", events.ValidateContentType, "dcim.*", events.ErrInvalidContentType, `"dcim.*"`},
		{"content type empty", events.ValidateContentType, "", events.ErrInvalidContentType, `invalid content type ""`},
		{"job ok", events.ValidateJobName, "serial-validator", nil, ""},
		{"job digit first", events.ValidateJobName, "9lives_job", nil, ""},
		{"job 64 chars", events.ValidateJobName, strings.Repeat("a", 64), nil, ""},
		{"job 65 chars", events.ValidateJobName, strings.Repeat("a", 65), events.ErrInvalidJobName, "want 1-64 characters"},
		{"job upper case", events.ValidateJobName, "Serial", events.ErrInvalidJobName, `invalid job name "Serial"`},
		{"job dot", events.ValidateJobName, "serial.validator", events.ErrInvalidJobName, `"serial.validator"`},
		{"job leading dash", events.ValidateJobName, "-x", events.ErrInvalidJobName, `"-x"`},
		{"job empty", events.ValidateJobName, "", events.ErrInvalidJobName, `invalid job name ""`},
		{"hook ok", events.ValidateHookName, "Serial-Check_1", nil, ""},
		{"hook 128 chars", events.ValidateHookName, strings.Repeat("H", 128), nil, ""},
		{"hook 129 chars", events.ValidateHookName, strings.Repeat("H", 129), events.ErrInvalidHookName, "want 1-128 characters"},
		{"hook space", events.ValidateHookName, "serial check", events.ErrInvalidHookName, `invalid hook name "serial check"`},
		{"hook dot (not a KV-safe key for us)", events.ValidateHookName, "a.b", events.ErrInvalidHookName, `"a.b"`},
		{"hook leading underscore", events.ValidateHookName, "_x", events.ErrInvalidHookName, `"_x"`},
		{"change id ok", events.ValidateChangeID, "4f1c2a9e-0000", nil, ""},
		{"change id 256 bytes", events.ValidateChangeID, strings.Repeat("x", 256), nil, ""},
		{"change id 257 bytes", events.ValidateChangeID, strings.Repeat("x", 257), events.ErrInvalidChangeID, "257 bytes, at most 256 allowed"},
		{"change id empty", events.ValidateChangeID, "", events.ErrInvalidChangeID, "invalid change id: it is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.validate(tc.value)
			if tc.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.wantErr)
			require.ErrorContains(t, err, tc.wantText)
		})
	}
}

func TestParseAction(t *testing.T) {
	for _, a := range events.Actions {
		got, err := events.ParseAction(string(a))
		require.NoError(t, err)
		require.Equal(t, a, got)
	}
	for _, bad := range []string{"", "Create", "created", "*"} {
		_, err := events.ParseAction(bad)
		require.ErrorIs(t, err, events.ErrInvalidAction)
		require.ErrorContains(t, err, "want create, update or delete")
	}
}
