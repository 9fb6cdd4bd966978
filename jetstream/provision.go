package jetstream

import (
	"context"
	"log/slog"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

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
// run changes nothing. It never deletes or purges. On a JetStream cluster
// with one replica it logs a warning: one server down would stop jobhooks.
func Provision(ctx context.Context, js jetstream.JetStream, c Config, logger *slog.Logger) ([]ProvisionResult, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var results []ProvisionResult
	for _, cfg := range StreamConfigs(c) {
		var r ProvisionResult
		stream, err := EnsureStream(ctx, js, cfg, WithResult(&r), WithLogger(logger))
		if err != nil {
			return results, err
		}
		results = append(results, r)
		if cl := stream.CachedInfo().Cluster; cfg.Name == StreamChanges && c.Replicas == 1 && logger != nil && cl != nil && cl.Name != "" {
			logger.Warn("JetStream is clustered but --replicas is 1: while the server holding a stream or bucket is down, jobhooks stops; give --replicas 3",
				"cluster", cl.Name)
		}
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
