// Package bench is jobhooks' benchmark (cmd/bench): a bare nats.go relay
// against jobhooks' router and receiver, on a nats-server of its own.
//
// The nats-server runs in a child process: the benchmark re-executes its
// own binary with JOBHOOKS_BENCH_CHILD=nats-server (see IsChild and
// ChildMain), so nothing is built at run time. The start-up scenario starts
// the router the same way, with JOBHOOKS_BENCH_CHILD=router, running the
// code cmd/router runs (internal/cli). Children are stopped at the end, on
// an error and on an interrupt; on Linux they also get SIGKILL should the
// benchmark die first (Pdeathsig), and everywhere they stop when their
// stdin, a pipe from the benchmark, closes.
//
// Every scenario run starts from clean state: the streams and buckets are
// provisioned (jetstream.Provision, the contract's defaults) and emptied,
// their messages purged and their consumers deleted; then its pipeline
// starts, and only once it is ready are the changes published. A run
// measures
//
//   - throughput: N changes published as fast as a bounded window of
//     asynchronous publishes allows, timed from the first publish to the
//     moment the job of the N-th distinct change (job message, with
//     fan-out) starts: the bare worker received it, or jobhooks called the
//     no-op job;
//   - latency: changes published open loop at a fixed rate, each on its
//     intended send time whatever the system's lag, and the latency of each
//     job from that intended time to the job's start.
//
// Each job message is counted: a second arrival is a duplicate, and one
// that does not come (no progress for StallTimeout) fails the run.
//
// Rounds interleave the scenarios (A B C, B C A, C A B …); the report gives the
// median of each figure over the rounds, and ratios of medians.
package bench
