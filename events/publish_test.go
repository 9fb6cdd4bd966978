package events_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
)

func changesStream(t *testing.T, ctx context.Context, js jetstream.JetStream) jetstream.Stream {
	t.Helper()
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "CHANGES", Subjects: []string{"changes.>"}, Duplicates: 2 * time.Minute})
	require.NoError(t, err)
	return s
}

func TestPublisherDeduplicatesByChangeID(t *testing.T) {
	srv := jstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream := changesStream(t, ctx, srv.JS)
	p := events.NewPublisher(srv.JS, "nautobot://prod")

	first, err := p.Publish(ctx, updateChange(), events.EventOptions{ID: "chg-1"})
	require.NoError(t, err)
	require.False(t, first.Duplicate)
	again, err := p.Publish(ctx, updateChange(), events.EventOptions{ID: "chg-1"})
	require.NoError(t, err)
	require.True(t, again.Duplicate, "a republish with the same change id is a duplicate")
	require.Equal(t, first.Sequence, again.Sequence)

	generated, err := p.Publish(ctx, updateChange(), events.EventOptions{})
	require.NoError(t, err)
	require.False(t, generated.Duplicate)

	info, err := stream.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(2), info.State.Msgs)

	stored, err := stream.GetMsg(ctx, generated.Sequence)
	require.NoError(t, err)
	require.Equal(t, "changes.dcim.device.update", stored.Subject)
	got, err := events.Decode(stored.Subject, stored.Header, stored.Data)
	require.NoError(t, err)
	require.NotEmpty(t, got.ID(), "a generated id")
	require.Equal(t, got.Key(), stored.Header.Get("Nats-Msg-Id"))
	require.Equal(t, "nautobot://prod", got.Event.Source())
}

func TestPublisherRejectsInvalidChanges(t *testing.T) {
	srv := jstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream := changesStream(t, ctx, srv.JS)

	bad := updateChange()
	bad.PostChange = nil
	_, err := events.NewPublisher(srv.JS, "nautobot://prod").Publish(ctx, bad, events.EventOptions{})
	require.ErrorIs(t, err, events.ErrInvalidChange)
	require.ErrorContains(t, err, "an update needs postchange")

	_, err = events.NewPublisher(srv.JS, "").Publish(ctx, updateChange(), events.EventOptions{})
	require.ErrorIs(t, err, events.ErrInvalidChange)
	require.ErrorContains(t, err, "the event source is required")

	_, err = events.NewPublisher(srv.JS, "nautobot://prod").PublishAsync(updateChange(), events.EventOptions{ID: string(make([]byte, 300))})
	require.ErrorIs(t, err, events.ErrInvalidChangeID)

	info, err := stream.Info(ctx)
	require.NoError(t, err)
	require.Zero(t, info.State.Msgs, "nothing invalid is published")
}

func TestPublisherAsyncBulk(t *testing.T) {
	srv := jstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stream := changesStream(t, ctx, srv.JS)
	p := events.NewPublisher(srv.JS, "nautobot://prod")

	const n = 1000
	futures := make([]jetstream.PubAckFuture, 0, n)
	for i := range n {
		ch := updateChange()
		ch.ObjectID = fmt.Sprintf("dev-%d", i)
		f, err := p.PublishAsync(ch, events.EventOptions{ID: fmt.Sprintf("bulk-%d", i)})
		require.NoError(t, err)
		futures = append(futures, f)
	}
	select {
	case <-p.PublishAsyncComplete():
	case <-ctx.Done():
		t.Fatal("async publishes not acknowledged")
	}
	for i, f := range futures {
		select {
		case ack := <-f.Ok():
			require.Equal(t, uint64(i+1), ack.Sequence, "stored in publish order")
		case err := <-f.Err():
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	info, err := stream.Info(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(n), info.State.Msgs)
}
