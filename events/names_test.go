package events_test

import (
	"regexp"
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

// The patterns of the contract (SPEC.md, Names), which the byte loops of
// the validators implement.
var (
	contentTypeToken = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	jobNamePattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	hookNamePattern  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)
)

// parseChangeSubjectBySplit is ParseChangeSubject as the contract reads.
func parseChangeSubjectBySplit(subject string) (string, events.Action, bool) {
	tokens := strings.Split(subject, ".")
	if len(tokens) != 4 || tokens[0] != "changes" || !contentTypeToken.MatchString(tokens[1]) || !contentTypeToken.MatchString(tokens[2]) {
		return "", "", false
	}
	a := events.Action(tokens[3])
	return tokens[1] + "." + tokens[2], a, a.Valid()
}

// FuzzNames holds the validators' byte loops to the contract's patterns.
func FuzzNames(f *testing.F) {
	for _, s := range []string{"dcim.device", "ipam.ip_address2", "DCIM.device", "dcim.1device", "dcim.device.x", "",
		"serial-validator", "9lives_job", strings.Repeat("a", 64), strings.Repeat("a", 65), "-x", "Serial-Check_1",
		strings.Repeat("H", 128), strings.Repeat("H", 129), "_x", "a\n", "changes.dcim.device.update", "changes..device.update",
		"changes.dcim.device.update.x", "changes.dcim.device.", "changes.dcim.device.updatE"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		app, model, ok := strings.Cut(s, ".")
		wantCT := ok && contentTypeToken.MatchString(app) && contentTypeToken.MatchString(model)
		if got := events.ValidateContentType(s) == nil; got != wantCT {
			t.Errorf("ValidateContentType(%q) ok = %v, the pattern says %v", s, got, wantCT)
		}
		if got, want := events.ValidateJobName(s) == nil, jobNamePattern.MatchString(s); got != want {
			t.Errorf("ValidateJobName(%q) ok = %v, the pattern says %v", s, got, want)
		}
		if got, want := events.ValidateHookName(s) == nil, hookNamePattern.MatchString(s); got != want {
			t.Errorf("ValidateHookName(%q) ok = %v, the pattern says %v", s, got, want)
		}
		ct, action, err := events.ParseChangeSubject(s)
		wantCT2, wantAction, want := parseChangeSubjectBySplit(s)
		if (err == nil) != want || err == nil && (ct != wantCT2 || action != wantAction) {
			t.Errorf("ParseChangeSubject(%q) = %q, %q, %v; want %q, %q, ok %v", s, ct, action, err, wantCT2, wantAction, want)
		}
	})
}
