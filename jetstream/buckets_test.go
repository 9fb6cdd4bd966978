package jetstream_test

import (
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
)

func TestEnsureBucket(t *testing.T) {
	s := jstest.Start(t)
	ctx := testContext(t)
	want := jhjs.BucketConfigs(jhjs.DefaultConfig())[0]

	var r jhjs.ProvisionResult
	kv, err := jhjs.EnsureBucket(ctx, s.JS, want, jhjs.WithResult(&r))
	require.NoError(t, err)
	require.Equal(t, jhjs.ActionCreated, r.Action)
	_, err = kv.Put(ctx, "hook", []byte("v1"))
	require.NoError(t, err)
	created := streamInfo(t, s.JS, "KV_job_hooks").Created

	_, err = jhjs.EnsureBucket(ctx, s.JS, want, jhjs.WithResult(&r))
	require.NoError(t, err)
	require.Equal(t, jhjs.ProvisionResult{Kind: jhjs.KindBucket, Name: "job_hooks", Action: jhjs.ActionUnchanged}, r)

	// An operator's limit on the bucket survives our update.
	op := streamInfo(t, s.JS, "KV_job_hooks").Config
	op.MaxBytes = 1 << 20
	_, err = s.JS.UpdateStream(ctx, op)
	require.NoError(t, err)

	want.History = 5
	want.TTL = day
	kv, err = jhjs.EnsureBucket(ctx, s.JS, want, jhjs.WithResult(&r))
	require.NoError(t, err)
	require.Equal(t, jhjs.ProvisionResult{Kind: jhjs.KindBucket, Name: "job_hooks", Action: jhjs.ActionUpdated,
		Changes: []string{"history: 10 -> 5", "TTL: 0s -> 1d"}}, r)
	status, err := kv.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(5), status.History())
	require.Equal(t, day, status.TTL())
	require.Equal(t, int64(1<<20), status.Config().MaxBytes)
	require.Equal(t, created, streamInfo(t, s.JS, "KV_job_hooks").Created)
	entry, err := kv.Get(ctx, "hook")
	require.NoError(t, err)
	require.Equal(t, "v1", string(entry.Value()))
}

func TestEnsureBucketConflict(t *testing.T) {
	s := jstest.Start(t)
	ctx := testContext(t)
	_, err := s.JS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "jobs", Storage: jetstream.MemoryStorage})
	require.NoError(t, err)
	_, err = jhjs.Provision(ctx, s.JS, jhjs.DefaultConfig(), nil)
	require.ErrorIs(t, err, jhjs.ErrBucketConflict)
	require.EqualError(t, err, "KV bucket conflict: KV bucket jobs exists with memory storage, jobhooks needs file; storage cannot change in place — "+
		"back it up (nats stream backup KV_jobs DIR) and recreate it, or point jobhooks at another account")
	require.Equal(t, jetstream.MemoryStorage, streamInfo(t, s.JS, "KV_jobs").Config.Storage)

	_, err = s.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "KV_job_results", Subjects: []string{"not.kv"}})
	require.NoError(t, err)
	_, err = jhjs.EnsureBucket(ctx, s.JS, jhjs.BucketConfigs(jhjs.DefaultConfig())[2])
	require.ErrorIs(t, err, jhjs.ErrBucketConflict)
	require.ErrorContains(t, err, "stream KV_job_results exists but is not a KV bucket")
}
