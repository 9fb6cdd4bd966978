package builtin

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
)

func TestDecideSerial(t *testing.T) {
	t.Parallel()
	dev := func(serial any) map[string]any { return map[string]any{"name": "edge-01", "serial": serial} }
	noSerial := map[string]any{"name": "edge-01"}
	for _, tc := range []struct {
		name    string
		action  events.Action
		pre     map[string]any
		post    map[string]any
		pattern string
		verdict SerialVerdict
		fixTo   any // the fix's serial; nil: no fix expected
		message string
	}{
		{name: "delete", action: events.ActionDelete, pre: dev("ABCD"), verdict: SerialDeleted},
		{name: "update, serial unchanged", action: events.ActionUpdate, pre: dev("ABCD"),
			post: map[string]any{"name": "edge-02", "serial": "ABCD"}, verdict: SerialUnchanged},
		{name: "update, serial key removed", action: events.ActionUpdate, pre: dev("ABCD"), post: noSerial,
			verdict: SerialUnchanged},
		{name: "create, valid", action: events.ActionCreate, post: dev("SN-0042"), verdict: SerialValid,
			message: `serial "SN-0042" is valid`},
		// Nautobot's example crashes here: removed is None on create.
		{name: "create, invalid", action: events.ActionCreate, post: dev("bad serial"), verdict: SerialCleared, fixTo: "",
			message: `serial "bad serial" is invalid (want ^[A-Z0-9-]{4,32}$) and there is no earlier one: cleared it`},
		{name: "create, too short", action: events.ActionCreate, post: dev("AB1"), verdict: SerialCleared, fixTo: ""},
		{name: "create, too long", action: events.ActionCreate, post: dev("A123456789012345678901234567890123"), verdict: SerialCleared, fixTo: ""},
		{name: "create, not a string", action: events.ActionCreate, post: dev(12345), verdict: SerialCleared, fixTo: ""},
		{name: "create, empty", action: events.ActionCreate, post: dev(""), verdict: SerialMissing},
		{name: "create, null", action: events.ActionCreate, post: dev(nil), verdict: SerialMissing},
		{name: "create, no serial field", action: events.ActionCreate, post: noSerial, verdict: SerialUnchanged},
		{name: "update, valid", action: events.ActionUpdate, pre: dev("ABCD"), post: dev("ABCE"), verdict: SerialValid},
		{name: "update, invalid", action: events.ActionUpdate, pre: dev("ABCD"), post: dev("abcd"), verdict: SerialReverted, fixTo: "ABCD",
			message: `serial "abcd" is invalid (want ^[A-Z0-9-]{4,32}$): reverted to "ABCD"`},
		{name: "update, emptied", action: events.ActionUpdate, pre: dev("ABCD"), post: dev(""), verdict: SerialReverted, fixTo: "ABCD"},
		{name: "update, old serial null", action: events.ActionUpdate, pre: dev(nil), post: dev("x"), verdict: SerialReverted, fixTo: nil,
			message: `serial "x" is invalid (want ^[A-Z0-9-]{4,32}$): reverted to null`},
		{name: "update, serial added", action: events.ActionUpdate, pre: noSerial, post: dev("x"), verdict: SerialCleared, fixTo: ""},
		{name: "update without prechange", action: events.ActionUpdate, post: dev("x"), verdict: SerialCleared, fixTo: ""},
		{name: "custom pattern", action: events.ActionCreate, post: dev("abc"), pattern: `^[a-z]+$`, verdict: SerialValid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pattern := DefaultSerialPattern
			if tc.pattern != "" {
				pattern = tc.pattern
			}
			ch := &events.Change{Action: tc.action, ContentType: "dcim.device", ObjectID: "1", ObjectRepr: "edge-01",
				User: "admin", PreChange: tc.pre, PostChange: tc.post}
			require.NoError(t, ch.Validate())
			d := DecideSerial(ch, regexp.MustCompile(pattern))
			assert.Equal(t, tc.verdict, d.Verdict)
			if tc.message != "" {
				assert.Equal(t, tc.message, d.Message)
			}
			if tc.verdict != SerialReverted && tc.verdict != SerialCleared {
				assert.Nil(t, d.Fix)
				return
			}
			require.NotNil(t, d.Fix)
			require.NoError(t, d.Fix.Validate())
			assert.Equal(t, events.ActionUpdate, d.Fix.Action)
			assert.Equal(t, "1", d.Fix.ObjectID)
			assert.Equal(t, "admin", d.Fix.User)
			assert.Equal(t, tc.post, d.Fix.PreChange, "the fix starts from the triggering change's postchange")
			want := map[string]any{"name": "edge-01", "serial": tc.fixTo}
			assert.Equal(t, want, d.Fix.PostChange)
			assert.Equal(t, map[string]any{"serial": tc.fixTo}, d.Fix.Snapshots().Differences.Added)
			assert.NotEqual(t, tc.fixTo, tc.post["serial"], "the trigger is left untouched")
		})
	}
}

func TestSerialPattern(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		params string
		want   string
		err    string
	}{
		{"", DefaultSerialPattern, ""},
		{`{}`, DefaultSerialPattern, ""},
		{`{"pattern": "^SN[0-9]+$"}`, "^SN[0-9]+$", ""},
		{`{"pattern": "("}`, "", "invalid params: pattern"},
		{`{"pattern": 3}`, "", "invalid params"},
	} {
		re, err := serialPattern([]byte(tc.params))
		if tc.err != "" {
			assert.ErrorContains(t, err, tc.err, tc.params)
			continue
		}
		require.NoError(t, err, tc.params)
		assert.Equal(t, tc.want, re.String())
	}
}
