// Command publish emits one device change with jobhooks' events.Publisher,
// the way a NetBox or Nautobot integration written in Go would:
//
//	go run ./examples/publish --object-id dev-1 --serial BAD --old-serial A1
//
// With --old-serial it publishes an update (prechange → postchange),
// without it a create.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jobhooks/jobhooks/events"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
)

func main() {
	var conn jhjs.ConnOptions
	conn.RegisterFlags(flag.CommandLine)
	objectID := flag.String("object-id", "dev-1", "the device's id")
	name := flag.String("name", "edge-01", "the device's name")
	serial := flag.String("serial", "", "the device's serial after the change")
	oldSerial := flag.String("old-serial", "", "the serial before the change; empty publishes a create")
	user := flag.String("user", "admin", "who made the change")
	flag.Parse()
	if err := run(conn, *objectID, *name, *serial, *oldSerial, *user); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(conn jhjs.ConnOptions, objectID, name, serial, oldSerial, user string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := jhjs.Connect(ctx, conn, slog.Default())
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}

	device := func(serial string) map[string]any {
		return map[string]any{"id": objectID, "name": name, "serial": serial}
	}
	ch := &events.Change{Action: events.ActionCreate, ContentType: "dcim.device", ObjectID: objectID,
		ObjectRepr: name, User: user, Time: time.Now().UTC(), PostChange: device(serial)}
	if oldSerial != "" {
		ch.Action, ch.PreChange = events.ActionUpdate, device(oldSerial)
	}
	ack, err := events.NewPublisher(js, "jobhooks://examples/publish").Publish(ctx, ch, events.EventOptions{})
	if err != nil {
		return err
	}
	subject, _ := ch.Subject()
	fmt.Printf("published %s of %s to %s (stream %s, sequence %d)\n", ch.Action, objectID, subject, ack.Stream, ack.Sequence)
	return nil
}
