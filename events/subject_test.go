package events_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
)

func TestChangeSubjectRoundTrip(t *testing.T) {
	for _, a := range events.Actions {
		subject, err := events.ChangeSubject("dcim.device", a)
		require.NoError(t, err)
		require.Equal(t, "changes.dcim.device."+string(a), subject)
		ct, action, err := events.ParseChangeSubject(subject)
		require.NoError(t, err)
		require.Equal(t, "dcim.device", ct)
		require.Equal(t, a, action)
	}
}

func TestChangeSubjectErrors(t *testing.T) {
	_, err := events.ChangeSubject("dcim", events.ActionCreate)
	require.ErrorIs(t, err, events.ErrInvalidContentType)
	_, err = events.ChangeSubject("dcim.device", "modify")
	require.ErrorIs(t, err, events.ErrInvalidAction)
}

func TestParseChangeSubjectErrors(t *testing.T) {
	for _, tc := range []struct {
		subject string
		want    string
	}{
		{"changes.dcim.device", `invalid subject "changes.dcim.device": want changes.<app_label>.<model>.<action>`},
		{"changes.dcim.device.update.extra", "want changes.<app_label>.<model>.<action>"},
		{"jobs.dcim.device.update", "want changes.<app_label>.<model>.<action>"},
		{"changes.DCIM.device.update", `invalid content type "DCIM.device"`},
		{"changes.dcim.device.modify", `invalid action "modify"`},
		{"", `invalid subject ""`},
	} {
		t.Run(tc.subject, func(t *testing.T) {
			_, _, err := events.ParseChangeSubject(tc.subject)
			require.ErrorIs(t, err, events.ErrInvalidSubject)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestJobSubjects(t *testing.T) {
	subject, err := events.JobSubject("serial-validator")
	require.NoError(t, err)
	require.Equal(t, "jobs.serial-validator", subject)
	job, err := events.ParseJobSubject(subject)
	require.NoError(t, err)
	require.Equal(t, "serial-validator", job)

	dl, err := events.DeadLetterJobSubject("serial-validator")
	require.NoError(t, err)
	require.Equal(t, "deadletter.jobs.serial-validator", dl)
	require.Equal(t, "deadletter.changes", events.DeadLetterChanges)

	_, err = events.JobSubject("Bad.Job")
	require.ErrorIs(t, err, events.ErrInvalidJobName)
	_, err = events.DeadLetterJobSubject("")
	require.ErrorIs(t, err, events.ErrInvalidJobName)
	for _, bad := range []string{"jobs", "jobs.", "jobs.a.b", "changes.x", "jobs.UPPER"} {
		_, err = events.ParseJobSubject(bad)
		require.ErrorIs(t, err, events.ErrInvalidSubject, bad)
	}
}
