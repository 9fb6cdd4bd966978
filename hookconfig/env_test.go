package hookconfig_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/hookconfig"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
)

// env is a real JetStream server with the job_hooks and jobs buckets.
type env struct {
	srv    *jstest.Server
	hooks  jetstream.KeyValue
	jobsKV jetstream.KeyValue
	jobs   *hookconfig.Jobs
	store  *hookconfig.Store
}

func newEnv(t testing.TB) *env {
	t.Helper()
	s := jstest.Start(t)
	hooks, err := s.JS.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: jhjs.BucketJobHooks, History: 10})
	require.NoError(t, err)
	jobsKV, err := s.JS.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: jhjs.BucketJobs, History: 10})
	require.NoError(t, err)
	jobs := hookconfig.NewJobs(jobsKV)
	return &env{srv: s, hooks: hooks, jobsKV: jobsKV, jobs: jobs, store: hookconfig.NewStore(hooks, jobs)}
}

// registerJob registers job as its receiver would.
func (e *env) registerJob(t testing.TB, name string, enabled bool) {
	t.Helper()
	_, err := e.jobs.Put(t.Context(), &hookconfig.Job{Name: name, Enabled: enabled, RegisteredAt: time.Now().UTC()})
	require.NoError(t, err)
}

// hook returns a valid, enabled hook.
func hook(name, job string, contentTypes []string, actions ...events.Action) *hookconfig.Hook {
	return &hookconfig.Hook{Name: name, ContentTypes: contentTypes, Job: job, Enabled: true, Events: actions}
}

func cts(contentTypes ...string) []string { return contentTypes }
