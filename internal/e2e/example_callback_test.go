package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/hookconfig"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/receiver"
	"github.com/jobhooks/jobhooks/receiver/builtin"
	"github.com/jobhooks/jobhooks/router"
)

// A context callback registered in a custom router binary (NetBox's
// register_webhook_callback) adds "context" to the NetBox-shaped body the
// webhook job delivers, as NetBox's documentation shows it.
func Example_contextCallbackInAWebhookBody() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bodies := make(chan []byte, 1)
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		select {
		case bodies <- body:
		default:
		}
	}))
	defer endpoint.Close()

	js, stop, err := exampleServer()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()
	quiet := slog.New(slog.DiscardHandler)

	// The receiver runs the built-in webhook job.
	reg := receiver.NewRegistry()
	builtin.Register(reg)
	runner := receiver.NewRunner(js, reg, receiver.Options{Jobs: []string{builtin.JobWebhook}, EnableNew: true, Logger: quiet})
	var running sync.WaitGroup
	defer func() { cancel(); running.Wait() }() // they stop before the server does
	running.Go(func() { _ = runner.Run(ctx) })
	<-runner.Ready()

	// The hook, stored before the router loads its table.
	hooksKV, _ := js.KeyValue(ctx, jhjs.BucketJobHooks)
	jobsKV, _ := js.KeyValue(ctx, jhjs.BucketJobs)
	params, _ := json.Marshal(map[string]any{"url": endpoint.URL})
	if _, err := hookconfig.NewStore(hooksKV, hookconfig.NewJobs(jobsKV)).Put(ctx, &hookconfig.Hook{
		Name: "notify", ContentTypes: []string{"dcim.device"}, Job: builtin.JobWebhook, Enabled: true,
		Events: []events.Action{events.ActionCreate}, Params: params,
	}, 0); err != nil {
		fmt.Println(err)
		return
	}

	// The custom router: a callback, then the router.
	var callbacks router.Callbacks
	callbacks.Register("owner", func(ctx context.Context, req router.CallbackRequest) (map[string]any, error) {
		return map[string]any{"owner": "network", "site": req.Data["site"]}, nil
	})
	rt := router.New(js, router.Options{Callbacks: &callbacks, Logger: quiet})
	running.Go(func() { _ = rt.Run(ctx) })
	<-rt.Ready()

	_, err = events.NewPublisher(js, "netbox://lab").Publish(ctx, &events.Change{
		Action: events.ActionCreate, ContentType: "dcim.device", ObjectID: "7", ObjectRepr: "edge-07",
		PostChange: map[string]any{"name": "edge-07", "site": "ams1"},
	}, events.EventOptions{ID: "chg-7"})
	if err != nil {
		fmt.Println(err)
		return
	}

	select {
	case body := <-bodies:
		var payload struct {
			Event      string         `json:"event"`
			ObjectType string         `json:"object_type"`
			Context    map[string]any `json:"context"`
		}
		_ = json.Unmarshal(body, &payload)
		fmt.Println(payload.Event, payload.ObjectType)
		fmt.Println(payload.Context)
	case <-ctx.Done():
		fmt.Println("no webhook delivered")
	}
	// Output:
	// created dcim.device
	// map[owner:network site:ams1]
}

// exampleServer starts a provisioned in-process JetStream server in a
// temporary directory; stop shuts it down and removes the directory.
func exampleServer() (jetstream.JetStream, func(), error) {
	dir, err := os.MkdirTemp("", "jobhooks-example-")
	if err != nil {
		return nil, nil, err
	}
	srv, err := jhjs.StartEmbedded(jhjs.EmbeddedOptions{StoreDir: dir})
	if err != nil {
		return nil, nil, err
	}
	nc, err := srv.Connect(nats.Name("example"))
	if err != nil {
		return nil, nil, err
	}
	stop := func() {
		nc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = os.RemoveAll(dir)
	}
	js, err := jetstream.New(nc)
	if err == nil {
		_, err = jhjs.Provision(context.Background(), js, jhjs.DefaultConfig(), nil)
	}
	if err != nil {
		stop()
		return nil, nil, err
	}
	return js, stop, nil
}
