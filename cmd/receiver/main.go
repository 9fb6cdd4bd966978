// Command receiver runs jobhooks' job hook receivers for the built-in jobs
// (log, serial-validator) and inspects the job registry, job results and
// dead letters. Run "receiver help" for usage.
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
