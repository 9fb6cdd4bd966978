// Package cli holds what the router's and receiver's subcommands share:
// exit codes, readable tables and --json output.
package cli
