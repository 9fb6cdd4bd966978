package receiver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	jhjs "github.com/jobhooks/jobhooks/jetstream"
)

// createTimeout bounds the creation of one stream or bucket. A user that
// may not create them (examples/nats-server.conf's receiver) gets no
// answer at all, only an asynchronous permissions violation: without a
// bound the receiver would wait forever.
const createTimeout = 10 * time.Second

// createMissing creates the contract's streams and buckets that do not
// exist yet, with the default settings, so receivers may start before the
// router. Existing ones are left alone: their settings are the router's
// (its flags), and a receiver must not reset them to the defaults.
func createMissing(ctx context.Context, js jetstream.JetStream, logger *slog.Logger) error {
	cfg := jhjs.DefaultConfig()
	for _, sc := range jhjs.StreamConfigs(cfg) {
		_, err := js.Stream(ctx, sc.Name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			err = createBounded(ctx, func(ctx context.Context) error {
				_, err := jhjs.EnsureStream(ctx, js, sc, jhjs.WithLogger(logger))
				return err
			})
		}
		if err != nil {
			return fmt.Errorf("stream %s: %w", sc.Name, err)
		}
	}
	for _, bc := range jhjs.BucketConfigs(cfg) {
		_, err := js.KeyValue(ctx, bc.Bucket)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			err = createBounded(ctx, func(ctx context.Context) error {
				_, err := jhjs.EnsureBucket(ctx, js, bc, jhjs.WithLogger(logger))
				return err
			})
		}
		if err != nil {
			return fmt.Errorf("KV bucket %s: %w", bc.Bucket, err)
		}
	}
	return nil
}

// createBounded runs create within createTimeout, and explains a timeout.
func createBounded(ctx context.Context, create func(context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, createTimeout)
	defer cancel()
	err := create(cctx)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w (no answer in %s: if this user may not create streams, start the router first: it creates them)", err, createTimeout)
	}
	return err
}
