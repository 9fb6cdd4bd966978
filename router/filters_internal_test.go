package router

import (
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/conditions"
	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/hookconfig"
)

// updateHead is a binary-mode dcim.device update with the snapshots pre
// and post as given.
func updateHead(t *testing.T, pre, post string) *events.ChangeHead {
	t.Helper()
	header := nats.Header{}
	header.Set("ce-specversion", "1.0")
	header.Set("ce-id", "chg-1")
	header.Set("ce-source", "nautobot://prod")
	header.Set("ce-type", "jobhooks.change.update")
	data := `{"action":"update","content_type":"dcim.device","object_id":"1","prechange":` + pre + `,"postchange":` + post + `}`
	h, err := events.DecodeHead("changes.dcim.device.update", header, []byte(data))
	require.NoError(t, err)
	return h
}

func validHook(t *testing.T, h *hookconfig.Hook) *hookconfig.Hook {
	t.Helper()
	h.Job, h.ContentTypes, h.Events, h.Enabled = "job", []string{"dcim.device"}, []events.Action{events.ActionUpdate}, true
	require.NoError(t, h.Validate())
	return h
}

// Empty conditions ("conditions": {}) are met without decoding the change.
func TestEmptyConditionsDoNotDecode(t *testing.T) {
	h := validHook(t, &hookconfig.Hook{Name: "empty", Conditions: json.RawMessage(`{}`)})
	require.True(t, h.ConditionSet().Empty())
	v := &changeView{head: updateHead(t, `{"a":1}`, `{"a":2}`)}
	reason, _, err := evaluate(h, v)
	require.NoError(t, err)
	require.Equal(t, filterNone, reason)
	require.Nil(t, v.change, "decoded for an empty condition set")
}

// A change whose differences its snapshots as they arrived cannot tell (an
// escaped member name) is decoded once for all its hooks: skip_noop,
// changed_fields of several hooks, conditions.
func TestChangeDecodedOnce(t *testing.T) {
	v := &changeView{head: updateHead(t, `{"\u0061":1,"b":1}`, `{"a":2,"b":1}`)}
	var first *events.Change
	keep := false // skip_noop false: changed_fields asks first
	for _, h := range []*hookconfig.Hook{
		validHook(t, &hookconfig.Hook{Name: "a", ChangedFields: []string{"a"}, SkipNoop: &keep}),
		validHook(t, &hookconfig.Hook{Name: "b", ChangedFields: []string{"b"}, SkipNoop: &keep}),
		validHook(t, &hookconfig.Hook{Name: "noop"}),
		validHook(t, &hookconfig.Hook{Name: "cond", Conditions: json.RawMessage(`{"attr":"a","value":2}`)}),
	} {
		_, _, err := evaluate(h, v)
		require.NoError(t, err)
		require.NotNil(t, v.change, "hook %s: the change decoded by the view", h.Name)
		if first == nil {
			first = v.change
		}
		require.Same(t, first, v.change, "hook %s decoded the change again", h.Name)
	}
	for name, want := range map[string]filterReason{"a": filterNone, "b": filterChangedFields} {
		reason, _, err := evaluate(validHook(t, &hookconfig.Hook{Name: name, ChangedFields: []string{name}}), v)
		require.NoError(t, err)
		require.Equal(t, want, reason, name)
	}
}

// With debug logging off, counting a filtered change allocates nothing.
func TestFilteredDoesNotAllocate(t *testing.T) {
	r := &Router{log: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	h := &hookconfig.Hook{Name: "h"}
	allocs := testing.AllocsPerRun(100, func() {
		r.filtered(h, filterNoop, conditions.Failure{}, "chg-1", "changes.dcim.device.update")
	})
	require.Zero(t, allocs)
}
