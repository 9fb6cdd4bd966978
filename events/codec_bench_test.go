package events_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/cloudevents/sdk-go/v2/binding/format"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
)

// kilobyteChange is an update of about 1 KB of JSON data, the size of a
// typical Nautobot device change.
func kilobyteChange(tb testing.TB) *events.Change {
	device := func(serial string) map[string]any {
		return map[string]any{
			"id": "4f1c2a9e-3b7d-4c1e-9a2f-0d5e6f7a8b9c", "name": "edge-01", "serial": serial, "asset_tag": "AT-0001",
			"status":        map[string]any{"id": "a1", "name": "Active"},
			"role":          map[string]any{"id": "b2", "name": "edge-router"},
			"device_type":   map[string]any{"id": "c3", "model": "MX204", "manufacturer": "Juniper"},
			"location":      map[string]any{"id": "d4", "name": "DC1-row3-rack12"},
			"platform":      map[string]any{"id": "e5", "name": "junos"},
			"tags":          []any{"core", "prod"},
			"custom_fields": map[string]any{"owner": "neteng", "tier": 1.0},
			"comments":      "Edge router, east.",
		}
	}
	ch := updateChange()
	ch.PreChange, ch.PostChange = device("A1"), device("B2")
	data, err := json.Marshal(ch)
	require.NoError(tb, err)
	require.InDelta(tb, 1024, len(data), 200, "the benchmark change should be about 1 KB")
	return ch
}

// BenchmarkDecode decodes a 1 KB change in both content modes; the json
// case is the floor: only unmarshalling the data. Compare ratios within one
// run, not absolute times.
func BenchmarkDecode(b *testing.B) {
	ch := kilobyteChange(b)
	msg, err := events.NewMsg(ch, events.EventOptions{ID: "chg-1", Source: "nautobot://prod"})
	require.NoError(b, err)
	ev, err := events.DecodeEvent(msg.Header, msg.Data)
	require.NoError(b, err)
	structured, err := format.JSON.Marshal(ev)
	require.NoError(b, err)
	structuredHeader := nats.Header{"content-type": {"application/cloudevents+json"}}

	for _, bc := range []struct {
		name   string
		size   int
		decode func() error
	}{
		{"json-only", len(msg.Data), func() error {
			var c events.Change
			return json.Unmarshal(msg.Data, &c)
		}},
		{"binary", len(msg.Data), func() error {
			_, err := events.Decode(msg.Subject, msg.Header, msg.Data)
			return err
		}},
		{"structured", len(structured), func() error {
			_, err := events.Decode(msg.Subject, structuredHeader, structured)
			return err
		}},
	} {
		b.Run(fmt.Sprintf("%s/%dB", bc.name, bc.size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(bc.size))
			for b.Loop() {
				if err := bc.decode(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRender is the router's work per change and matching hook: read
// a 1 KB binary-mode update as it arrived and render its job message. The
// decode case reads it whole (Decode), as the router did; head reads what
// routing needs (DecodeHead), as it does.
func BenchmarkRender(b *testing.B) {
	ch := kilobyteChange(b)
	msg, err := events.NewMsg(ch, events.EventOptions{ID: "chg-1", Source: "nautobot://prod"})
	require.NoError(b, err)
	for _, bc := range []struct {
		name   string
		render func() (*events.JobMessages, error)
	}{
		{"decode", func() (*events.JobMessages, error) {
			ce, err := events.Decode(msg.Subject, msg.Header, msg.Data)
			if err != nil {
				return nil, err
			}
			return events.NewJobMessagesFrom(ce, msg.Header, nil)
		}},
		{"head", func() (*events.JobMessages, error) {
			h, err := events.DecodeHead(msg.Subject, msg.Header, msg.Data)
			if err != nil {
				return nil, err
			}
			return h.JobMessages(nil)
		}},
	} {
		b.Run(fmt.Sprintf("%s/%dB", bc.name, len(msg.Data)), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(msg.Data)))
			for b.Loop() {
				msgs, err := bc.render()
				if err != nil {
					b.Fatal(err)
				}
				if _, err := msgs.For("serial-check", "serial-validator"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
