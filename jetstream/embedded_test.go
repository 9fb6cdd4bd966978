package jetstream_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	jhjs "github.com/jobhooks/jobhooks/jetstream"
)

func TestEmbeddedServerInProcessOnly(t *testing.T) {
	srv, err := jhjs.StartEmbedded(jhjs.EmbeddedOptions{StoreDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Shutdown(context.Background())) })

	require.Empty(t, srv.ClientURL(), "an embedded server without Listen must not open a port")
	nc, err := srv.Connect()
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := js.AccountInfo(ctx)
	require.NoError(t, err, "JetStream must be enabled")
	require.Zero(t, info.Streams)
}

func TestEmbeddedServerListensAndKeepsData(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	srv, err := jhjs.StartEmbedded(jhjs.EmbeddedOptions{Listen: "127.0.0.1:0", StoreDir: dir})
	require.NoError(t, err)
	nc, err := nats.Connect(srv.ClientURL())
	require.NoError(t, err)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "KEEP", Subjects: []string{"keep.>"}, Storage: jetstream.FileStorage})
	require.NoError(t, err)
	_, err = js.Publish(ctx, "keep.one", []byte("1"))
	require.NoError(t, err)
	nc.Close()
	require.NoError(t, srv.Shutdown(ctx))

	srv, err = jhjs.StartEmbedded(jhjs.EmbeddedOptions{StoreDir: dir})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Shutdown(context.Background())) })
	nc, err = srv.Connect()
	require.NoError(t, err)
	defer nc.Close()
	js, err = jetstream.New(nc)
	require.NoError(t, err)
	stream, err := js.Stream(ctx, "KEEP")
	require.NoError(t, err, "the stream must survive a restart on the same store dir")
	require.Equal(t, uint64(1), stream.CachedInfo().State.Msgs)
}

func TestEmbeddedServerErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts jhjs.EmbeddedOptions
		want string
	}{
		{"no store dir", jhjs.EmbeddedOptions{Listen: "127.0.0.1:0"}, "a store directory is required"},
		{"bad listen", jhjs.EmbeddedOptions{Listen: "localhost", StoreDir: t.TempDir()}, `listen address "localhost"`},
		{"bad port", jhjs.EmbeddedOptions{Listen: "127.0.0.1:http", StoreDir: t.TempDir()}, `listen port "http"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := jhjs.StartEmbedded(tc.opts)
			require.ErrorIs(t, err, jhjs.ErrEmbeddedStart)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestEmbeddedServerPortInUse(t *testing.T) {
	srv, err := jhjs.StartEmbedded(jhjs.EmbeddedOptions{Listen: "127.0.0.1:0", StoreDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Shutdown(context.Background())) })
	addr := srv.Server().Addr().String()

	_, err = jhjs.StartEmbedded(jhjs.EmbeddedOptions{Listen: addr, StoreDir: t.TempDir()})
	require.ErrorIs(t, err, jhjs.ErrEmbeddedStart)
	require.ErrorContains(t, err, "address already in use")
}
