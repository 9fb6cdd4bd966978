package hookconfig_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/hookconfig"
)

func TestDecodeJob(t *testing.T) {
	j, err := hookconfig.DecodeJob([]byte(`{"name": "webhook", "description": "POST the change", "enabled": true,
		"approval_required": true, "registered_at": "2026-11-22T10:00:00Z", "version": "2.0", "hosts": ["a"]}`))
	require.NoError(t, err, "unknown fields from newer receivers are allowed")
	assert.Equal(t, &hookconfig.Job{Name: "webhook", Description: "POST the change", Enabled: true, ApprovalRequired: true,
		RegisteredAt: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}, j)

	tests := []struct {
		name string
		in   string
		want string
	}{
		{"not JSON", `enabled`, `invalid job registration: invalid character 'e' looking for beginning of value`},
		{"no name", `{"enabled": true}`, `invalid job registration: name: invalid job name "": ` + wantJobName},
		{"bad name", `{"name": "Web Hook"}`, `invalid job registration: name: invalid job name "Web Hook": ` + wantJobName},
		{"wrong type", `{"name": "webhook", "enabled": "yes"}`, `invalid job registration: json: cannot unmarshal string into Go struct field Job.enabled of type bool`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := hookconfig.DecodeJob([]byte(tt.in))
			require.ErrorIs(t, err, hookconfig.ErrInvalidJob)
			assert.EqualError(t, err, tt.want)
			assert.Nil(t, j)
		})
	}
}

func TestJobs(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()

	_, _, err := e.jobs.Get(ctx, "webhook")
	require.ErrorIs(t, err, hookconfig.ErrJobNotFound)
	assert.EqualError(t, err, `job "webhook" is not registered`)
	list, err := e.jobs.List(ctx)
	require.NoError(t, err)
	assert.Empty(t, list)

	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	webhook := &hookconfig.Job{Name: "webhook", Description: "POST the change", Enabled: true, RegisteredAt: at}
	rev, err := e.jobs.Put(ctx, webhook)
	require.NoError(t, err)
	validator := &hookconfig.Job{Name: "serial-validator", RegisteredAt: at}
	_, err = e.jobs.Put(ctx, validator)
	require.NoError(t, err)

	got, gotRev, err := e.jobs.Get(ctx, "webhook")
	require.NoError(t, err)
	assert.Equal(t, webhook, got)
	assert.Equal(t, rev, gotRev)

	list, err = e.jobs.List(ctx)
	require.NoError(t, err)
	assert.Equal(t, []*hookconfig.Job{validator, webhook}, list, "sorted by name")

	_, err = e.jobs.Put(ctx, &hookconfig.Job{Name: "jobs.x"})
	require.ErrorIs(t, err, hookconfig.ErrInvalidJob)
	assert.EqualError(t, err, `invalid job registration: name: invalid job name "jobs.x": `+wantJobName)

	_, _, err = e.jobs.Get(ctx, "Bad Name")
	require.ErrorIs(t, err, events.ErrInvalidJobName)
}

func TestJobsInvalidValue(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	_, err := e.jobs.Put(ctx, &hookconfig.Job{Name: "good", Enabled: true})
	require.NoError(t, err)
	rev, err := e.jobsKV.Put(ctx, "bad", []byte(`{"name": "other", "enabled": true}`))
	require.NoError(t, err)

	_, gotRev, err := e.jobs.Get(ctx, "bad")
	require.ErrorIs(t, err, hookconfig.ErrInvalidJob)
	assert.EqualError(t, err, `job "bad": invalid job registration: name "other" does not match its key "bad"`)
	assert.Equal(t, rev, gotRev)

	list, err := e.jobs.List(ctx)
	require.ErrorIs(t, err, hookconfig.ErrInvalidJob)
	assert.EqualError(t, err, `job "bad" (revision 2): invalid job registration: name "other" does not match its key "bad"`)
	require.Len(t, list, 1, "the valid jobs are still listed")
	assert.Equal(t, "good", list[0].Name)
}

func TestJobsUpdateIsCompareAndSet(t *testing.T) {
	e := newEnv(t)
	jobs := e.jobs
	ctx := t.Context()

	// Created when absent.
	job, rev, err := jobs.Update(ctx, "audit", func(current *hookconfig.Job) (*hookconfig.Job, error) {
		require.Nil(t, current)
		return &hookconfig.Job{Name: "audit", Enabled: false}, nil
	})
	require.NoError(t, err)
	require.False(t, job.Enabled)
	require.NotZero(t, rev)

	// A write in between makes fn run again on the newer value.
	calls := 0
	job, _, err = jobs.Update(ctx, "audit", func(current *hookconfig.Job) (*hookconfig.Job, error) {
		calls++
		if calls == 1 {
			_, err := jobs.Put(ctx, &hookconfig.Job{Name: "audit", Enabled: true, Description: "operator enabled it"})
			require.NoError(t, err)
		}
		next := *current
		next.Description = "re-registered"
		return &next, nil
	})
	require.NoError(t, err)
	require.Equal(t, 2, calls)
	require.True(t, job.Enabled, "the operator's enable, written in between, is kept")
	got, _, err := jobs.Get(ctx, "audit")
	require.NoError(t, err)
	require.Equal(t, job, got)

	_, _, err = jobs.Update(ctx, "audit", func(*hookconfig.Job) (*hookconfig.Job, error) {
		return &hookconfig.Job{Name: "other"}, nil
	})
	require.ErrorIs(t, err, hookconfig.ErrInvalidJob)
	_, _, err = jobs.Update(ctx, "Bad Name", nil)
	require.ErrorIs(t, err, events.ErrInvalidJobName)
}

func FuzzDecodeJobEntry(f *testing.F) {
	f.Add("webhook", []byte(`{"name":"webhook","description":"POST","enabled":true,"approval_required":false,"registered_at":"2026-11-22T10:00:00Z"}`))
	f.Add("webhook", []byte(`{"name":"other"}`))
	f.Add("Bad Name", []byte(`{"name":"Bad Name"}`))
	f.Add("x", []byte(`{"name":"x","enabled":"yes"}`))
	f.Add("x", []byte(`[]`))
	f.Fuzz(func(t *testing.T, key string, value []byte) {
		job, err := hookconfig.DecodeJobEntry(key, value)
		if err != nil {
			if !errors.Is(err, hookconfig.ErrInvalidJob) {
				t.Fatalf("error does not wrap ErrInvalidJob: %v", err)
			}
			return
		}
		if job.Name != key {
			t.Fatalf("decoded job %q under key %q", job.Name, key)
		}
		if err := events.ValidateJobName(job.Name); err != nil {
			t.Fatalf("decoded an invalid name: %v", err)
		}
	})
}
