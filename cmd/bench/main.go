package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/jobhooks/jobhooks/internal/bench"
)

func main() {
	// The benchmark re-executes itself as its nats-server and as the
	// router of the start-up scenario.
	if bench.IsChild() {
		os.Exit(bench.ChildMain())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := bench.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
