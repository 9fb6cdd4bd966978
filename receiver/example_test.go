package receiver_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jobhooks/jobhooks/events"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/receiver"
)

// A service embeds a receiver in a few lines: register the job, run the
// Runner until the process is told to stop. The router sends it the
// changes that the job's hooks match.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	nc, err := nats.Connect(nats.DefaultURL)
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}

	reg := receiver.NewRegistry()
	reg.HandleFunc("decommission", receiver.JobInfo{Description: "closes a deleted device's tickets", Enabled: true},
		func(ctx context.Context, job *receiver.Job, ch *receiver.Change, action events.Action, obj map[string]any) error {
			if action != events.ActionDelete {
				return nil
			}
			job.Info("closing the tickets of "+ch.ObjectRepr, ch.Object())
			return nil // an error is retried with back-off, then dead-lettered
		})

	// Run returns nil once ctx ends and running jobs have finished.
	if err := receiver.NewRunner(js, reg, receiver.Options{Concurrency: 8}).Run(ctx); err != nil {
		log.Fatal(err)
	}
}

// The whole round trip against an embedded server: a job message (which
// the router would publish) runs the job, and its result is read back.
func ExampleRunner() {
	dir, _ := os.MkdirTemp("", "jobhooks-example")
	defer os.RemoveAll(dir)
	srv, err := jhjs.StartEmbedded(jhjs.EmbeddedOptions{Listen: "127.0.0.1:0", StoreDir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	nc, _ := nats.Connect(srv.ClientURL())
	defer nc.Close()
	js, _ := jetstream.New(nc)

	reg := receiver.NewRegistry()
	reg.HandleFunc("greet", receiver.JobInfo{Enabled: true},
		func(ctx context.Context, job *receiver.Job, ch *receiver.Change, action events.Action, obj map[string]any) error {
			job.Success(fmt.Sprintf("hello, %s (%s)", obj["name"], action))
			return nil
		})
	ctx, cancel := context.WithCancel(context.Background())
	runner := receiver.NewRunner(js, reg, receiver.Options{Logger: slog.New(slog.DiscardHandler)})
	done := make(chan error)
	go func() { done <- runner.Run(ctx) }()
	<-runner.Ready()

	ch := &events.Change{Action: events.ActionCreate, ContentType: "dcim.device", ObjectID: "1",
		PostChange: map[string]any{"name": "edge-01"}}
	ev, _ := events.NewEvent(ch, events.EventOptions{ID: "change-1", Source: "example"})
	msg, _ := events.NewJobMsg(&events.ChangeEvent{Event: *ev, Change: *ch}, "greeter", "greet", nil)
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		log.Fatal(err)
	}

	// Follow the result record until it is final.
	kv, _ := js.KeyValue(ctx, jhjs.BucketJobResults)
	results := receiver.NewResults(kv)
	key := receiver.ResultKey("greeter", events.ChangeKey("example", "change-1"))
	w, _ := kv.Watch(ctx, key)
	for e := range w.Updates() {
		if e == nil {
			continue // end of the initial values
		}
		if res, err := results.Get(ctx, key); err == nil && res.Status.Final() {
			fmt.Println(res.Status, "-", res.Logs[1].Message)
			break
		}
	}
	_ = w.Stop()
	cancel()
	fmt.Println(<-done)
	// Output:
	// completed - hello, edge-01 (create)
	// <nil>
}
