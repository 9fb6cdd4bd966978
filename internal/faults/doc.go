// Package faults holds the fault tests of jobhooks: nothing else lives here.
//
// They run real parts on loopback: the JetStream server as a separate
// process (this package's test binary re-executed, running
// jetstream.StartEmbedded), the router and receiver binaries built from
// ./cmd/router and ./cmd/receiver, or the router and receiver packages
// in-process where a test needs its own job. Each test counts what went in
// and what came out, asserts that nothing is lost and that every repeat is
// one the contract allows (a redelivery after a crash, a pause or an
// expired ack wait: docs/jetstream.md, README "Guarantees"), and logs its
// counts with t.Logf, so `go test -v` shows what a run counted.
//
//   - TestServerRestart: the file-backed server restarted (SIGTERM, SIGKILL)
//     in the middle of a stream of changes.
//   - TestKillRouterAndReceiver: router and receiver processes SIGKILLed at
//     random points, repeatedly, and restarted.
//   - TestPausedReceiver: a receiver SIGSTOPped past its ack wait, then
//     SIGCONTed, while a second receiver takes over its messages.
//   - TestHangingJob: heartbeats keep a hanging job past the ack wait; the
//     job timeout ends it; it is retried and finally recorded and
//     dead-lettered.
//   - TestHostileInput: the hostile-input corpus, on CHANGES, on JOBS and
//     through the HTTP ingest, alongside valid traffic.
//
// The default sizes keep each test to seconds or tens of seconds (the
// router's consumer has a fixed 30 s ack wait, which a killed router's
// changes wait out). The long variants (10,000 changes, more kills) run
// with
//
//	go test -race -v ./internal/faults -args -long
//
// or with JOBHOOKS_LONG=1 in the environment. -short skips the tests that
// build and run binaries.
package faults
