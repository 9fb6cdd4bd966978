package router_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/hookconfig"
	"github.com/jobhooks/jobhooks/router"
)

// rack is a dcim.rack snapshot: a status, a serial and a last_updated.
func rack(status, serial, updated string) map[string]any {
	return map[string]any{"id": 7, "name": "R01", "serial": serial, "last_updated": updated,
		"status": map[string]any{"value": status, "label": strings.ToUpper(status[:1]) + status[1:]},
		"tags":   []any{map[string]any{"slug": "core"}, map[string]any{"slug": "dc1"}}}
}

// TestHookFilters: a hook fires for a change its content types and events
// select only when its filters say so: conditions on the object and the
// snapshots, changed_fields and skip_noop on updates; creates and deletes
// are not subject to changed_fields and skip_noop. Each case has a hook of
// its own (its own content type and job) and one change; the case says
// whether its job gets a message, and which filter counts the change
// when it does not.
func TestHookFilters(t *testing.T) {
	noFalse := false
	for _, tc := range []struct {
		name       string
		conditions string
		changed    []string
		skipNoop   *bool
		change     events.Change // content type set per case
		fires      bool
		filter     string // the filter that counts it when it does not fire
	}{
		{name: "condition met", conditions: `{"attr":"status.value","value":"active"}`,
			change: events.Change{Action: events.ActionUpdate, PreChange: rack("planned", "S1", "t1"), PostChange: rack("active", "S1", "t2")}, fires: true},
		{name: "condition not met", conditions: `{"attr":"status.value","value":"active"}`,
			change: events.Change{Action: events.ActionUpdate, PreChange: rack("active", "S1", "t1"), PostChange: rack("planned", "S1", "t2")}, filter: router.FilterCondition},
		{name: "condition negated", conditions: `{"attr":"status.value","value":"active","negate":true}`,
			change: events.Change{Action: events.ActionCreate, PostChange: rack("active", "S1", "t1")}, filter: router.FilterCondition},
		{name: "condition over a list", conditions: `{"and":[{"attr":"tags.slug","value":"core","op":"contains"}]}`,
			change: events.Change{Action: events.ActionCreate, PostChange: rack("active", "S1", "t1")}, fires: true},
		{name: "condition on a prechange snapshot", conditions: `{"attr":"snapshots.prechange.status.value","value":"planned"}`,
			change: events.Change{Action: events.ActionUpdate, PreChange: rack("planned", "S1", "t1"), PostChange: rack("active", "S1", "t2")}, fires: true},
		{name: "condition changed op", conditions: `{"attr":"serial","op":"changed"}`,
			change: events.Change{Action: events.ActionUpdate, PreChange: rack("planned", "S1", "t1"), PostChange: rack("active", "S1", "t2")}, filter: router.FilterCondition},
		{name: "condition on a delete reads the object as it was", conditions: `{"attr":"status.value","value":"active"}`,
			change: events.Change{Action: events.ActionDelete, PreChange: rack("active", "S1", "t1")}, fires: true},
		{name: "condition path that does not resolve", conditions: `{"attr":"tenant.name","value":"acme","negate":true}`,
			change: events.Change{Action: events.ActionCreate, PostChange: rack("active", "S1", "t1")}, filter: router.FilterCondition},
		{name: "changed_fields: one changed", changed: []string{"status", "serial"},
			change: events.Change{Action: events.ActionUpdate, PreChange: rack("active", "S1", "t1"), PostChange: rack("active", "S2", "t2")}, fires: true},
		{name: "changed_fields: another changed", changed: []string{"serial"},
			change: events.Change{Action: events.ActionUpdate, PreChange: rack("planned", "S1", "t1"), PostChange: rack("active", "S1", "t2")}, filter: router.FilterChangedFields},
		{name: "changed_fields: a create fires", changed: []string{"serial"},
			change: events.Change{Action: events.ActionCreate, PostChange: rack("active", "S1", "t1")}, fires: true},
		{name: "changed_fields: a delete fires", changed: []string{"serial"},
			change: events.Change{Action: events.ActionDelete, PreChange: rack("active", "S1", "t1")}, fires: true},
		{name: "skip_noop by default: a no-op update", change: events.Change{Action: events.ActionUpdate,
			PreChange: rack("active", "S1", "t1"), PostChange: rack("active", "S1", "t2")}, filter: router.FilterNoop},
		{name: "skip_noop by default: an update", change: events.Change{Action: events.ActionUpdate,
			PreChange: rack("active", "S1", "t1"), PostChange: rack("active", "S2", "t2")}, fires: true},
		{name: "skip_noop false: a no-op update fires", skipNoop: &noFalse, change: events.Change{Action: events.ActionUpdate,
			PreChange: rack("active", "S1", "t1"), PostChange: rack("active", "S1", "t2")}, fires: true},
		{name: "skip_noop false, changed_fields: no-op update", skipNoop: &noFalse, changed: []string{"serial"},
			change: events.Change{Action: events.ActionUpdate, PreChange: rack("active", "S1", "t1"), PostChange: rack("active", "S1", "t2")}, filter: router.FilterChangedFields},
		{name: "skip_noop by default: a create with an empty object fires",
			change: events.Change{Action: events.ActionCreate, PostChange: map[string]any{}}, fires: true},
		{name: "skip_noop by default: a delete fires",
			change: events.Change{Action: events.ActionDelete, PreChange: rack("active", "S1", "t1")}, fires: true},
		{name: "conditions and changed_fields: both met", conditions: `{"attr":"status.value","value":"active"}`, changed: []string{"status"},
			change: events.Change{Action: events.ActionUpdate, PreChange: rack("planned", "S1", "t1"), PostChange: rack("active", "S1", "t2")}, fires: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.registerJob("filtered", true)
			h := &hookconfig.Hook{Name: "rack-hook", Job: "filtered", ContentTypes: []string{"dcim.rack"},
				Events: []events.Action{tc.change.Action}, Enabled: true, ChangedFields: tc.changed, SkipNoop: tc.skipNoop}
			if tc.conditions != "" {
				h.Conditions = json.RawMessage(tc.conditions)
			}
			_, err := e.store.Put(e.ctx, h, 0)
			require.NoError(t, err)
			reg := prometheus.NewRegistry()
			r := e.startRouter(router.Options{Registerer: reg})
			ch := tc.change
			ch.ContentType, ch.ObjectID = "dcim.rack", "7"
			e.publish("c1", &ch)
			e.waitRouted(r, 1)

			want := 0
			if tc.fires {
				want = 1
			}
			e.jobMessages("filtered", want)
			counts := r.Stats().Filtered["rack-hook"]
			var wantCounts router.FilterCounts
			switch tc.filter {
			case router.FilterNoop:
				wantCounts.Noop = 1
			case router.FilterChangedFields:
				wantCounts.ChangedFields = 1
			case router.FilterCondition:
				wantCounts.Condition = 1
			}
			require.Equal(t, wantCounts, counts)
			if tc.filter != "" {
				require.Equal(t, 1.0, metricValue(t, reg, "jobhooks_router_hook_filtered_total", "hook", "rack-hook", "reason", tc.filter))
				require.Equal(t, 1.0, metricValue(t, reg, "jobhooks_router_changes_skipped_total", "reason", router.SkipFiltered))
			}
		})
	}
}

// TestAnInvalidConditionIsLoggedOncePerHook: a condition that cannot be
// evaluated, its path not resolving (tenant-a, tenant-b) or its value of
// the wrong type for its op (mismatch: gt on a string), fails closed,
// every time, and says so once a minute per hook, not per change.
func TestAnInvalidConditionIsLoggedOncePerHook(t *testing.T) {
	e := newEnv(t)
	hooks := map[string]string{
		"tenant-a": `{"attr":"tenant.name","value":"tenant-a"}`,
		"tenant-b": `{"attr":"tenant.name","value":"tenant-b"}`,
		"mismatch": `{"attr":"name","op":"gt","value":5}`,
	}
	for name, cond := range hooks {
		e.registerJob(name, true)
		_, err := e.store.Put(e.ctx, &hookconfig.Hook{Name: name, Job: name, ContentTypes: []string{"dcim.device"},
			Events: []events.Action{events.ActionCreate}, Enabled: true, Conditions: json.RawMessage(cond)}, 0)
		require.NoError(t, err)
	}
	r := e.startRouter(router.Options{})
	const n = 5
	for i := range n {
		e.publish(fmt.Sprintf("c%d", i), create(fmt.Sprintf("d%d", i)))
	}
	e.waitRouted(r, n)
	stats := r.Stats()
	for name := range hooks {
		e.jobMessages(name, 0)
		require.Equal(t, router.FilterCounts{Condition: n}, stats.Filtered[name], name)
	}
	logs := e.log.String()
	require.Equal(t, len(hooks), strings.Count(logs, "hook condition cannot be evaluated"), logs)
	require.Contains(t, logs, "hook=tenant-a")
	require.Contains(t, logs, "tenant.name")
	require.Contains(t, logs, "hook=mismatch")
}
