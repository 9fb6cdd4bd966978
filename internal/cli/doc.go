// Package cli is the router and receiver commands, on cobra: their
// subcommands, flags (one function per group, shared by both), wiring,
// exit codes, readable tables and --json output, and each command's HTTP
// server: ingest, /metrics (a registry per command, with the consumer lag
// read at scrape time), /healthz and /readyz. docs/cli.md is their
// reference.
package cli
