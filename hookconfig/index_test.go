package hookconfig_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/hookconfig"
)

func names(hooks []*hookconfig.Hook) []string {
	var out []string
	for _, h := range hooks {
		out = append(out, h.Name)
	}
	return out
}

func TestIndex(t *testing.T) {
	off := hook("off", "j", cts("dcim.device"), create, update)
	off.Enabled = false
	x := newTestIndex(
		hook("zeta", "a", cts("dcim.device", "ipam.prefix"), create, update),
		hook("alpha", "b", cts("dcim.device"), update),
		off,
		nil,
		hook("mid", "c", cts("ipam.prefix"), del),
	)

	tests := []struct {
		contentType string
		action      events.Action
		want        []string
	}{
		{"dcim.device", update, []string{"alpha", "zeta"}},
		{"dcim.device", create, []string{"zeta"}},
		{"dcim.device", del, nil},
		{"ipam.prefix", del, []string{"mid"}},
		{"ipam.prefix", create, []string{"zeta"}},
		{"dcim.site", create, nil},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, names(x.Lookup(tt.contentType, tt.action)), "%s %s", tt.contentType, tt.action)
	}

	assert.Equal(t, 4, x.Len(), "disabled hooks count, nil ones do not")
	assert.Equal(t, []string{"alpha", "mid", "off", "zeta"}, names(x.Hooks()))
	got, ok := x.Get("off")
	require.True(t, ok, "disabled hooks can be looked up by name")
	assert.Same(t, off, got)
	_, ok = x.Get("nope")
	assert.False(t, ok)
}

func TestIndexLaterHookWins(t *testing.T) {
	x := newTestIndex(
		hook("h", "a", cts("dcim.device"), create),
		hook("h", "a", cts("dcim.device"), update),
	)
	assert.Equal(t, 1, x.Len())
	assert.Empty(t, x.Lookup("dcim.device", create))
	assert.Equal(t, []string{"h"}, names(x.Lookup("dcim.device", update)))
}

func TestIndexAppendDoesNotCorrupt(t *testing.T) {
	x := newTestIndex(
		hook("a", "j", cts("dcim.device"), create),
		hook("b", "k", cts("dcim.device"), create),
		hook("c", "l", cts("dcim.device"), update),
	)
	got := x.Lookup("dcim.device", create)
	_ = append(got, hook("intruder", "j", cts("dcim.device"), create))
	_ = append(x.Hooks(), hook("intruder", "j", cts("dcim.device"), create))
	assert.Equal(t, []string{"a", "b"}, names(x.Lookup("dcim.device", create)))
	assert.Equal(t, []string{"a", "b", "c"}, names(x.Hooks()))
}

func TestIndexEmpty(t *testing.T) {
	x := hookconfig.NewIndex(nil)
	assert.Zero(t, x.Len())
	assert.Empty(t, x.Hooks())
	assert.Nil(t, x.Lookup("dcim.device", create))
}

func TestIndexLookupDoesNotAllocate(t *testing.T) {
	x := hookconfig.NewIndex(benchHooks(1000))
	ct, action := benchContentType(0), events.Actions[0]
	require.NotEmpty(t, x.Lookup(ct, action))
	allocs := testing.AllocsPerRun(100, func() { x.Lookup(ct, action) })
	assert.Zero(t, allocs)
}

func newTestIndex(hooks ...*hookconfig.Hook) *hookconfig.Index { return hookconfig.NewIndex(hooks) }

// benchContentType returns the i-th of 200 realistic content types.
func benchContentType(i int) string {
	apps := []string{"dcim", "ipam", "circuits", "tenancy", "virtualization", "extras", "wireless", "vpn"}
	return fmt.Sprintf("%s.model_%02d", apps[i%len(apps)], (i/len(apps))%25)
}

// benchHooks returns n hooks spread over 200 content types × 3 actions:
// hook i watches content type i%200 for action (i/200)%3, and every fourth
// hook is disabled.
func benchHooks(n int) []*hookconfig.Hook {
	hooks := make([]*hookconfig.Hook, n)
	for i := range hooks {
		ct := benchContentType(i % 200)
		action := events.Actions[(i/200)%3]
		hooks[i] = &hookconfig.Hook{
			Name:         fmt.Sprintf("%s-%s-%05d", ct[:3], action, i),
			ContentTypes: []string{ct},
			Job:          fmt.Sprintf("job-%02d", i%40),
			Enabled:      i%4 != 3,
			Events:       []events.Action{action},
		}
	}
	return hooks
}

func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			x := hookconfig.NewIndex(benchHooks(n))
			ct, action := benchContentType(0), events.Actions[0]
			matches := len(x.Lookup(ct, action))
			if matches == 0 {
				b.Fatal("the benchmark must look up a key with hooks")
			}
			b.ReportAllocs()
			for b.Loop() {
				x.Lookup(ct, action)
			}
			b.ReportMetric(float64(matches), "hooks/lookup")
		})
	}
}

func BenchmarkNewIndex(b *testing.B) {
	for _, n := range []int{10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			hooks := benchHooks(n)
			b.ReportAllocs()
			for b.Loop() {
				hookconfig.NewIndex(hooks)
			}
		})
	}
}
