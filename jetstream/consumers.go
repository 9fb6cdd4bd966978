package jetstream

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jobhooks/jobhooks/events"
)

// RouterConsumerConfig returns the router's durable consumer on CHANGES.
func RouterConsumerConfig() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       ConsumerRouter,
		Description:   "jobhooks router: fans changes out to the jobs of matching hooks",
		FilterSubject: "changes.>",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		// Never give up on a change: invalid ones are dead-lettered by the
		// router itself, anything else is an outage worth retrying.
		MaxDeliver: -1,
		// Routing is fast and CPU-bound and the router acks a change only
		// once its job messages are stored, so it needs many changes in
		// flight to pipeline publishes; 1000 is also the server's default.
		MaxAckPending: 1000,
	}
}

// Receiver consumer defaults.
const (
	DefaultMaxDeliver    = 5
	DefaultAckWait       = 30 * time.Second
	DefaultMaxAckPending = 1000
)

// DefaultBackOff returns the default delays between a job's attempts.
func DefaultBackOff() []time.Duration {
	return []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute}
}

// ReceiverConsumerOptions tunes a job's receiver consumer; zero fields take
// the defaults.
type ReceiverConsumerOptions struct {
	// MaxDeliver is the number of attempts, the first included (default 5).
	MaxDeliver int
	// BackOff are the delays before the 2nd, 3rd, … attempt; the last one
	// repeats (default 1s, 5s, 30s, 2m). At most MaxDeliver of them.
	BackOff []time.Duration
	// AckWait is how long an attempt may go without an ack or an
	// in-progress heartbeat before the server presumes the receiver dead
	// (default 30s).
	AckWait time.Duration
	// MaxAckPending caps the messages in flight across all the job's
	// receivers, running or prefetched (default 1000, the server's own
	// default): at the cap, the job takes no new message until one
	// settles, and messages waiting for a retry count.
	MaxAckPending int
}

// WithDefaults returns o with its zero fields set to the defaults.
func (o ReceiverConsumerOptions) WithDefaults() ReceiverConsumerOptions {
	if o.MaxDeliver == 0 {
		o.MaxDeliver = DefaultMaxDeliver
	}
	if len(o.BackOff) == 0 {
		// No more delays than attempts: the server refuses more.
		o.BackOff = DefaultBackOff()[:min(len(DefaultBackOff()), max(o.MaxDeliver, 1))]
	}
	if o.AckWait == 0 {
		o.AckWait = DefaultAckWait
	}
	if o.MaxAckPending == 0 {
		o.MaxAckPending = DefaultMaxAckPending
	}
	return o
}

// RetryDelay is the delay after a failed attempt when the message has been
// delivered n times (n ≥ 1): BackOff[n-1], the last one repeating. It is
// what a receiver passes to NakWithDelay.
func (o ReceiverConsumerOptions) RetryDelay(n uint64) time.Duration {
	b := o.WithDefaults().BackOff
	i := len(b) - 1
	if n >= 1 && n-1 < uint64(len(b)) {
		i = int(n - 1)
	}
	return b[i]
}

// ReceiverConsumerConfig returns the durable consumer receiver-<job> on JOBS,
// allowing o.MaxDeliver attempts plus one spare delivery.
//
// The server's BackOff is not the user's back-off: the server uses
// BackOff[i] as the ack deadline of the (i+1)th delivery, replacing AckWait.
// Taken literally, a 1s first back-off would give every first attempt one
// second to finish. So the consumer gets BackOff[i] = AckWait + back-off[i]:
// an attempt always has AckWait to ack or send an in-progress heartbeat,
// and a receiver that died is followed by the back-off delay. Failures a
// receiver sees itself are retried with NakWithDelay(RetryDelay(n)).
func ReceiverConsumerConfig(job string, o ReceiverConsumerOptions) (jetstream.ConsumerConfig, error) {
	if err := events.ValidateJobName(job); err != nil {
		return jetstream.ConsumerConfig{}, fmt.Errorf("%w: %w", ErrConsumerConfig, err)
	}
	o = o.WithDefaults()
	var errs []error
	if o.MaxDeliver < 1 {
		errs = append(errs, fmt.Errorf("max deliver must be at least 1, got %d", o.MaxDeliver))
	}
	if o.AckWait < 0 {
		errs = append(errs, fmt.Errorf("ack wait must be positive, got %s", o.AckWait))
	}
	if o.MaxAckPending < 1 {
		errs = append(errs, fmt.Errorf("max ack pending must be at least 1, got %d", o.MaxAckPending))
	}
	for _, d := range o.BackOff {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("back-off delays must be positive, got %s", d))
			break
		}
	}
	if o.MaxDeliver >= 1 && len(o.BackOff) > o.MaxDeliver {
		errs = append(errs, fmt.Errorf("back-off has %d delays but max deliver is %d: give at most %d (the last delay repeats)",
			len(o.BackOff), o.MaxDeliver, o.MaxDeliver))
	}
	if err := errors.Join(errs...); err != nil {
		return jetstream.ConsumerConfig{}, fmt.Errorf("%w: receiver-%s: %w", ErrConsumerConfig, job, err)
	}
	deadlines := make([]time.Duration, len(o.BackOff))
	for i, d := range o.BackOff {
		deadlines[i] = o.AckWait + d
	}
	return jetstream.ConsumerConfig{
		Durable:       ReceiverConsumer(job),
		Description:   "jobhooks receivers of job " + job,
		FilterSubject: "jobs." + job,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		// The server sets AckWait to BackOff[0]; say so, so the config reads
		// back equal and `nats consumer info` matches.
		AckWait: deadlines[0],
		BackOff: deadlines,
		// One delivery more than attempts: if a receiver dies during the
		// last attempt, the server delivers the message once more and the
		// receiver dead-letters it instead of running it. Without the spare,
		// the server would never deliver it again and it would be stranded
		// in JOBS, neither run nor dead-lettered.
		MaxDeliver:    o.MaxDeliver + SpareDeliveries,
		MaxAckPending: o.MaxAckPending,
	}, nil
}

// SpareDeliveries is how many deliveries a receiver consumer allows beyond
// the attempts: see ReceiverConsumerConfig.
const SpareDeliveries = 1

// EnsureConsumer creates the durable consumer want describes on stream, or
// brings an existing one in line with it. The fields compared are Durable,
// the filter subjects, AckPolicy, AckWait, MaxDeliver, BackOff,
// MaxAckPending, DeliverPolicy and Description; nothing is sent when they
// match, and an update keeps the consumer's other settings and its
// position. A change the server refuses to apply in place (deliver or ack
// policy, …) is an ErrConsumerConflict.
func EnsureConsumer(ctx context.Context, js jetstream.JetStream, stream string, want jetstream.ConsumerConfig, opts ...EnsureOpt) (jetstream.Consumer, error) {
	o := collect(opts)
	name := want.Durable
	if name == "" {
		return nil, fmt.Errorf("%w: a durable name is required", ErrConsumerConfig)
	}
	norm := normalizeConsumer(want)
	for attempt := 0; ; attempt++ {
		cons, err := js.Consumer(ctx, stream, name)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			cons, err = js.CreateConsumer(ctx, stream, want)
			if errors.Is(err, jetstream.ErrConsumerExists) && attempt == 0 {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("create consumer %s on stream %s: %w", name, stream, err)
			}
			o.report(ProvisionResult{Kind: KindConsumer, Name: name, Action: ActionCreated})
			return cons, nil
		}
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, fmt.Errorf("consumer %s: stream %s does not exist (provision the streams first): %w", name, stream, err)
		}
		if err != nil {
			return nil, fmt.Errorf("look up consumer %s on stream %s: %w", name, stream, err)
		}
		have := cons.CachedInfo().Config
		changes, immutable := consumerChanges(have, norm)
		if len(changes) == 0 {
			o.report(ProvisionResult{Kind: KindConsumer, Name: name, Action: ActionUnchanged})
			return cons, nil
		}
		upd := have
		upd.Description = want.Description
		upd.FilterSubject = want.FilterSubject
		upd.FilterSubjects = want.FilterSubjects
		upd.DeliverPolicy = want.DeliverPolicy
		upd.AckPolicy = want.AckPolicy
		upd.AckWait = want.AckWait
		upd.MaxDeliver = want.MaxDeliver
		upd.BackOff = want.BackOff
		if want.MaxAckPending != 0 {
			upd.MaxAckPending = want.MaxAckPending
		}
		cons, err = js.CreateOrUpdateConsumer(ctx, stream, upd)
		if err != nil {
			var apiErr *jetstream.APIError
			if errors.As(err, &apiErr) && (immutable || strings.Contains(apiErr.Description, "can not")) {
				return nil, fmt.Errorf("%w: consumer %s on stream %s cannot be updated (%s): %w; if losing its position is acceptable, remove it (nats consumer rm %s %s) and start again",
					ErrConsumerConflict, name, stream, strings.Join(changes, "; "), err, stream, name)
			}
			return nil, fmt.Errorf("update consumer %s on stream %s (%s): %w", name, stream, strings.Join(changes, "; "), err)
		}
		o.report(ProvisionResult{Kind: KindConsumer, Name: name, Action: ActionUpdated, Changes: changes})
		return cons, nil
	}
}

// normalizeConsumer fills in what the server would, so a config compares
// equal to itself read back.
func normalizeConsumer(c jetstream.ConsumerConfig) jetstream.ConsumerConfig {
	if c.MaxDeliver == 0 || c.MaxDeliver < -1 {
		c.MaxDeliver = -1
	}
	if len(c.BackOff) > 0 {
		c.AckWait = c.BackOff[0]
	} else if c.AckWait == 0 && c.AckPolicy != jetstream.AckNonePolicy {
		c.AckWait = 30 * time.Second
	}
	return c
}

// consumerChanges lists the managed fields of have that differ from want,
// and whether one of them is immutable on the server.
func consumerChanges(have, want jetstream.ConsumerConfig) (changes []string, immutable bool) {
	if hf, wf := filters(have), filters(want); !slices.Equal(hf, wf) {
		changes = append(changes, fmt.Sprintf("filter subjects: %s -> %s", strings.Join(hf, ","), strings.Join(wf, ",")))
	}
	if have.DeliverPolicy != want.DeliverPolicy {
		changes = append(changes, fmt.Sprintf("deliver policy: %s -> %s", have.DeliverPolicy, want.DeliverPolicy))
		immutable = true
	}
	if have.AckPolicy != want.AckPolicy {
		changes = append(changes, fmt.Sprintf("ack policy: %s -> %s", have.AckPolicy, want.AckPolicy))
		immutable = true
	}
	if have.AckWait != want.AckWait {
		changes = append(changes, fmt.Sprintf("ack wait: %s -> %s", have.AckWait, want.AckWait))
	}
	if have.MaxDeliver != want.MaxDeliver {
		changes = append(changes, fmt.Sprintf("max deliver: %d -> %d", have.MaxDeliver, want.MaxDeliver))
	}
	if !slices.Equal(have.BackOff, want.BackOff) {
		changes = append(changes, fmt.Sprintf("back-off: %v -> %v", have.BackOff, want.BackOff))
	}
	// Zero leaves the server's default, whatever it is.
	if want.MaxAckPending != 0 && have.MaxAckPending != want.MaxAckPending {
		changes = append(changes, fmt.Sprintf("max ack pending: %d -> %d", have.MaxAckPending, want.MaxAckPending))
	}
	if have.Description != want.Description {
		changes = append(changes, fmt.Sprintf("description: %q -> %q", have.Description, want.Description))
	}
	return changes, immutable
}

// filters returns a consumer's filter subjects as a sorted set; the server
// turns a single FilterSubjects entry into FilterSubject.
func filters(c jetstream.ConsumerConfig) []string {
	set := map[string]bool{}
	if c.FilterSubject != "" {
		set[c.FilterSubject] = true
	}
	for _, f := range c.FilterSubjects {
		set[f] = true
	}
	return slices.Sorted(maps.Keys(set))
}
