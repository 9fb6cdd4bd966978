// Package jstest starts a real JetStream server for tests: embedded in the
// test process, on a random loopback port, storing into the test's temp dir,
// and shut down when the test ends.
package jstest
