// Package jetstream is jobhooks' NATS plumbing: connecting to a server
// (URLs, credentials, TLS, NATS_* environment variables), running an
// embedded JetStream server for the default run and for tests, and
// provisioning the contract's streams, KV buckets and consumers
// idempotently.
package jetstream
