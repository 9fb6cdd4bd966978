package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/jobhooks/jobhooks/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Receiver(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
