package jetstream_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
)

const day = 24 * time.Hour

func allWith(action jhjs.ProvisionAction) []jhjs.ProvisionResult {
	var out []jhjs.ProvisionResult
	for _, s := range []string{"CHANGES", "JOBS", "DEADLETTER"} {
		out = append(out, jhjs.ProvisionResult{Kind: jhjs.KindStream, Name: s, Action: action})
	}
	for _, b := range []string{"job_hooks", "jobs", "job_results"} {
		out = append(out, jhjs.ProvisionResult{Kind: jhjs.KindBucket, Name: b, Action: action})
	}
	return out
}

func TestProvisionCreatesTheContract(t *testing.T) {
	s := jstest.Start(t)
	ctx := testContext(t)
	var logs jstest.LogBuffer
	results, err := jhjs.Provision(ctx, s.JS, jhjs.DefaultConfig(), slog.New(slog.NewTextHandler(&logs, nil)))
	require.NoError(t, err)
	require.Equal(t, allWith(jhjs.ActionCreated), results)
	require.NotContains(t, logs.String(), "level=WARN", "one replica on a single server is no warning")

	for _, tc := range []struct {
		name, subject string
		maxAge        time.Duration
	}{
		{"CHANGES", "changes.>", 7 * day},
		{"JOBS", "jobs.>", 7 * day},
		{"DEADLETTER", "deadletter.>", 30 * day},
	} {
		stream, err := s.JS.Stream(ctx, tc.name)
		require.NoError(t, err)
		cfg := stream.CachedInfo().Config
		require.Equal(t, []string{tc.subject}, cfg.Subjects, tc.name)
		require.Equal(t, jetstream.FileStorage, cfg.Storage, tc.name)
		require.Equal(t, jetstream.LimitsPolicy, cfg.Retention, tc.name)
		require.Equal(t, tc.maxAge, cfg.MaxAge, tc.name)
		require.Equal(t, 2*time.Minute, cfg.Duplicates, tc.name)
		require.Equal(t, 1, cfg.Replicas, tc.name)
		require.NotEmpty(t, cfg.Description, tc.name)
	}
	for _, tc := range []struct {
		name    string
		history int64
		ttl     time.Duration
	}{
		{"job_hooks", 10, 0},
		{"jobs", 1, 0},
		{"job_results", 1, 30 * day},
	} {
		kv, err := s.JS.KeyValue(ctx, tc.name)
		require.NoError(t, err)
		status, err := kv.Status(ctx)
		require.NoError(t, err)
		require.Equal(t, tc.history, status.History(), tc.name)
		require.Equal(t, tc.ttl, status.TTL(), tc.name)
		require.Equal(t, jetstream.FileStorage, status.Config().Storage, tc.name)
		require.NotEmpty(t, status.Config().Description, tc.name)
	}
}

func TestProvisionTwiceIsNoOp(t *testing.T) {
	s := jstest.Start(t)
	ctx := testContext(t)
	_, err := jhjs.Provision(ctx, s.JS, jhjs.DefaultConfig(), nil)
	require.NoError(t, err)

	before := map[string]*jetstream.StreamInfo{}
	for _, name := range []string{"CHANGES", "JOBS", "DEADLETTER", "KV_job_hooks", "KV_jobs", "KV_job_results"} {
		stream, err := s.JS.Stream(ctx, name)
		require.NoError(t, err)
		before[name] = stream.CachedInfo()
	}
	for _, subject := range []string{"changes.dcim.device.update", "jobs.serial-check", "deadletter.changes"} {
		_, err := s.JS.Publish(ctx, subject, []byte("{}"))
		require.NoError(t, err)
	}
	kv, err := s.JS.KeyValue(ctx, "job_hooks")
	require.NoError(t, err)
	_, err = kv.Put(ctx, "serial-check", []byte(`{"name":"serial-check"}`))
	require.NoError(t, err)

	logs := newLogRecorder()
	results, err := jhjs.Provision(ctx, s.JS, jhjs.DefaultConfig(), slog.New(logs))
	require.NoError(t, err)
	require.Equal(t, allWith(jhjs.ActionUnchanged), results)
	require.Contains(t, logs.text(), `level=DEBUG msg="JetStream stream unchanged" stream=CHANGES`)

	for name, was := range before {
		stream, err := s.JS.Stream(ctx, name)
		require.NoError(t, err)
		now := stream.CachedInfo()
		require.Equal(t, was.Created, now.Created, name)
		require.Equal(t, was.Config, now.Config, name)
		if name[:3] != "KV_" {
			require.Equal(t, uint64(1), now.State.Msgs, "%s keeps its message", name)
		}
	}
	entry, err := kv.Get(ctx, "serial-check")
	require.NoError(t, err)
	require.JSONEq(t, `{"name":"serial-check"}`, string(entry.Value()))
}

func TestProvisionAppliesMaxAge(t *testing.T) {
	s := jstest.Start(t)
	ctx := testContext(t)
	cfg := jhjs.DefaultConfig()
	_, err := jhjs.Provision(ctx, s.JS, cfg, nil)
	require.NoError(t, err)
	_, err = s.JS.Publish(ctx, "changes.dcim.device.create", []byte("{}"))
	require.NoError(t, err)

	cfg.ChangesMaxAge = time.Hour
	logs := newLogRecorder()
	results, err := jhjs.Provision(ctx, s.JS, cfg, slog.New(logs))
	require.NoError(t, err)
	want := allWith(jhjs.ActionUnchanged)
	want[0] = jhjs.ProvisionResult{Kind: jhjs.KindStream, Name: "CHANGES", Action: jhjs.ActionUpdated, Changes: []string{"max age: 7d -> 1h0m0s"}}
	require.Equal(t, want, results)
	require.Contains(t, logs.text(), `level=INFO msg="JetStream stream updated" stream=CHANGES changes="max age: 7d -> 1h0m0s"`)

	stream, err := s.JS.Stream(ctx, "CHANGES")
	require.NoError(t, err)
	require.Equal(t, time.Hour, stream.CachedInfo().Config.MaxAge)
	require.Equal(t, uint64(1), stream.CachedInfo().State.Msgs, "the update keeps the data")
}

func TestProvisionKeepsOperatorSettings(t *testing.T) {
	s := jstest.Start(t)
	ctx := testContext(t)
	cfg := jhjs.DefaultConfig()
	_, err := jhjs.Provision(ctx, s.JS, cfg, nil)
	require.NoError(t, err)

	stream, err := s.JS.Stream(ctx, "JOBS")
	require.NoError(t, err)
	op := stream.CachedInfo().Config
	op.MaxBytes = 1 << 30
	op.Subjects = append(op.Subjects, "legacy.jobs.>")
	_, err = s.JS.UpdateStream(ctx, op)
	require.NoError(t, err)

	results, err := jhjs.Provision(ctx, s.JS, cfg, nil)
	require.NoError(t, err)
	require.Equal(t, allWith(jhjs.ActionUnchanged), results, "operator additions are not differences")

	cfg.JobsMaxAge = 2 * day
	results, err = jhjs.Provision(ctx, s.JS, cfg, nil)
	require.NoError(t, err)
	require.Equal(t, jhjs.ActionUpdated, results[1].Action)
	stream, err = s.JS.Stream(ctx, "JOBS")
	require.NoError(t, err)
	got := stream.CachedInfo().Config
	require.Equal(t, 2*day, got.MaxAge)
	require.Equal(t, int64(1<<30), got.MaxBytes, "operator's MaxBytes survives")
	require.Equal(t, []string{"jobs.>", "legacy.jobs.>"}, got.Subjects, "operator's subject survives")
}

func TestProvisionRejectsInvalidConfig(t *testing.T) {
	s := jstest.Start(t)
	_, err := jhjs.Provision(testContext(t), s.JS, jhjs.Config{}, nil)
	require.ErrorIs(t, err, jhjs.ErrConfig)
	names := s.JS.StreamNames(testContext(t))
	for range names.Name() {
		t.Fatal("nothing is created from an invalid config")
	}
	require.NoError(t, names.Err())
}
