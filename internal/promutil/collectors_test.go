package promutil_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/internal/promutil"
)

func counter(name string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: name})
}

// TestRegisterLeavesNoneOnFailure: when one collector cannot be
// registered, those registered before it are unregistered again.
func TestRegisterLeavesNoneOnFailure(t *testing.T) {
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(counter("taken_total")))
	cs := promutil.Collectors{counter("first_total"), counter("taken_total")}

	require.Error(t, cs.Register(reg))
	require.NoError(t, reg.Register(counter("first_total")), "first_total was unregistered after the failure")
}

// TestUnregisterRemovesAll: after Unregister, the same collectors register
// again.
func TestUnregisterRemovesAll(t *testing.T) {
	reg := prometheus.NewRegistry()
	cs := promutil.Collectors{counter("a_total"), counter("b_total")}
	require.NoError(t, cs.Register(reg))
	require.Error(t, cs.Register(reg), "registered twice")
	cs.Unregister(reg)
	require.NoError(t, cs.Register(reg))
}
