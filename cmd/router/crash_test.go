package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/hookconfig"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
)

// buildRouter builds this command into a temp dir.
func buildRouter(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "router")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Run(), "go build ./cmd/router")
	return bin
}

func startRouter(t *testing.T, bin, url string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "--nats-url", url, "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd
}

// TestRouterCrashLosesNothingAndDuplicatesNothing kills the router process
// (SIGKILL) while it routes 5,000 changes to two jobs, restarts it, and
// checks that every change reached each job exactly once.
func TestRouterCrashLosesNothingAndDuplicatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the router binary; waits out the consumer's ack wait")
	}
	const changes = 5000
	jobNames := []string{"audit", "notify"}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := buildRouter(t)
	srv := jstest.StartProvisioned(t)
	registry := hookconfig.NewJobs(srv.KV(t, jhjs.BucketJobs))
	store := hookconfig.NewStore(srv.KV(t, jhjs.BucketJobHooks), registry)
	for _, job := range jobNames {
		_, err := registry.Put(ctx, &hookconfig.Job{Name: job, Enabled: true})
		require.NoError(t, err)
		_, err = store.Put(ctx, &hookconfig.Hook{Name: "device-" + job, Job: job, Enabled: true,
			ContentTypes: []string{"dcim.device"}, Events: []events.Action{events.ActionUpdate}}, 0)
		require.NoError(t, err)
	}

	pub := events.NewPublisher(srv.JS, "test://crash")
	for i := range changes {
		ch := &events.Change{Action: events.ActionUpdate, ContentType: "dcim.device", ObjectID: fmt.Sprint(i),
			PreChange: map[string]any{"serial": "A"}, PostChange: map[string]any{"serial": fmt.Sprint(i)}}
		_, err := pub.PublishAsync(ch, events.EventOptions{ID: fmt.Sprintf("chg-%05d", i)})
		require.NoError(t, err)
	}
	<-pub.PublishAsyncComplete()

	jobsStream, err := srv.JS.Stream(ctx, jhjs.StreamJobs)
	require.NoError(t, err)
	stored := func() uint64 {
		info, err := jobsStream.Info(ctx)
		require.NoError(t, err)
		return info.State.Msgs
	}
	want := uint64(changes * len(jobNames))

	first := startRouter(t, bin, srv.URL)
	require.Eventually(t, func() bool { return stored() >= 1000 }, time.Minute, time.Millisecond)
	require.NoError(t, first.Process.Kill())
	_ = first.Wait()
	atKill := stored()
	t.Logf("killed the router with %d of %d job messages stored", atKill, want)
	require.Less(t, atKill, want, "the kill must interrupt routing for this test to mean anything")

	startRouter(t, bin, srv.URL)
	routerConsumer, err := srv.JS.Consumer(ctx, jhjs.StreamChanges, jhjs.ConsumerRouter)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		info, err := routerConsumer.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	}, 2*time.Minute, 20*time.Millisecond, "the restarted router finishes every change")

	for _, job := range jobNames {
		cons, err := srv.JS.OrderedConsumer(ctx, jhjs.StreamJobs, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"jobs." + job}})
		require.NoError(t, err)
		seen := map[string]int{}
		total := 0
		for { // read to the end, so a duplicate would be counted
			batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(time.Second))
			require.NoError(t, err)
			n := 0
			for m := range batch.Messages() {
				seen[m.Headers().Get("ce-id")]++
				n++
			}
			if n == 0 {
				break
			}
			total += n
		}
		t.Logf("job %s: %d messages, %d distinct changes", job, total, len(seen))
		require.Equal(t, changes, len(seen), "every change reached job %s", job)
		require.Equal(t, changes, total, "no change reached job %s twice", job)
	}
	require.Equal(t, want, stored())
}
