package jetstream_test

import (
	"flag"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
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
	results, err := jhjs.Provision(ctx, s.JS, jhjs.DefaultConfig(), nil)
	require.NoError(t, err)
	require.Equal(t, allWith(jhjs.ActionCreated), results)

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
	created := streamInfo(t, s, "KV_job_hooks").Created

	_, err = jhjs.EnsureBucket(ctx, s.JS, want, jhjs.WithResult(&r))
	require.NoError(t, err)
	require.Equal(t, jhjs.ProvisionResult{Kind: jhjs.KindBucket, Name: "job_hooks", Action: jhjs.ActionUnchanged}, r)

	// An operator's limit on the bucket survives our update.
	op := streamInfo(t, s, "KV_job_hooks").Config
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
	require.Equal(t, created, streamInfo(t, s, "KV_job_hooks").Created)
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
	require.Equal(t, jetstream.MemoryStorage, streamInfo(t, s, "KV_jobs").Config.Storage)

	_, err = s.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "KV_job_results", Subjects: []string{"not.kv"}})
	require.NoError(t, err)
	_, err = jhjs.EnsureBucket(ctx, s.JS, jhjs.BucketConfigs(jhjs.DefaultConfig())[2])
	require.ErrorIs(t, err, jhjs.ErrBucketConflict)
	require.ErrorContains(t, err, "stream KV_job_results exists but is not a KV bucket")
}

func TestEnsureRouterConsumer(t *testing.T) {
	s := jstest.Start(t)
	ctx := testContext(t)
	_, err := jhjs.Provision(ctx, s.JS, jhjs.DefaultConfig(), nil)
	require.NoError(t, err)

	var r jhjs.ProvisionResult
	cons, err := jhjs.EnsureConsumer(ctx, s.JS, "CHANGES", jhjs.RouterConsumerConfig(), jhjs.WithResult(&r))
	require.NoError(t, err)
	require.Equal(t, jhjs.ActionCreated, r.Action)
	info := cons.CachedInfo()
	require.Equal(t, "router", info.Config.Durable)
	require.Equal(t, "changes.>", info.Config.FilterSubject)
	require.Equal(t, jetstream.AckExplicitPolicy, info.Config.AckPolicy)
	require.Equal(t, jetstream.DeliverAllPolicy, info.Config.DeliverPolicy)
	require.Equal(t, 30*time.Second, info.Config.AckWait)
	require.Equal(t, 1000, info.Config.MaxAckPending)

	again, err := jhjs.EnsureConsumer(ctx, s.JS, "CHANGES", jhjs.RouterConsumerConfig(), jhjs.WithResult(&r))
	require.NoError(t, err)
	require.Equal(t, jhjs.ProvisionResult{Kind: jhjs.KindConsumer, Name: "router", Action: jhjs.ActionUnchanged}, r)
	require.Equal(t, info.Created, again.CachedInfo().Created)
	require.Equal(t, info.Config, again.CachedInfo().Config)

	changed := jhjs.RouterConsumerConfig()
	changed.DeliverPolicy = jetstream.DeliverNewPolicy
	_, err = jhjs.EnsureConsumer(ctx, s.JS, "CHANGES", changed)
	require.ErrorIs(t, err, jhjs.ErrConsumerConflict)
	require.ErrorContains(t, err, "consumer conflict: consumer router on stream CHANGES cannot be updated (deliver policy: all -> new)")
	require.ErrorContains(t, err, "deliver policy can not be updated")
	require.ErrorContains(t, err, "if losing its position is acceptable, remove it (nats consumer rm CHANGES router) and start again")
	after, err := s.JS.Consumer(ctx, "CHANGES", "router")
	require.NoError(t, err)
	require.Equal(t, jetstream.DeliverAllPolicy, after.CachedInfo().Config.DeliverPolicy)
}

func TestEnsureReceiverConsumer(t *testing.T) {
	s := jstest.Start(t)
	ctx := testContext(t)
	_, err := jhjs.Provision(ctx, s.JS, jhjs.DefaultConfig(), nil)
	require.NoError(t, err)
	for range 3 {
		_, err := s.JS.Publish(ctx, "jobs.serial-validator", []byte("{}"))
		require.NoError(t, err)
	}

	cfg, err := jhjs.ReceiverConsumerConfig("serial-validator", jhjs.ReceiverConsumerOptions{})
	require.NoError(t, err)
	var r jhjs.ProvisionResult
	cons, err := jhjs.EnsureConsumer(ctx, s.JS, "JOBS", cfg, jhjs.WithResult(&r))
	require.NoError(t, err)
	require.Equal(t, jhjs.ActionCreated, r.Action)
	require.Equal(t, cfg.BackOff, cons.CachedInfo().Config.BackOff)
	require.Equal(t, cfg.AckWait, cons.CachedInfo().Config.AckWait)

	// Take one message, so there is a position to keep.
	msg, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
	require.NoError(t, err)
	require.NoError(t, msg.DoubleAck(ctx))

	_, err = jhjs.EnsureConsumer(ctx, s.JS, "JOBS", cfg, jhjs.WithResult(&r))
	require.NoError(t, err)
	require.Equal(t, jhjs.ActionUnchanged, r.Action, "the config reads back equal, back-off and all")

	cfg, err = jhjs.ReceiverConsumerConfig("serial-validator", jhjs.ReceiverConsumerOptions{MaxDeliver: 7})
	require.NoError(t, err)
	cons, err = jhjs.EnsureConsumer(ctx, s.JS, "JOBS", cfg, jhjs.WithResult(&r))
	require.NoError(t, err)
	require.Equal(t, jhjs.ProvisionResult{Kind: jhjs.KindConsumer, Name: "receiver-serial-validator", Action: jhjs.ActionUpdated,
		Changes: []string{"max deliver: 6 -> 8"}}, r)
	info, err := cons.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, 8, info.Config.MaxDeliver, "seven attempts and a spare delivery")
	require.Equal(t, uint64(1), info.AckFloor.Stream, "the update keeps the consumer's position")
	require.Equal(t, uint64(2), info.NumPending)
}

func TestEnsureConsumerMissingStream(t *testing.T) {
	s := jstest.Start(t)
	_, err := jhjs.EnsureConsumer(testContext(t), s.JS, "CHANGES", jhjs.RouterConsumerConfig())
	require.ErrorIs(t, err, jetstream.ErrStreamNotFound)
	require.ErrorContains(t, err, "consumer router: stream CHANGES does not exist (provision the streams first)")
}

func TestReceiverConsumerConfig(t *testing.T) {
	cfg, err := jhjs.ReceiverConsumerConfig("webhook", jhjs.ReceiverConsumerOptions{})
	require.NoError(t, err)
	require.Equal(t, jetstream.ConsumerConfig{
		Durable:       "receiver-webhook",
		Description:   "jobhooks receivers of job webhook",
		FilterSubject: "jobs.webhook",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       31 * time.Second,
		BackOff:       []time.Duration{31 * time.Second, 35 * time.Second, time.Minute, 150 * time.Second},
		MaxDeliver:    6, // five attempts and a spare delivery
		MaxAckPending: 1000,
	}, cfg)

	for _, tc := range []struct {
		name string
		job  string
		opts jhjs.ReceiverConsumerOptions
		want string
	}{
		{"bad job name", "Serial Check", jhjs.ReceiverConsumerOptions{},
			`invalid consumer configuration: invalid job name "Serial Check": want 1-64 characters of a-z, 0-9, '_' and '-', starting with a letter or digit`},
		{"back-off longer than max deliver", "webhook", jhjs.ReceiverConsumerOptions{MaxDeliver: 3, BackOff: []time.Duration{1, 2, 3, 4}},
			"invalid consumer configuration: receiver-webhook: back-off has 4 delays but max deliver is 3: give at most 3 (the last delay repeats)"},
		{"negative max deliver", "webhook", jhjs.ReceiverConsumerOptions{MaxDeliver: -1, BackOff: []time.Duration{time.Second}},
			"invalid consumer configuration: receiver-webhook: max deliver must be at least 1, got -1"},
		{"zero delay", "webhook", jhjs.ReceiverConsumerOptions{BackOff: []time.Duration{time.Second, 0}},
			"invalid consumer configuration: receiver-webhook: back-off delays must be positive, got 0s"},
		{"negative ack wait and max ack pending", "webhook", jhjs.ReceiverConsumerOptions{AckWait: -time.Second, MaxAckPending: -1},
			"invalid consumer configuration: receiver-webhook: ack wait must be positive, got -1s\nmax ack pending must be at least 1, got -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := jhjs.ReceiverConsumerConfig(tc.job, tc.opts)
			require.ErrorIs(t, err, jhjs.ErrConsumerConfig)
			require.EqualError(t, err, tc.want)
		})
	}
	_, err = jhjs.ReceiverConsumerConfig("Serial Check", jhjs.ReceiverConsumerOptions{})
	require.ErrorIs(t, err, events.ErrInvalidJobName)

	// Fewer attempts than default delays: the defaults are cut to fit.
	cfg, err = jhjs.ReceiverConsumerConfig("webhook", jhjs.ReceiverConsumerOptions{MaxDeliver: 2})
	require.NoError(t, err)
	require.Equal(t, []time.Duration{31 * time.Second, 35 * time.Second}, cfg.BackOff)
	require.Equal(t, 3, cfg.MaxDeliver)
}

func TestRetryDelay(t *testing.T) {
	var o jhjs.ReceiverConsumerOptions
	for n, want := range map[uint64]time.Duration{0: 2 * time.Minute, 1: time.Second, 2: 5 * time.Second, 4: 2 * time.Minute, 9: 2 * time.Minute} {
		require.Equal(t, want, o.RetryDelay(n), "delivered %d times", n)
	}
	require.Equal(t, time.Hour, jhjs.ReceiverConsumerOptions{BackOff: []time.Duration{time.Hour}}.RetryDelay(3))
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*jhjs.Config)
		want   string
	}{
		{"defaults", func(*jhjs.Config) {}, ""},
		{"five replicas", func(c *jhjs.Config) { c.Replicas = 5 }, ""},
		{"zero changes age", func(c *jhjs.Config) { c.ChangesMaxAge = 0 }, "invalid JetStream settings: --changes-max-age must be positive, got 0s"},
		{"negative jobs age", func(c *jhjs.Config) { c.JobsMaxAge = -time.Hour }, "invalid JetStream settings: --jobs-max-age must be positive, got -1h0m0s"},
		{"zero dead-letter age", func(c *jhjs.Config) { c.DeadLetterMaxAge = 0 }, "invalid JetStream settings: --deadletter-max-age must be positive, got 0s"},
		{"zero results age", func(c *jhjs.Config) { c.ResultsMaxAge = 0 }, "invalid JetStream settings: --results-max-age must be positive, got 0s"},
		{"zero replicas", func(c *jhjs.Config) { c.Replicas = 0 }, "invalid JetStream settings: --replicas must be 1 to 5, got 0"},
		{"six replicas", func(c *jhjs.Config) { c.Replicas = 6 }, "invalid JetStream settings: --replicas must be 1 to 5, got 6"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := jhjs.DefaultConfig()
			tc.change(&c)
			err := c.Validate()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, jhjs.ErrConfig)
			require.EqualError(t, err, tc.want)
		})
	}
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

func TestConfigFlags(t *testing.T) {
	c := jhjs.DefaultConfig()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	c.RegisterFlags(fs)
	require.Equal(t, "7d", fs.Lookup("changes-max-age").DefValue)
	require.NoError(t, fs.Parse([]string{"--changes-max-age", "1d12h", "--jobs-max-age", "36h", "--deadletter-max-age", "90d", "--results-max-age", "45m", "--replicas", "3"}))
	require.Equal(t, jhjs.Config{ChangesMaxAge: 36 * time.Hour, JobsMaxAge: 36 * time.Hour, DeadLetterMaxAge: 90 * day, ResultsMaxAge: 45 * time.Minute, Replicas: 3}, c)

	fs = flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(new(discard))
	c.RegisterFlags(fs)
	require.ErrorContains(t, fs.Parse([]string{"--jobs-max-age", "1.5d"}), `invalid duration "1.5d": want e.g. 7d, 36h or 1d12h`)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func streamInfo(t *testing.T, s *jstest.Server, name string) *jetstream.StreamInfo {
	t.Helper()
	stream, err := s.JS.Stream(testContext(t), name)
	require.NoError(t, err)
	return stream.CachedInfo()
}
