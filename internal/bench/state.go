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
// and buckets are provisioned with jobhooks' own provisioning and the
// contract's defaults (file storage), then emptied — every message purged,
// every durable consumer deleted — so that no run sees what an earlier one
// left. They are purged rather than deleted: the server removes a deleted
// stream's files in the background, and creating the stream again while
// it does can fail ("error creating store for stream"); a purge waits for
// an earlier purge's files in place.
func resetState(ctx context.Context, js jetstream.JetStream) error {
	if _, err := jhjs.Provision(ctx, js, jhjs.DefaultConfig(), nil); err != nil {
		return fmt.Errorf("provision: %w", err)
	}
	streams := []string{jhjs.StreamChanges, jhjs.StreamJobs, jhjs.StreamDeadLetter}
	for _, b := range []string{jhjs.BucketJobHooks, jhjs.BucketJobs, jhjs.BucketJobResults} {
		streams = append(streams, "KV_"+b)
	}
	for _, name := range streams {
		stream, err := js.Stream(ctx, name)
		if err != nil {
			return fmt.Errorf("stream %s: %w", name, err)
		}
		names := stream.ConsumerNames(ctx)
		for cons := range names.Name() {
			if err := stream.DeleteConsumer(ctx, cons); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
				return fmt.Errorf("delete consumer %s of stream %s: %w", cons, name, err)
			}
		}
		if err := names.Err(); err != nil {
			return fmt.Errorf("consumers of stream %s: %w", name, err)
		}
		if err := stream.Purge(ctx); err != nil {
			return fmt.Errorf("purge stream %s: %w", name, err)
		}
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
