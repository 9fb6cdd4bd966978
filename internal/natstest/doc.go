// Package natstest starts real NATS JetStream clusters for tests: N
// nats-server nodes in the test process, joined by real cluster routes on
// loopback, each on random ports with its own store directory in the test's
// temp dir. A test can stop a node and start it again on the same ports and
// store, and find which node leads a stream. Everything is shut down when
// the test ends.
//
// For a single server, use jetstream/jstest.
package natstest
