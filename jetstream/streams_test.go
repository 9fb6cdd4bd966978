package jetstream_test

import (
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
)

func TestEnsureStreamAddsMissingSubject(t *testing.T) {
	s := jstest.Start(t)
	ctx := testContext(t)
	_, err := s.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "DEADLETTER", Subjects: []string{"dlq.>"}, Storage: jetstream.FileStorage})
	require.NoError(t, err)

	var r jhjs.ProvisionResult
	stream, err := jhjs.EnsureStream(ctx, s.JS, jhjs.StreamConfigs(jhjs.DefaultConfig())[2], jhjs.WithResult(&r))
	require.NoError(t, err)
	require.Equal(t, jhjs.ActionUpdated, r.Action)
	require.Contains(t, r.Changes, "subjects: add deadletter.>")
	require.Equal(t, []string{"dlq.>", "deadletter.>"}, stream.CachedInfo().Config.Subjects)
}

func TestEnsureStreamConflict(t *testing.T) {
	for _, tc := range []struct {
		name     string
		existing jetstream.StreamConfig
		want     string
	}{
		{
			name:     "memory storage",
			existing: jetstream.StreamConfig{Name: "CHANGES", Subjects: []string{"changes.>"}, Storage: jetstream.MemoryStorage},
			want: "stream conflict: stream CHANGES exists with memory storage, jobhooks needs file; storage cannot change in place — " +
				"back it up (nats stream backup CHANGES DIR) and recreate it, or point jobhooks at another account",
		},
		{
			name:     "work queue retention",
			existing: jetstream.StreamConfig{Name: "CHANGES", Subjects: []string{"changes.>"}, Retention: jetstream.WorkQueuePolicy},
			want: "stream conflict: stream CHANGES exists with workqueue retention, jobhooks needs limits; retention cannot change in place — " +
				"back it up (nats stream backup CHANGES DIR) and recreate it, or point jobhooks at another account",
		},
		{
			name: "both",
			existing: jetstream.StreamConfig{Name: "CHANGES", Subjects: []string{"changes.>"},
				Storage: jetstream.MemoryStorage, Retention: jetstream.WorkQueuePolicy},
			want: "stream conflict: stream CHANGES exists with memory storage, jobhooks needs file and workqueue retention, jobhooks needs limits; " +
				"storage and retention cannot change in place — back it up (nats stream backup CHANGES DIR) and recreate it, or point jobhooks at another account",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := jstest.Start(t)
			ctx := testContext(t)
			stream, err := s.JS.CreateStream(ctx, tc.existing)
			require.NoError(t, err)
			_, err = s.JS.Publish(ctx, "changes.dcim.device.create", []byte("{}"))
			require.NoError(t, err)
			before := stream.CachedInfo()

			results, err := jhjs.Provision(ctx, s.JS, jhjs.DefaultConfig(), nil)
			require.ErrorIs(t, err, jhjs.ErrStreamConflict)
			require.EqualError(t, err, tc.want)
			require.Empty(t, results)

			stream, err = s.JS.Stream(ctx, "CHANGES")
			require.NoError(t, err)
			after := stream.CachedInfo()
			require.Equal(t, before.Config, after.Config, "a conflicting stream is left alone")
			require.Equal(t, before.Created, after.Created)
			require.Equal(t, uint64(1), after.State.Msgs)
		})
	}
}

func TestEnsureStreamSubjectOverlap(t *testing.T) {
	s := jstest.Start(t)
	ctx := testContext(t)
	_, err := s.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "EVERYTHING", Subjects: []string{"changes.>"}})
	require.NoError(t, err)
	_, err = jhjs.EnsureStream(ctx, s.JS, jhjs.StreamConfigs(jhjs.DefaultConfig())[0])
	require.ErrorContains(t, err, "create stream CHANGES: nats: API error: code=400 err_code=10065 description=subjects overlap with an existing stream")
	require.ErrorContains(t, err, "nats stream ls -a")
}

func streamInfo(t *testing.T, js jetstream.JetStream, name string) *jetstream.StreamInfo {
	t.Helper()
	stream, err := js.Stream(testContext(t), name)
	require.NoError(t, err)
	return stream.CachedInfo()
}
