// Command bench is jobhooks' benchmark: it starts its own nats-server (a
// child process), runs a bare nats.go relay and jobhooks' router and
// receiver against it in interleaved rounds, and prints the medians next
// to the targets of issue 8.
//
//	go run ./cmd/bench            # defaults: 3 rounds of 20,000 changes
//	go run ./cmd/bench -h         # the flags and the scenarios
//
// The work is done by internal/bench; this command parses nothing itself.
package main
