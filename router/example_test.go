package router_test

import (
	"context"
	"log"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jobhooks/jobhooks/router"
)

// A router with a context callback, the Go form of NetBox's
// register_webhook_callback: every job message of a device change carries
// "context": {"owner": ...}.
func Example_callbacks() {
	ctx := context.Background()
	nc, err := nats.Connect(nats.DefaultURL)
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}

	var callbacks router.Callbacks
	callbacks.Register("owner", func(ctx context.Context, req router.CallbackRequest) (map[string]any, error) {
		if req.ObjectType != "dcim.device" {
			return nil, nil
		}
		return map[string]any{"owner": "neteng"}, nil
	})
	if err := router.New(js, router.Options{Callbacks: &callbacks}).Run(ctx); err != nil {
		log.Fatal(err)
	}
}
