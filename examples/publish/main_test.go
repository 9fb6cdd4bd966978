package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
)

func TestPublishesAnUpdate(t *testing.T) {
	srv := jstest.StartProvisioned(t)
	ctx := context.Background()

	var out, errOut bytes.Buffer
	err := run([]string{"--nats-url", srv.URL, "--object-id", "dev-9", "--old-serial", "A1", "--serial", "B2", "--changed-by", "alice"}, &out, &errOut)
	require.NoError(t, err, errOut.String())
	require.Contains(t, out.String(), "published update of dev-9 to changes.dcim.device.update")

	stream, err := srv.JS.Stream(ctx, jhjs.StreamChanges)
	require.NoError(t, err)
	m, err := stream.GetMsg(ctx, 1)
	require.NoError(t, err)
	ce, err := events.Decode(m.Subject, m.Header, m.Data)
	require.NoError(t, err)
	require.Equal(t, "alice", ce.Change.User)
	require.Equal(t, map[string]any{"serial": "B2"}, ce.Change.Snapshots().Differences.Added)
}
