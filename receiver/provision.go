package receiver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	jhjs "github.com/jobhooks/jobhooks/jetstream"
)

// createMissing creates the contract's streams and buckets that do not
// exist yet, with the default settings, so receivers may start before the
// router. Existing ones are left alone: their settings are the router's
// (its flags), and a receiver must not reset them to the defaults.
func createMissing(ctx context.Context, js jetstream.JetStream, logger *slog.Logger) error {
	cfg := jhjs.DefaultConfig()
	for _, sc := range jhjs.StreamConfigs(cfg) {
		_, err := js.Stream(ctx, sc.Name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			_, err = jhjs.EnsureStream(ctx, js, sc, jhjs.WithLogger(logger))
		}
		if err != nil {
			return fmt.Errorf("stream %s: %w", sc.Name, err)
		}
	}
	for _, bc := range jhjs.BucketConfigs(cfg) {
		_, err := js.KeyValue(ctx, bc.Bucket)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			_, err = jhjs.EnsureBucket(ctx, js, bc, jhjs.WithLogger(logger))
		}
		if err != nil {
			return fmt.Errorf("KV bucket %s: %w", bc.Bucket, err)
		}
	}
	return nil
}
