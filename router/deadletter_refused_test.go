package router_test

import (
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/router"
)

// TestAChangeWhoseDeadLetterIsRefusedIsCounted: when DEADLETTER refuses a
// dead letter for good, even without the change's body, the change is
// terminated (it stays in CHANGES) and counted as dead_lettered
// not_stored, so that routed + skipped + dead_lettered still counts every
// change handled; the valid change after it routes.
func TestAChangeWhoseDeadLetterIsRefusedIsCounted(t *testing.T) {
	e := newEnv(t)
	e.registerJob("audit", true)
	e.putHook("device-audit", "audit", "dcim.device", events.ActionCreate)
	stream, err := e.srv.JS.Stream(e.ctx, jhjs.StreamDeadLetter)
	require.NoError(t, err)
	cfg := stream.CachedInfo().Config
	cfg.MaxMsgSize = 1 // refuses every dead letter, shrunk or not
	_, err = e.srv.JS.UpdateStream(e.ctx, cfg)
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	r := e.startRouter(router.Options{Registerer: reg})

	bad := &nats.Msg{Subject: "changes.dcim.device.create", Header: nats.Header{
		"ce-specversion": {"1.0"}, "ce-id": {"bad-1"}, "ce-source": {"cli"}, "ce-type": {"jobhooks.change.create"},
	}, Data: []byte(`{"action":"create","content_type":"dcim.device"}`)}
	_, err = e.srv.JS.PublishMsg(e.ctx, bad)
	require.NoError(t, err)
	e.publish("c2", create("d2"))
	e.waitRouted(r, 2)

	require.Equal(t, "c2", e.jobMessages("audit", 1)[0].ID())
	require.Contains(t, e.log.String(), "the dead letter was refused; terminating the change")
	require.Equal(t, 1.0, metricValue(t, reg, "jobhooks_router_changes_dead_lettered_total", "reason", router.DeadLetterNotStored))
	require.Equal(t, 0.0, metricValue(t, reg, "jobhooks_router_changes_dead_lettered_total", "reason", router.DeadLetterInvalid))
	require.Equal(t, 1.0, metricValue(t, reg, "jobhooks_router_changes_routed_total"))
	info, err := stream.Info(e.ctx)
	require.NoError(t, err)
	require.Zero(t, info.State.Msgs, "nothing was stored on DEADLETTER")
}
