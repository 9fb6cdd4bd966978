package jetstream

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jobhooks/jobhooks/events"
)

// Sentinel errors of provisioning, wrapped with the details.
var (
	// ErrConfig is returned for invalid provisioning settings.
	ErrConfig = errors.New("invalid JetStream settings")
	// ErrConsumerConfig is returned for an invalid consumer configuration.
	ErrConsumerConfig = errors.New("invalid consumer configuration")
	// ErrStreamConflict is returned when an existing stream differs from
	// what jobhooks needs in a way that cannot be updated in place.
	ErrStreamConflict = errors.New("stream conflict")
	// ErrBucketConflict is the same for a KV bucket.
	ErrBucketConflict = errors.New("KV bucket conflict")
	// ErrConsumerConflict is the same for a durable consumer.
	ErrConsumerConflict = errors.New("consumer conflict")
)

// duplicateWindow is the streams' de-duplication window (Nats-Msg-Id), the
// server's default; the docs caution against larger ones.
const duplicateWindow = 2 * time.Minute

// Config holds the provisioning settings the operator may change.
type Config struct {
	ChangesMaxAge    time.Duration // CHANGES keeps changes this long
	JobsMaxAge       time.Duration // JOBS keeps job messages this long
	DeadLetterMaxAge time.Duration // DEADLETTER keeps dead letters this long
	ResultsMaxAge    time.Duration // TTL of job_results entries
	Replicas         int           // replicas of every stream and bucket
}

// DefaultConfig returns the contract's defaults: 7 days for CHANGES and
// JOBS, 30 days for DEADLETTER and job results, one replica.
func DefaultConfig() Config {
	const day = 24 * time.Hour
	return Config{
		ChangesMaxAge:    7 * day,
		JobsMaxAge:       7 * day,
		DeadLetterMaxAge: 30 * day,
		ResultsMaxAge:    30 * day,
		Replicas:         1,
	}
}

// RegisterFlags registers --changes-max-age, --jobs-max-age,
// --deadletter-max-age, --results-max-age and --replicas on fs, defaulting
// to c's current values. Ages accept Go durations and days ("7d", "1d12h").
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.Var((*days)(&c.ChangesMaxAge), "changes-max-age", "how long the "+StreamChanges+" stream keeps changes")
	fs.Var((*days)(&c.JobsMaxAge), "jobs-max-age", "how long the "+StreamJobs+" stream keeps job messages")
	fs.Var((*days)(&c.DeadLetterMaxAge), "deadletter-max-age", "how long the "+StreamDeadLetter+" stream keeps dead letters")
	fs.Var((*days)(&c.ResultsMaxAge), "results-max-age", "how long the "+BucketJobResults+" bucket keeps job results")
	fs.IntVar(&c.Replicas, "replicas", c.Replicas, "replicas of every stream and bucket (1 to 5; 3 on a cluster)")
}

// Validate checks that every age is positive and replicas is 1 to 5.
func (c Config) Validate() error {
	var errs []error
	for _, a := range []struct {
		flag string
		age  time.Duration
	}{
		{"--changes-max-age", c.ChangesMaxAge},
		{"--jobs-max-age", c.JobsMaxAge},
		{"--deadletter-max-age", c.DeadLetterMaxAge},
		{"--results-max-age", c.ResultsMaxAge},
	} {
		if a.age <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %s", a.flag, formatDays(a.age)))
		}
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("--replicas must be 1 to 5, got %d", c.Replicas))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

// StreamConfigs returns the contract's streams: CHANGES, JOBS and
// DEADLETTER, file storage, limits retention.
func StreamConfigs(c Config) []jetstream.StreamConfig {
	stream := func(name, subject string, maxAge time.Duration, desc string) jetstream.StreamConfig {
		return jetstream.StreamConfig{
			Name:        name,
			Description: desc,
			Subjects:    []string{subject},
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      maxAge,
			// The server refuses a window longer than the max age.
			Duplicates: min(duplicateWindow, maxAge),
			Replicas:   c.Replicas,
		}
	}
	return []jetstream.StreamConfig{
		stream(StreamChanges, "changes.>", c.ChangesMaxAge,
			"jobhooks: every object change, on changes.<app_label>.<model>.<action>"),
		stream(StreamJobs, "jobs.>", c.JobsMaxAge,
			"jobhooks: one message per change and matching hook, on jobs.<job>"),
		stream(StreamDeadLetter, "deadletter.>", c.DeadLetterMaxAge,
			"jobhooks: invalid changes (deadletter.changes) and jobs that exhausted their retries (deadletter.jobs.<job>)"),
	}
}

// BucketConfigs returns the contract's KV buckets: job_hooks, jobs and
// job_results.
func BucketConfigs(c Config) []jetstream.KeyValueConfig {
	return []jetstream.KeyValueConfig{{
		Bucket:      BucketJobHooks,
		Description: "jobhooks: job hook configurations, by hook name",
		// Ten revisions, so `nats kv history job_hooks NAME` shows the edits.
		History:  10,
		Storage:  jetstream.FileStorage,
		Replicas: c.Replicas,
	}, {
		Bucket:      BucketJobs,
		Description: "jobhooks: the job registry, written by receivers at start",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    c.Replicas,
	}, {
		Bucket:      BucketJobResults,
		Description: "jobhooks: job results, by <hook>.<change id>",
		History:     1,
		TTL:         c.ResultsMaxAge,
		Storage:     jetstream.FileStorage,
		Replicas:    c.Replicas,
	}}
}

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

// ProvisionAction says what provisioning did to one stream, bucket or consumer.
type ProvisionAction string

// Actions.
const (
	ActionCreated   ProvisionAction = "created"
	ActionUpdated   ProvisionAction = "updated"
	ActionUnchanged ProvisionAction = "unchanged"
)

// Kinds of provisioned things.
const (
	KindStream   = "stream"
	KindBucket   = "bucket"
	KindConsumer = "consumer"
)

// ProvisionResult reports what provisioning did to one thing.
type ProvisionResult struct {
	Kind    string          // KindStream, KindBucket or KindConsumer
	Name    string          // stream, bucket or consumer name
	Action  ProvisionAction // created, updated or unchanged
	Changes []string        // for updates: "max age: 168h0m0s -> 1h0m0s", …
}

// EnsureOpt is an option of EnsureStream, EnsureBucket and EnsureConsumer.
type EnsureOpt func(*ensureOpts)

type ensureOpts struct {
	result *ProvisionResult
	logger *slog.Logger
}

// WithResult stores what was done in r.
func WithResult(r *ProvisionResult) EnsureOpt {
	return func(o *ensureOpts) { o.result = r }
}

// WithLogger logs what was done: creations and updates at info, the rest at
// debug.
func WithLogger(l *slog.Logger) EnsureOpt {
	return func(o *ensureOpts) { o.logger = l }
}

func (o *ensureOpts) report(r ProvisionResult) {
	if o.result != nil {
		*o.result = r
	}
	if o.logger == nil {
		return
	}
	attrs := []any{r.Kind, r.Name}
	switch r.Action {
	case ActionUnchanged:
		o.logger.Debug("JetStream "+r.Kind+" unchanged", attrs...)
	case ActionUpdated:
		o.logger.Info("JetStream "+r.Kind+" updated", append(attrs, "changes", strings.Join(r.Changes, "; "))...)
	default:
		o.logger.Info("JetStream "+r.Kind+" created", attrs...)
	}
}

func collect(opts []EnsureOpt) *ensureOpts {
	o := &ensureOpts{}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// Provision validates c and ensures the contract's streams and buckets,
// creating what is missing and updating what differs; run twice, the second
// run changes nothing. It never deletes or purges.
func Provision(ctx context.Context, js jetstream.JetStream, c Config, logger *slog.Logger) ([]ProvisionResult, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var results []ProvisionResult
	for _, cfg := range StreamConfigs(c) {
		var r ProvisionResult
		if _, err := EnsureStream(ctx, js, cfg, WithResult(&r), WithLogger(logger)); err != nil {
			return results, err
		}
		results = append(results, r)
	}
	for _, cfg := range BucketConfigs(c) {
		var r ProvisionResult
		if _, err := EnsureBucket(ctx, js, cfg, WithResult(&r), WithLogger(logger)); err != nil {
			return results, err
		}
		results = append(results, r)
	}
	return results, nil
}

// EnsureStream creates the stream want describes, or brings an existing one
// in line with it. Only the fields jobhooks manages are compared (subjects,
// storage, retention, max age, duplicate window, replicas, description);
// when they match nothing is sent. Otherwise the existing configuration is
// updated with ours, keeping the operator's other settings and any extra
// subjects. Storage and retention cannot change in place: ErrStreamConflict.
func EnsureStream(ctx context.Context, js jetstream.JetStream, want jetstream.StreamConfig, opts ...EnsureOpt) (jetstream.Stream, error) {
	o := collect(opts)
	if want.Replicas == 0 {
		want.Replicas = 1
	}
	// Twice: another process may create the stream between our look-up and
	// our create.
	for attempt := 0; ; attempt++ {
		stream, err := js.Stream(ctx, want.Name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			stream, err = js.CreateStream(ctx, want)
			if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) && attempt == 0 {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("create stream %s: %w%s", want.Name, err, overlapHint(err))
			}
			o.report(ProvisionResult{Kind: KindStream, Name: want.Name, Action: ActionCreated})
			return stream, nil
		}
		if err != nil {
			return nil, fmt.Errorf("look up stream %s: %w", want.Name, err)
		}
		have := stream.CachedInfo().Config
		if err := streamConflict(have, want); err != nil {
			return nil, err
		}
		changes := streamChanges(have, want)
		if len(changes) == 0 {
			o.report(ProvisionResult{Kind: KindStream, Name: want.Name, Action: ActionUnchanged})
			return stream, nil
		}
		upd := have
		upd.Subjects = union(have.Subjects, want.Subjects)
		upd.Storage = want.Storage
		upd.Retention = want.Retention
		upd.MaxAge = want.MaxAge
		upd.Duplicates = want.Duplicates
		upd.Replicas = want.Replicas
		upd.Description = want.Description
		stream, err = js.UpdateStream(ctx, upd)
		if err != nil {
			return nil, fmt.Errorf("update stream %s (%s): %w%s", want.Name, strings.Join(changes, "; "), err, overlapHint(err))
		}
		o.report(ProvisionResult{Kind: KindStream, Name: want.Name, Action: ActionUpdated, Changes: changes})
		return stream, nil
	}
}

// streamConflict reports managed differences the server cannot apply.
func streamConflict(have, want jetstream.StreamConfig) error {
	var what []string
	if have.Storage != want.Storage {
		what = append(what, fmt.Sprintf("%s storage, jobhooks needs %s", lower(have.Storage), lower(want.Storage)))
	}
	if have.Retention != want.Retention {
		what = append(what, fmt.Sprintf("%s retention, jobhooks needs %s", lower(have.Retention), lower(want.Retention)))
	}
	if len(what) == 0 {
		return nil
	}
	return fmt.Errorf("%w: stream %s exists with %s; %s cannot change in place — back it up (nats stream backup %s DIR) and recreate it, or point jobhooks at another account",
		ErrStreamConflict, want.Name, strings.Join(what, " and "), conflictFields(have.Storage != want.Storage, have.Retention != want.Retention), want.Name)
}

func conflictFields(storage, retention bool) string {
	switch {
	case storage && retention:
		return "storage and retention"
	case storage:
		return "storage"
	default:
		return "retention"
	}
}

// streamChanges lists the managed fields of have that differ from want.
// Subjects only need to include ours: extra ones are the operator's.
func streamChanges(have, want jetstream.StreamConfig) []string {
	var changes []string
	if missing := without(want.Subjects, have.Subjects); len(missing) > 0 {
		changes = append(changes, fmt.Sprintf("subjects: add %s", strings.Join(missing, ", ")))
	}
	if have.MaxAge != want.MaxAge {
		changes = append(changes, fmt.Sprintf("max age: %s -> %s", formatDays(have.MaxAge), formatDays(want.MaxAge)))
	}
	if have.Duplicates != want.Duplicates {
		changes = append(changes, fmt.Sprintf("duplicate window: %s -> %s", have.Duplicates, want.Duplicates))
	}
	if have.Replicas != want.Replicas {
		changes = append(changes, fmt.Sprintf("replicas: %d -> %d", have.Replicas, want.Replicas))
	}
	if have.Description != want.Description {
		changes = append(changes, fmt.Sprintf("description: %q -> %q", have.Description, want.Description))
	}
	return changes
}

// overlapHint explains the server's subject-overlap error, which names
// neither stream.
func overlapHint(err error) string {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == 10065 {
		return " (another stream already stores these subjects: find it with `nats stream ls -a` and remove its subjects or the stream)"
	}
	return ""
}

// EnsureBucket creates the KV bucket want describes, or brings an existing
// one in line with it: history, TTL, storage, replicas and description are
// compared, and nothing is sent when they match. The update keeps the
// bucket's other settings. Storage cannot change in place: ErrBucketConflict.
func EnsureBucket(ctx context.Context, js jetstream.JetStream, want jetstream.KeyValueConfig, opts ...EnsureOpt) (jetstream.KeyValue, error) {
	o := collect(opts)
	if want.History == 0 {
		want.History = 1
	}
	if want.Replicas == 0 {
		want.Replicas = 1
	}
	for attempt := 0; ; attempt++ {
		kv, err := js.KeyValue(ctx, want.Bucket)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			kv, err = js.CreateKeyValue(ctx, want)
			if errors.Is(err, jetstream.ErrBucketExists) && attempt == 0 {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("create KV bucket %s: %w", want.Bucket, err)
			}
			o.report(ProvisionResult{Kind: KindBucket, Name: want.Bucket, Action: ActionCreated})
			return kv, nil
		}
		if errors.Is(err, jetstream.ErrBadBucket) {
			return nil, fmt.Errorf("%w: stream KV_%s exists but is not a KV bucket; remove or rename it (nats stream rm KV_%s) or point jobhooks at another account: %w",
				ErrBucketConflict, want.Bucket, want.Bucket, err)
		}
		if err != nil {
			return nil, fmt.Errorf("look up KV bucket %s: %w", want.Bucket, err)
		}
		status, err := kv.Status(ctx)
		if err != nil {
			return nil, fmt.Errorf("status of KV bucket %s: %w", want.Bucket, err)
		}
		have := status.Config()
		if have.Storage != want.Storage {
			return nil, fmt.Errorf("%w: KV bucket %s exists with %s storage, jobhooks needs %s; storage cannot change in place — back it up (nats stream backup KV_%s DIR) and recreate it, or point jobhooks at another account",
				ErrBucketConflict, want.Bucket, lower(have.Storage), lower(want.Storage), want.Bucket)
		}
		var changes []string
		if have.History != want.History {
			changes = append(changes, fmt.Sprintf("history: %d -> %d", have.History, want.History))
		}
		if have.TTL != want.TTL {
			changes = append(changes, fmt.Sprintf("TTL: %s -> %s", formatDays(have.TTL), formatDays(want.TTL)))
		}
		if have.Replicas != want.Replicas {
			changes = append(changes, fmt.Sprintf("replicas: %d -> %d", have.Replicas, want.Replicas))
		}
		if have.Description != want.Description {
			changes = append(changes, fmt.Sprintf("description: %q -> %q", have.Description, want.Description))
		}
		if len(changes) == 0 {
			o.report(ProvisionResult{Kind: KindBucket, Name: want.Bucket, Action: ActionUnchanged})
			return kv, nil
		}
		upd := have
		upd.History = want.History
		upd.TTL = want.TTL
		upd.Replicas = want.Replicas
		upd.Description = want.Description
		kv, err = js.UpdateKeyValue(ctx, upd)
		if err != nil {
			return nil, fmt.Errorf("update KV bucket %s (%s): %w", want.Bucket, strings.Join(changes, "; "), err)
		}
		o.report(ProvisionResult{Kind: KindBucket, Name: want.Bucket, Action: ActionUpdated, Changes: changes})
		return kv, nil
	}
}

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

// union returns a followed by the elements of b it lacks.
func union(a, b []string) []string {
	return append(slices.Clone(a), without(b, a)...)
}

// without returns the elements of a that are not in b.
func without(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

func lower(s fmt.Stringer) string { return strings.ToLower(s.String()) }

// days is a time.Duration flag that also takes days: "7d", "1d12h".
type days time.Duration

func (d *days) String() string {
	if d == nil {
		return ""
	}
	return formatDays(time.Duration(*d))
}

func (d *days) Set(s string) error {
	v, err := parseDays(s)
	if err != nil {
		return err
	}
	*d = days(v)
	return nil
}

// parseDays parses a Go duration with an optional leading whole number of
// days.
func parseDays(s string) (time.Duration, error) {
	var total time.Duration
	rest := s
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 {
			return 0, fmt.Errorf("invalid duration %q: want e.g. 7d, 36h or 1d12h", s)
		}
		total = time.Duration(n) * 24 * time.Hour
		rest = s[i+1:]
	}
	if rest == "" {
		return total, nil
	}
	v, err := time.ParseDuration(rest)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: want e.g. 7d, 36h or 1d12h", s)
	}
	return total + v, nil
}

// formatDays prints whole days as "7d", anything else as Go does.
func formatDays(d time.Duration) string {
	const day = 24 * time.Hour
	if d > 0 && d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	return d.String()
}
