package jetstream

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// BucketConfigs returns the contract's KV buckets: job_hooks, jobs and
// job_results.
func BucketConfigs(c Config) []jetstream.KeyValueConfig {
	return []jetstream.KeyValueConfig{{
		Bucket:      BucketJobHooks,
		Description: "jobhooks: job hook configurations, by hook name",
		// Ten revisions, so `nats kv history job_hooks NAME` shows the edits.
		History:   10,
		Storage:   jetstream.FileStorage,
		Replicas:  c.Replicas,
		Placement: c.Placement(),
	}, {
		Bucket:      BucketJobs,
		Description: "jobhooks: the job registry, written by receivers at start",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    c.Replicas,
		Placement:   c.Placement(),
	}, {
		Bucket:      BucketJobResults,
		Description: "jobhooks: job results, by <hook>.<change id>",
		History:     1,
		TTL:         c.ResultsMaxAge,
		Storage:     jetstream.FileStorage,
		Replicas:    c.Replicas,
		Placement:   c.Placement(),
	}}
}

// EnsureBucket creates the KV bucket want describes, or brings an existing
// one in line with it: history, TTL, storage, replicas, placement (when
// want has one) and description are
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
				return nil, fmt.Errorf("create KV bucket %s: %w", want.Bucket, placementError(err, want.Replicas, want.Placement))
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
		if c := placementChange(have.Placement, want.Placement); c != "" {
			changes = append(changes, c)
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
		if want.Placement != nil {
			upd.Placement = want.Placement
		}
		upd.Description = want.Description
		kv, err = js.UpdateKeyValue(ctx, upd)
		if err != nil {
			return nil, fmt.Errorf("update KV bucket %s (%s): %w", want.Bucket, strings.Join(changes, "; "), placementError(err, want.Replicas, want.Placement))
		}
		o.report(ProvisionResult{Kind: KindBucket, Name: want.Bucket, Action: ActionUpdated, Changes: changes})
		return kv, nil
	}
}
