package receiver

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/hookconfig"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
)

// TestStaleAttemptDoesNotSettle: a receiver paused while it ran a
// message's last attempt resumes after the spare delivery went to another
// receiver, which settled the attempt as never finished (errored, and
// dead-lettered). The stale attempt's outcome, completed or failed, is
// dropped: the record stays errored, no second dead letter is stored, the
// message is not settled again, and nothing counts as settled for good.
// And a message held past the ack wait whose record is final settles
// without running.
func TestStaleAttemptDoesNotSettle(t *testing.T) {
	t.Parallel()
	const maxDeliver = 2
	tests := []struct {
		name    string
		fail    bool // the stale attempt fails
		lapsed  bool // the message went without heartbeats past the ack wait before it ran
		wantRun bool
	}{
		{name: "stale attempt completes", wantRun: true},
		{name: "stale attempt fails", fail: true, wantRun: true},
		{name: "lapsed before it ran", lapsed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := jstest.StartProvisioned(t)
			ctx := t.Context()
			var runs atomic.Int32
			reg := NewRegistry()
			name := "stale"
			reg.HandleFunc(name, JobInfo{}, func(context.Context, *Job, *Change, events.Action, map[string]any) error {
				runs.Add(1)
				if tt.fail {
					return errors.New("boom")
				}
				return nil
			})
			j, m := staleRunner(t, s, reg, name, maxDeliver)

			// The message, on its last delivery (the server's spare one
			// went elsewhere: here, only its record says so).
			ch := &events.Change{Action: events.ActionCreate, ContentType: "dcim.device", ObjectID: "1", ObjectRepr: "edge-1",
				User: "admin", PostChange: map[string]any{"serial": "A"}}
			ev, err := events.NewEvent(ch, events.EventOptions{ID: "c-1", Source: "test://nautobot"})
			require.NoError(t, err)
			msg, err := events.NewJobMsg(&events.ChangeEvent{Event: *ev, Change: *ch}, "h", name, nil)
			require.NoError(t, err)
			_, err = s.JS.PublishMsg(ctx, msg)
			require.NoError(t, err)
			fetch := func() jetstream.Msg {
				batch, err := j.consumer.Fetch(1, jetstream.FetchMaxWait(10*time.Second))
				require.NoError(t, err)
				msg := <-batch.Messages()
				require.NotNil(t, msg)
				return msg
			}
			for range maxDeliver - 1 { // the earlier attempts
				require.NoError(t, fetch().Nak())
			}
			held := fetch()
			d := &delivery{msg: held, fresh: true}
			d.meta, d.err = held.Metadata()
			require.NoError(t, d.err)
			require.Equal(t, uint64(maxDeliver), d.meta.NumDelivered, "its last attempt")
			d.decode()
			require.NoError(t, d.err)

			// The other receiver's record: the last attempt never finished.
			key := ResultKey("h", d.jm.Key())
			other := time.Now().UTC()
			_, err = j.results.empty(key).store(ctx, &Result{Hook: "h", Job: name, ChangeID: "c-1", Source: "test://nautobot",
				Status: StatusErrored, Attempts: maxDeliver, Created: d.meta.Timestamp.UTC(), Started: other, Completed: &other,
				Error: "attempt 2 of 2 never finished"}, []LogEntry{{Level: LevelError, Message: "dead-lettered"}})
			require.NoError(t, err)
			d.attempt = maxDeliver
			if tt.lapsed {
				j.beats.add(held, time.Now().Add(-2*j.opts.Consumer.AckWait))
			}

			j.attempt(d, func() {})

			got, err := j.results.Get(ctx, key)
			require.NoError(t, err)
			assert.Equal(t, StatusErrored, got.Status, "the later attempt's outcome stays")
			assert.Equal(t, maxDeliver, got.Attempts)
			assert.Equal(t, "attempt 2 of 2 never finished", got.Error)
			if tt.wantRun {
				assert.Equal(t, int32(1), runs.Load())
			} else {
				assert.Zero(t, runs.Load(), "its record is read first: it does not run")
			}
			dls, err := NewDeadLetters(s.JS).List(ctx, name)
			require.NoError(t, err)
			if tt.lapsed {
				// settleAgain: the record is final after an error; the same
				// dead letter is stored again (the duplicate window).
				assert.Len(t, dls, 1)
			} else {
				assert.Empty(t, dls, "a stale attempt does not dead-letter the message again")
				info, err := j.consumer.Info(ctx)
				require.NoError(t, err)
				assert.Equal(t, 1, info.NumAckPending, "the stale delivery is left unsettled, to the later attempt")
			}
			for _, st := range []Status{StatusCompleted, StatusFailed, StatusErrored} {
				assert.Zero(t, testutil.ToFloat64(m.jobs.WithLabelValues(name, string(st))), "no %s message counted", st)
			}
		})
	}
}

// staleRunner returns the runner of job name in reg on s, as Run builds
// it, without running it: the test hands its attempts their deliveries.
func staleRunner(t *testing.T, s *jstest.Server, reg *Registry, name string, maxDeliver int) (*jobRunner, *metrics) {
	t.Helper()
	ctx := t.Context()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := Options{Jobs: []string{name}, Concurrency: 1, Logger: logger,
		Consumer: jhjs.ReceiverConsumerOptions{MaxDeliver: maxDeliver, AckWait: 10 * time.Second, BackOff: []time.Duration{50 * time.Millisecond}}}
	opts = opts.withDefaults(reg)
	require.NoError(t, opts.validate(reg))
	jobs := hookconfig.NewJobs(s.KV(t, jhjs.BucketJobs))
	rcv, info, _ := reg.Lookup(name)
	_, err := register(ctx, jobs, name, info, true, logger)
	require.NoError(t, err)
	cfg, err := jhjs.ReceiverConsumerConfig(name, opts.Consumer)
	require.NoError(t, err)
	cons, err := jhjs.EnsureConsumer(ctx, s.JS, jhjs.StreamJobs, cfg)
	require.NoError(t, err)
	hooksKV := s.KV(t, jhjs.BucketJobHooks)
	hooks, err := hookconfig.Watch(ctx, hooksKV, hookconfig.WatchOptions{Logger: logger})
	require.NoError(t, err)
	require.NoError(t, hooks.WaitReady(ctx))
	m := newMetrics()
	j := newJobRunner(jobRunnerConfig{
		name: name, receiver: rcv, info: info, opts: opts, js: s.JS, consumer: cons, consumerCfg: cfg,
		since: since{seq: ^uint64(0)}, hooks: hooks, hookStore: hookconfig.NewStore(hooksKV, jobs),
		results: NewResults(s.KV(t, jhjs.BucketJobResults)), publisher: events.NewPublisher(s.JS, "test://receiver"),
		logger: logger, metrics: m.job(name),
	})
	j.jobCtx, j.abort = context.WithCancelCause(context.Background())
	t.Cleanup(func() { j.abort(ErrShutdown) })
	return j, m
}
