// Package cli is the router and receiver commands, on cobra: their
// subcommands, flags (one function per group, shared by both), wiring,
// exit codes, readable tables and --json output. docs/cli.md is their
// reference.
package cli
