package bench

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jobhooks/jobhooks/events"
)

// Changes of the benchmark: dcim.device updates, about 1 KB of data each.
const (
	changeSource      = "bench://nautobot"
	changeContentType = "dcim.device"
)

// buildChanges renders n change messages, ready to publish: SPEC-valid
// dcim.device updates in binary mode, spread over objects objects, with
// ids "<prefix>-<i>" (so a job knows its change's number, see changeIndex)
// and Nats-Msg-Id for de-duplication, as events.Publisher sends them.
func buildChanges(prefix string, n, objects int) ([]*nats.Msg, error) {
	msgs := make([]*nats.Msg, n)
	base := time.Date(2026, 3, 6, 15, 0, 0, 0, time.UTC)
	for i := range msgs {
		obj := i % objects
		// The object's version: how many changes it had before this one.
		version := i / objects
		at := base.Add(time.Duration(i) * time.Millisecond)
		ch := &events.Change{
			Action:      events.ActionUpdate,
			ContentType: changeContentType,
			ObjectID:    objectID(obj),
			ObjectRepr:  deviceName(obj),
			User:        "netops-automation",
			RequestID:   fmt.Sprintf("8f2b6c1e-4d3a-4b7e-9c01-%012d", i),
			Time:        at,
			PreChange:   device(obj, version, at.Add(-time.Hour)),
			PostChange:  device(obj, version+1, at),
		}
		msg, err := events.NewMsg(ch, events.EventOptions{ID: prefix + "-" + strconv.Itoa(i), Source: changeSource, Time: at})
		if err != nil {
			return nil, fmt.Errorf("change %d: %w", i, err)
		}
		msgs[i] = msg
	}
	return msgs, nil
}

// changeIndex returns the number i of a change id "<prefix>-<i>".
func changeIndex(id string) (int, bool) {
	dash := strings.LastIndexByte(id, '-')
	if dash < 0 {
		return 0, false
	}
	i, err := strconv.Atoi(id[dash+1:])
	return i, err == nil && i >= 0
}

func objectID(obj int) string { return fmt.Sprintf("4f1c2a9e-5b7d-4d0e-9f6a-%012d", obj) }

func deviceName(obj int) string { return fmt.Sprintf("leaf-%04d.dc%d", obj, obj%4+1) }

// device is a NetBox/Nautobot-like snapshot of device obj at a version:
// the serial, asset tag and status move with the version.
func device(obj, version int, updated time.Time) map[string]any {
	site := obj % 4
	status := map[string]any{"value": "active", "label": "Active"}
	if version%5 == 4 {
		status = map[string]any{"value": "planned", "label": "Planned"}
	}
	return map[string]any{
		"name":          deviceName(obj),
		"serial":        fmt.Sprintf("JN%08X", obj*7919+version),
		"asset_tag":     fmt.Sprintf("AT-%06d-%d", obj, version),
		"status":        status,
		"site":          map[string]any{"id": site + 1, "name": fmt.Sprintf("dc%d", site+1)},
		"rack":          fmt.Sprintf("R%02d", obj/40+1),
		"position":      obj%40 + 1,
		"device_type":   map[string]any{"manufacturer": "Juniper", "model": "QFX5120-48Y"},
		"role":          "leaf",
		"platform":      "junos",
		"tenant":        "network",
		"primary_ip4":   fmt.Sprintf("10.%d.%d.%d/32", site+1, obj/250, obj%250+1),
		"tags":          []any{"production", fmt.Sprintf("pod-%d", obj%8)},
		"custom_fields": map[string]any{"owner": "netops"},
		"last_updated":  updated.Format(time.RFC3339Nano),
	}
}
