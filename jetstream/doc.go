// Package jetstream is jobhooks' NATS plumbing: connecting to a server
// (URLs, credentials, TLS, inbox prefixes, NATS_* environment variables),
// running an embedded JetStream server for the default run and for tests
// (from a nats-server configuration file when given, with a warning when it
// listens beyond loopback without authentication), and
// provisioning the contract's streams, KV buckets and consumers
// idempotently.
package jetstream
