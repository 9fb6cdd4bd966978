package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jobhooks/jobhooks/hookconfig"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
)

// resetState gives a scenario run a clean server: the contract's streams
// and buckets (and with them every consumer) are deleted and provisioned
// again with jobhooks' own provisioning and the contract's defaults (file
// storage), so that no run sees what an earlier one left.
func resetState(ctx context.Context, js jetstream.JetStream) error {
	for _, name := range []string{jhjs.StreamChanges, jhjs.StreamJobs, jhjs.StreamDeadLetter} {
		if err := js.DeleteStream(ctx, name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("delete stream %s: %w", name, err)
		}
	}
	for _, name := range []string{jhjs.BucketJobHooks, jhjs.BucketJobs, jhjs.BucketJobResults} {
		if err := js.DeleteKeyValue(ctx, name); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
			return fmt.Errorf("delete KV bucket %s: %w", name, err)
		}
	}
	if _, err := jhjs.Provision(ctx, js, jhjs.DefaultConfig(), nil); err != nil {
		return fmt.Errorf("provision: %w", err)
	}
	return nil
}

// registerJobs registers enabled jobs in the jobs bucket, as their
// receivers would, for scenarios whose jobs are run by bare workers.
func registerJobs(ctx context.Context, js jetstream.JetStream, names ...string) error {
	kv, err := js.KeyValue(ctx, jhjs.BucketJobs)
	if err != nil {
		return fmt.Errorf("open KV bucket %s: %w", jhjs.BucketJobs, err)
	}
	jobs := hookconfig.NewJobs(kv)
	now := time.Now().UTC()
	for _, name := range names {
		if _, err := jobs.Put(ctx, &hookconfig.Job{Name: name, Description: "jobhooks benchmark", Enabled: true, RegisteredAt: now}); err != nil {
			return fmt.Errorf("register job %s: %w", name, err)
		}
	}
	return nil
}
