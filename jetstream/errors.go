package jetstream

import (
	"errors"
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
	// ErrPlacement is returned when the servers cannot hold the replicas
	// asked for: more than the cluster has up, or a single server.
	ErrPlacement = errors.New("cannot place the replicas")
)
