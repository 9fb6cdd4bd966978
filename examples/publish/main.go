package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jobhooks/jobhooks/events"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("publish", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var conn jhjs.ConnOptions
	conn.RegisterFlags(fs)
	objectID := fs.String("object-id", "dev-1", "the device's id")
	name := fs.String("name", "edge-01", "the device's name")
	serial := fs.String("serial", "", "the device's serial after the change")
	oldSerial := fs.String("old-serial", "", "the serial before the change; empty publishes a create")
	changedBy := fs.String("changed-by", "admin", "who made the change")
	if err := fs.Parse(args); err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := jhjs.Connect(ctx, conn, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}

	device := func(serial string) map[string]any {
		return map[string]any{"id": *objectID, "name": *name, "serial": serial}
	}
	ch := &events.Change{Action: events.ActionCreate, ContentType: "dcim.device", ObjectID: *objectID,
		ObjectRepr: *name, User: *changedBy, Time: time.Now().UTC(), PostChange: device(*serial)}
	if *oldSerial != "" {
		ch.Action, ch.PreChange = events.ActionUpdate, device(*oldSerial)
	}
	ack, err := events.NewPublisher(js, "jobhooks://examples/publish").Publish(ctx, ch, events.EventOptions{})
	if err != nil {
		return err
	}
	subject, _ := ch.Subject()
	fmt.Fprintf(stdout, "published %s of %s to %s (stream %s, sequence %d)\n", ch.Action, *objectID, subject, ack.Stream, ack.Sequence)
	return nil
}
