// Package cli holds what the router's and receiver's subcommands share:
// exit codes, readable tables and --json output, and each command's HTTP
// server: ingest, /metrics (a registry per command, with the consumer lag
// read at scrape time), /healthz and /readyz.
package cli
