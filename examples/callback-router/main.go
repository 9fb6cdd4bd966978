// Command callback-router is a custom router binary: jobhooks' router with
// a context callback, NetBox's register_webhook_callback in Go. Every job
// message it routes carries {"context": {"owner": ...}}, and the webhook job
// delivers that context in its body, as NetBox does.
//
//	go run ./examples/callback-router --nats-url nats://127.0.0.1:4222
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/nats-io/nats.go/jetstream"

	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/router"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(ctx, log, os.Args[1:]); err != nil {
		log.Error("router stopped", "error", err)
		os.Exit(1)
	}
}

// owner is the callback: who owns the changed object, from its name.
func owner(ctx context.Context, req router.CallbackRequest) (map[string]any, error) {
	name, _ := req.Data["name"].(string)
	if name == "" {
		return nil, nil // nothing to add: NetBox ignores empty returns too
	}
	team := "network"
	if strings.HasPrefix(name, "srv-") {
		team = "compute"
	}
	return map[string]any{"owner": team}, nil
}

func run(ctx context.Context, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("callback-router", flag.ContinueOnError)
	var conn jhjs.ConnOptions
	conn.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	nc, err := jhjs.Connect(ctx, conn, log)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("JetStream: %w", err)
	}
	if _, err := jhjs.Provision(ctx, js, jhjs.DefaultConfig(), log); err != nil {
		return err
	}
	var callbacks router.Callbacks
	callbacks.Register("owner", owner)
	err = router.New(js, router.Options{Logger: log, Callbacks: &callbacks}).Run(ctx)
	if ctx.Err() != nil {
		return nil
	}
	return err
}
