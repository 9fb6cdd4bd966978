package jetstream_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
)

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
