package hookconfig_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/hookconfig"
)

const wantPattern = `a pattern is <app_label>.* (every model of the app, e.g. dcim.*) or * (every content type); * stands for a whole model name only`

func TestContentTypePatternValidation(t *testing.T) {
	tests := []struct {
		name string
		cts  []string
		want string // "" for valid
	}{
		{"every content type", cts("*"), ""},
		{"every model of an app", cts("dcim.*"), ""},
		{"an app pattern and a model of another app", cts("dcim.*", "ipam.prefix"), ""},
		{"two app patterns", cts("dcim.*", "ipam.*"), ""},
		{"an app label with digits and underscores", cts("my_plugin2.*"), ""},
		{"part of a model name", cts("dcim.dev*"), `content_types[0]: invalid content type "dcim.dev*": ` + wantPattern},
		{"every app's model", cts("*.device"), `content_types[0]: invalid content type "*.device": ` + wantPattern},
		{"star star", cts("*.*"), `content_types[0]: invalid content type "*.*": ` + wantPattern},
		{"double star", cts("**"), `content_types[0]: invalid content type "**": ` + wantPattern},
		{"double star model", cts("dcim.**"), `content_types[0]: invalid content type "dcim.**": ` + wantPattern},
		{"no dot", cts("dcim*"), `content_types[0]: invalid content type "dcim*": ` + wantPattern},
		{"no app label", cts(".*"), `content_types[0]: invalid content type ".*": ` + wantPattern},
		{"upper-case app label", cts("ipam.prefix", "DCIM.*"), `content_types[1]: invalid content type "DCIM.*": ` + wantPattern},
		{"a nested app label", cts("dcim.device.*"), `content_types[0]: invalid content type "dcim.device.*": ` + wantPattern},
		{"an app pattern twice", cts("dcim.*", "dcim.*"), `content_types[1]: "dcim.*" is already content_types[0]`},
		{"star twice", cts("*", "*"), `content_types[1]: "*" is already content_types[0]`},
		{"a model covered by a later app pattern", cts("dcim.device", "ipam.prefix", "dcim.*"),
			`content_types[0]: "dcim.device" is already covered by content_types[2] "dcim.*"`},
		{"a model covered by an earlier app pattern", cts("dcim.*", "dcim.device"),
			`content_types[1]: "dcim.device" is already covered by content_types[0] "dcim.*"`},
		{"a model covered by star", cts("ipam.prefix", "*"), `content_types[0]: "ipam.prefix" is already covered by content_types[1] "*"`},
		{"an app pattern covered by star", cts("*", "dcim.*"), `content_types[1]: "dcim.*" is already covered by content_types[0] "*"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := hook("x", "j", tt.cts, create).Validate()
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, hookconfig.ErrInvalidHook)
			assert.EqualError(t, err, `invalid hook "x": `+tt.want)
		})
	}
}

func TestHookMatchesPatterns(t *testing.T) {
	tests := []struct {
		pattern, contentType string
		want                 bool
	}{
		{"*", "dcim.device", true},
		{"*", "my_plugin.thing", true},
		{"dcim.*", "dcim.device", true},
		{"dcim.*", "dcim.interface", true},
		{"dcim.*", "ipam.prefix", false},
		{"dcim.*", "dcimx.device", false},
		{"dcim.*", "dci.device", false},
		{"dcim.device", "dcim.device", true},
		{"dcim.device", "dcim.devicetype", false},
	}
	for _, tt := range tests {
		h := hook("x", "j", cts(tt.pattern), update)
		assert.Equal(t, tt.want, h.Matches(tt.contentType, update), "%s matches %s", tt.pattern, tt.contentType)
		assert.False(t, h.Matches(tt.contentType, create), "%s: not for another event", tt.pattern)
	}
}

func TestIndexPatterns(t *testing.T) {
	off := hook("d-off", "j", cts("*"), create, update, del)
	off.Enabled = false
	x := newTestIndex(
		hook("m-all", "a", cts("*"), create),
		hook("c-dcim", "b", cts("dcim.*"), create, update),
		hook("z-device", "c", cts("dcim.device", "ipam.prefix"), create),
		hook("a-ipam", "d", cts("ipam.*", "circuits.circuit"), create, del),
		hook("b-device", "e", cts("dcim.device"), update),
		off,
	)
	tests := []struct {
		contentType string
		action      events.Action
		want        []string
	}{
		// Exact, app pattern and * hooks, merged in name order.
		{"dcim.device", create, []string{"c-dcim", "m-all", "z-device"}},
		{"dcim.device", update, []string{"b-device", "c-dcim"}},
		{"dcim.device", del, nil},
		// No exact hooks for the route: the app pattern's, with *'s.
		{"dcim.interface", create, []string{"c-dcim", "m-all"}},
		{"dcim.interface", update, []string{"c-dcim"}},
		{"ipam.prefix", create, []string{"a-ipam", "m-all", "z-device"}},
		{"ipam.vlan", del, []string{"a-ipam"}},
		{"circuits.circuit", create, []string{"a-ipam", "m-all"}},
		{"circuits.circuit", update, nil},
		// Neither exact nor app hooks: * alone.
		{"tenancy.tenant", create, []string{"m-all"}},
		{"tenancy.tenant", update, nil},
		{"circuits.provider", create, []string{"m-all"}},
	}
	for _, tt := range tests {
		got := x.Lookup(tt.contentType, tt.action)
		assert.Equal(t, tt.want, names(got), "%s %s", tt.contentType, tt.action)
		for _, h := range got {
			assert.True(t, h.Matches(tt.contentType, tt.action), "Lookup and Matches agree on %s for %s %s", h.Name, tt.contentType, tt.action)
		}
	}
}

// Lookup answers agree with a scan of every hook with Matches, for a mix
// of exact content types and patterns.
func TestIndexPatternsAgreeWithMatches(t *testing.T) {
	var hooks []*hookconfig.Hook
	entries := []string{"*", "dcim.*", "ipam.*", "dcim.device", "dcim.site", "ipam.prefix", "extras.tag"}
	for i := range 60 {
		h := hook(fmt.Sprintf("%c-%02d", 'a'+i%26, i), "j", cts(entries[i%len(entries)]), events.Actions[i%3])
		if i%5 == 0 {
			h.Events = append(h.Events, events.Actions[(i+1)%3])
		}
		h.Enabled = i%7 != 6
		hooks = append(hooks, h)
	}
	x := newTestIndex(hooks...)
	for _, ct := range []string{"dcim.device", "dcim.site", "dcim.rack", "ipam.prefix", "ipam.vlan", "extras.tag", "tenancy.tenant"} {
		for _, a := range events.Actions {
			var want []string
			for _, h := range x.Hooks() { // by name
				if h.Enabled && h.Matches(ct, a) {
					want = append(want, h.Name)
				}
			}
			assert.Equal(t, want, names(x.Lookup(ct, a)), "%s %s", ct, a)
		}
	}
}

// A hook listing overlapping entries (which Validate refuses, but the
// index does not check) is still returned once.
func TestIndexOverlappingEntriesOnce(t *testing.T) {
	x := newTestIndex(
		hook("h", "j", cts("dcim.device", "dcim.*", "*"), create),
		hook("twice", "j", cts("ipam.prefix", "ipam.prefix", "ipam.*", "ipam.*"), update),
	)
	for _, ct := range []string{"dcim.device", "dcim.site", "ipam.prefix"} {
		assert.Equal(t, []string{"h"}, names(x.Lookup(ct, create)), ct)
	}
	for _, ct := range []string{"ipam.prefix", "ipam.vlan"} {
		assert.Equal(t, []string{"twice"}, names(x.Lookup(ct, update)), ct)
	}
}

func TestIndexPatternLookupsDoNotAllocate(t *testing.T) {
	x := newTestIndex(
		hook("all", "a", cts("*"), create),
		hook("dcim", "b", cts("dcim.*"), create),
		hook("device", "c", cts("dcim.device"), create),
	)
	for _, ct := range []string{"dcim.device", "dcim.site", "ipam.prefix"} {
		require.NotEmpty(t, x.Lookup(ct, create), ct)
		assert.Zero(t, testing.AllocsPerRun(100, func() { x.Lookup(ct, create) }), ct)
	}
}

func TestIndexPatternAppendDoesNotCorrupt(t *testing.T) {
	x := newTestIndex(
		hook("all", "a", cts("*"), create),
		hook("dcim", "b", cts("dcim.*"), create),
		hook("device", "c", cts("dcim.device"), create),
	)
	for _, ct := range []string{"dcim.device", "dcim.site", "ipam.prefix"} {
		_ = append(x.Lookup(ct, create), hook("intruder", "j", cts("*"), create))
	}
	assert.Equal(t, []string{"all", "dcim", "device"}, names(x.Lookup("dcim.device", create)))
	assert.Equal(t, []string{"all", "dcim"}, names(x.Lookup("dcim.site", create)))
	assert.Equal(t, []string{"all"}, names(x.Lookup("ipam.prefix", create)))
}

// A hook built in Go with conditions it never validated is compiled by the
// index, so that it never routes with its conditions ignored; one whose
// conditions do not compile is listed but not routed.
func TestIndexCompilesConditions(t *testing.T) {
	good := hook("good", "a", cts("dcim.device"), update)
	good.Conditions = json.RawMessage(`{"attr":"serial","op":"changed"}`)
	bad := hook("bad", "b", cts("dcim.device"), update)
	bad.Conditions = json.RawMessage(`{"attr":"serial","op":"bogus"}`)
	x := newTestIndex(good, bad)

	assert.Equal(t, []string{"good"}, names(x.Lookup("dcim.device", update)))
	assert.NotNil(t, x.Lookup("dcim.device", update)[0].ConditionSet())
	assert.Nil(t, good.ConditionSet(), "the caller's hook is not modified")
	got, ok := x.Get("bad")
	require.True(t, ok, "listed")
	assert.True(t, got.Enabled, "as it is")
	assert.Equal(t, 2, x.Len())
}

// Nautobot's conflict rule (same job, a shared event, a shared content
// type) with patterns: an entry shares every content type it selects.
func TestStorePutPatternConflicts(t *testing.T) {
	tests := []struct {
		name            string
		existing, added []string
		existingEvents  []events.Action
		job             string
		want            string // the conflict; "" for allowed
	}{
		{"an app pattern over an existing model", cts("dcim.device"), cts("dcim.*"), nil, "",
			`hook "added": a job hook already exists for update on dcim.* to job j: "existing" (its content type dcim.device overlaps dcim.*)`},
		{"a model under an existing app pattern", cts("dcim.*"), cts("ipam.prefix", "dcim.device"), nil, "",
			`hook "added": a job hook already exists for update on dcim.device to job j: "existing" (its content type dcim.* overlaps dcim.device)`},
		{"star over an existing app pattern", cts("dcim.*"), cts("*"), nil, "",
			`hook "added": a job hook already exists for update on * to job j: "existing" (its content type dcim.* overlaps *)`},
		{"an app pattern under an existing star", cts("*"), cts("ipam.*"), nil, "",
			`hook "added": a job hook already exists for update on ipam.* to job j: "existing" (its content type * overlaps ipam.*)`},
		{"star and star", cts("*"), cts("*"), nil, "",
			`hook "added": a job hook already exists for update on * to job j: "existing"`},
		{"the same app pattern", cts("ipam.*"), cts("ipam.*"), nil, "",
			`hook "added": a job hook already exists for update on ipam.* to job j: "existing"`},
		{"different apps", cts("dcim.*"), cts("ipam.*", "circuits.circuit"), nil, "", ""},
		{"another app's model", cts("dcim.*"), cts("ipam.prefix"), nil, "", ""},
		{"overlapping, but no shared event", cts("*"), cts("dcim.*"), []events.Action{create, del}, "", ""},
		{"overlapping, but another job", cts("*"), cts("dcim.device"), nil, "k", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.registerJob(t, "j", true)
			e.registerJob(t, "k", true)
			existingEvents := tt.existingEvents
			if existingEvents == nil {
				existingEvents = []events.Action{update}
			}
			_, err := e.store.Put(t.Context(), hook("existing", "j", tt.existing, existingEvents...), 0)
			require.NoError(t, err)

			job := tt.job
			if job == "" {
				job = "j"
			}
			_, err = e.store.Put(t.Context(), hook("added", job, tt.added, update), 0)
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, hookconfig.ErrConflict)
			assert.EqualError(t, err, tt.want)
		})
	}
}

// The new fields go through the store and come back as written.
func TestStorePutFilters(t *testing.T) {
	e := newEnv(t)
	e.registerJob(t, "j", true)
	for _, raw := range []string{
		`{"name": "plain", "content_types": ["dcim.*"], "job": "j", "events": ["update"]}`,
		`{"name": "precise", "content_types": ["ipam.prefix"], "job": "j", "events": ["update"],
		  "conditions": {"or": [{"attr": "status.value", "value": "active"}, {"attr": "tags.slug", "value": "core", "op": "contains"}]},
		  "changed_fields": ["status", "tags"], "skip_noop": false}`,
	} {
		h, err := hookconfig.DecodeHook([]byte(raw))
		require.NoError(t, err)
		_, err = e.store.Put(t.Context(), h, 0)
		require.NoError(t, err)
		got, _, err := e.store.Get(t.Context(), h.Name)
		require.NoError(t, err)
		assert.Equal(t, h, got)
		assert.Equal(t, h.SkipNoop, got.SkipNoop)
		assert.Equal(t, len(h.Conditions) > 0, got.ConditionSet() != nil)
	}
	plain, _, err := e.store.Get(t.Context(), "plain")
	require.NoError(t, err)
	assert.Nil(t, plain.SkipNoop, "absent stays absent in the bucket")
	assert.True(t, plain.SkipsNoop())

	bad := hook("bad", "j", cts("circuits.circuit"), update)
	bad.Conditions = json.RawMessage(`{"attr": "status", "value": "x", "op": "lt"}`)
	_, err = e.store.Put(t.Context(), bad, 0)
	require.ErrorIs(t, err, hookconfig.ErrInvalidHook)
	assert.EqualError(t, err, `invalid hook "bad": conditions.op: "lt" is not allowed for a string value (a string value allows eq, contains, regex)`)
}

// benchPatternHooks is benchHooks(n) plus, for each of its 8 apps, an app
// pattern hook per action, and three * hooks.
func benchPatternHooks(n int) []*hookconfig.Hook {
	hooks := benchHooks(n)
	for i := range 8 {
		app, _, _ := strings.Cut(benchContentType(i), ".")
		for _, a := range events.Actions {
			hooks = append(hooks, hook(fmt.Sprintf("app-%s-%s", app, a), "p", cts(app+".*"), a))
		}
	}
	for _, a := range events.Actions {
		hooks = append(hooks, hook("all-"+string(a), "q", cts("*"), a))
	}
	return hooks
}

// BenchmarkLookupPatterns looks up a content type with exact hooks, one
// only an app pattern selects, and one only * selects: one, two and three
// map accesses.
func BenchmarkLookupPatterns(b *testing.B) {
	x := hookconfig.NewIndex(benchPatternHooks(10000))
	for _, tt := range []struct{ name, ct string }{
		{"exact", benchContentType(0)}, {"app", "dcim.unlisted"}, {"all", "unlisted.model"},
	} {
		b.Run(tt.name, func(b *testing.B) {
			matches := len(x.Lookup(tt.ct, create))
			if matches == 0 {
				b.Fatal("the benchmark must look up a key with hooks")
			}
			b.ReportAllocs()
			for b.Loop() {
				x.Lookup(tt.ct, create)
			}
			b.ReportMetric(float64(matches), "hooks/lookup")
		})
	}
}

func BenchmarkNewIndexPatterns(b *testing.B) {
	hooks := benchPatternHooks(10000)
	b.ReportAllocs()
	for b.Loop() {
		hookconfig.NewIndex(hooks)
	}
}
