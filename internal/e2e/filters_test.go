package e2e_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/receiver"
)

// TestConditionedHookRunsItsJobForMatchingChangesOnly: from change to job,
// a hook with conditions, changed_fields and the default skip_noop runs its
// job for the changes that meet them and for no other; the changes it
// skips are counted per hook.
func TestConditionedHookRunsItsJobForMatchingChangesOnly(t *testing.T) {
	ran := make(chan string, 10)
	reg := receiver.NewRegistry()
	reg.HandleFunc("activate", receiver.JobInfo{}, func(_ context.Context, _ *receiver.Job, ch *receiver.Change, _ events.Action, _ map[string]any) error {
		ran <- ch.ID
		return nil
	})
	h := hook("on-activation", "activate", events.ActionUpdate)
	h.Conditions = json.RawMessage(`{"and":[{"attr":"status","value":"active"},{"attr":"snapshots.prechange.status","value":"active","negate":true}]}`)
	h.ChangedFields = []string{"status"}
	p := newPipeline(t, reg, h)

	device := func(status, serial string) map[string]any {
		return map[string]any{"name": "d1", "status": status, "serial": serial}
	}
	update := func(from, to map[string]any) *events.Change {
		return &events.Change{Action: events.ActionUpdate, ContentType: "dcim.device", ObjectID: "d1", PreChange: from, PostChange: to}
	}
	p.publish("planned-to-active", update(device("planned", "A1"), device("active", "A1"))) // fires
	p.publish("serial-only", update(device("active", "A1"), device("active", "B2")))        // changed_fields: status did not change
	p.publish("noop", update(device("active", "B2"), device("active", "B2")))               // no differences
	p.publish("active-to-offline", update(device("active", "B2"), device("offline", "B2"))) // condition: status is not active
	p.publish("offline-to-active", update(device("offline", "B2"), device("active", "C3"))) // fires
	p.routed()

	require.Equal(t, receiver.StatusCompleted, p.result("on-activation", "planned-to-active").Status)
	require.Equal(t, receiver.StatusCompleted, p.result("on-activation", "offline-to-active").Status)
	require.Equal(t, "planned-to-active", <-ran)
	require.Equal(t, "offline-to-active", <-ran)
	require.Empty(t, ran, "no other change ran the job")
	require.Equal(t, uint64(2), p.streamMsgs("JOBS"), "two job messages in all")
	filtered := p.router.Stats().Filtered["on-activation"]
	require.Equal(t, uint64(1), filtered.ChangedFields)
	require.Equal(t, uint64(1), filtered.Noop)
	require.Equal(t, uint64(1), filtered.Condition)
}
