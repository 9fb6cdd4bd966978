// Package promutil holds the Prometheus helpers the router and the
// receiver share. It is internal, and apart from package jetstream, which
// is about NATS and has no business importing client_golang.
package promutil
