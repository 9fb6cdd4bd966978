package jetstream_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/internal/natstest"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
)

// clusterContext bounds a cluster test: longer than testContext, as
// replicas catching up take a loaded machine a while.
func clusterContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// contractStreams are the streams behind every stream and bucket of the
// contract: a KV bucket is the stream KV_<bucket>.
var contractStreams = []string{"CHANGES", "JOBS", "DEADLETTER", "KV_job_hooks", "KV_jobs", "KV_job_results"}

// requireReplicas waits until every contract stream has n replicas
// configured, a leader and n-1 current followers.
func requireReplicas(t *testing.T, js jetstream.JetStream, n int) {
	t.Helper()
	ctx := clusterContext(t)
	for _, name := range contractStreams {
		require.Eventually(t, func() bool {
			s, err := js.Stream(ctx, name)
			if err != nil {
				return false
			}
			info := s.CachedInfo()
			if info.Config.Replicas != n || info.Cluster == nil || info.Cluster.Leader == "" || len(info.Cluster.Replicas) != n-1 {
				return false
			}
			for _, r := range info.Cluster.Replicas {
				if !r.Current {
					return false
				}
			}
			return true
		}, time.Minute, 20*time.Millisecond, "%s has %d current replicas", name, n)
	}
}

func withChanges(action jhjs.ProvisionAction, changes ...string) []jhjs.ProvisionResult {
	out := allWith(action)
	for i := range out {
		out[i].Changes = changes
	}
	return out
}

func TestProvisionR3OnCluster(t *testing.T) {
	c := natstest.StartCluster(t, natstest.ClusterOptions{})
	js := c.JetStream(1)
	cfg := jhjs.DefaultConfig()
	cfg.Replicas = 3
	results, err := jhjs.Provision(clusterContext(t), js, cfg, nil)
	require.NoError(t, err)
	require.Equal(t, allWith(jhjs.ActionCreated), results)
	requireReplicas(t, js, 3)

	results, err = jhjs.Provision(clusterContext(t), c.JetStream(2), cfg, nil)
	require.NoError(t, err)
	require.Equal(t, allWith(jhjs.ActionUnchanged), results, "from another node, nothing to do")
}

func TestProvisionReplicasInPlace(t *testing.T) {
	c := natstest.StartCluster(t, natstest.ClusterOptions{})
	js := c.JetStream(0)
	ctx := clusterContext(t)
	cfg := jhjs.DefaultConfig()
	var warned jstest.LogBuffer
	_, err := jhjs.Provision(ctx, js, cfg, slog.New(slog.NewTextHandler(&warned, nil)))
	require.NoError(t, err)
	require.Contains(t, warned.String(), `level=WARN msg="JetStream is clustered but --replicas is 1: while the server holding a stream or bucket is down, jobhooks stops; give --replicas 3" cluster=jobhooks`)
	requireReplicas(t, js, 1)

	// Data in every stream and bucket, and the router's consumer, which
	// follows its stream's replicas.
	const n = 200
	for i := range n {
		for _, subj := range []string{"changes.dcim.device.created", "jobs.log", "deadletter.changes"} {
			_, err := js.Publish(ctx, subj, fmt.Appendf(nil, "m%d", i))
			require.NoError(t, err)
		}
	}
	for _, b := range []string{"job_hooks", "jobs", "job_results"} {
		kv, err := js.KeyValue(ctx, b)
		require.NoError(t, err)
		_, err = kv.Put(ctx, "k", []byte("v-"+b))
		require.NoError(t, err)
	}
	_, err = jhjs.EnsureConsumer(ctx, js, "CHANGES", jhjs.RouterConsumerConfig())
	require.NoError(t, err)

	for _, step := range []struct{ from, to int }{{1, 3}, {3, 1}} {
		var logs jstest.LogBuffer
		cfg.Replicas = step.to
		results, err := jhjs.Provision(ctx, js, cfg, slog.New(slog.NewTextHandler(&logs, nil)))
		require.NoError(t, err)
		change := fmt.Sprintf("replicas: %d -> %d", step.from, step.to)
		require.Equal(t, withChanges(jhjs.ActionUpdated, change), results)
		require.Contains(t, logs.String(), `msg="JetStream stream updated" stream=CHANGES changes="`+change+`"`)
		require.Contains(t, logs.String(), `msg="JetStream bucket updated" bucket=job_results changes="`+change+`"`)
		require.Equal(t, step.to == 1, strings.Contains(logs.String(), "JetStream is clustered but --replicas is 1"), "warned at R1 only")
		requireReplicas(t, js, step.to)

		for _, name := range []string{"CHANGES", "JOBS", "DEADLETTER"} {
			require.Equal(t, uint64(n), streamInfo(t, js, name).State.Msgs, "%s keeps its messages (R%d)", name, step.to)
		}
		for _, b := range []string{"job_hooks", "jobs", "job_results"} {
			kv, err := js.KeyValue(ctx, b)
			require.NoError(t, err)
			e, err := kv.Get(ctx, "k")
			require.NoError(t, err, "%s keeps its keys (R%d)", b, step.to)
			require.Equal(t, "v-"+b, string(e.Value()))
		}
		require.Eventually(t, func() bool {
			cons, err := js.Consumer(ctx, "CHANGES", "router")
			return err == nil && cons.CachedInfo().Cluster != nil && len(cons.CachedInfo().Cluster.Replicas) == step.to-1
		}, time.Minute, 20*time.Millisecond, "the router consumer follows CHANGES to R%d", step.to)
		// A consumer leader that has just moved may report 0 pending until it
		// has caught up with its stream: wait for the count it must settle on.
		require.Eventually(t, func() bool {
			cons, err := js.Consumer(ctx, "CHANGES", "router")
			return err == nil && cons.CachedInfo().NumPending == n
		}, time.Minute, 20*time.Millisecond, "the consumer keeps its position (R%d): %d pending", step.to, n)
	}
}

func TestProvisionReplicasItCannotPlace(t *testing.T) {
	single := jstest.Start(t)
	c := natstest.StartCluster(t, natstest.ClusterOptions{Tags: [][]string{{"az:1"}, {"az:2"}, {"az:3"}}})
	for _, tc := range []struct {
		name   string
		js     jetstream.JetStream
		change func(*jhjs.Config)
		want   string
	}{
		{"three on a single server", single.JS, func(c *jhjs.Config) { c.Replicas = 3 },
			"create stream CHANGES: cannot place the replicas: --replicas 3 needs a JetStream cluster, and this server is not clustered: use --replicas 1, or run a cluster of at least 3 servers: nats: API error: code=500 err_code=10074 description=replicas > 1 not supported in non-clustered mode"},
		{"five on three servers", c.JetStream(0), func(c *jhjs.Config) { c.Replicas = 5 },
			"create stream CHANGES: cannot place the replicas: --replicas 5 needs 5 JetStream servers that are up and have room, and the cluster has fewer: lower --replicas or add servers: nats: API error: code=400 err_code=10005 description=no suitable peers for placement"},
		{"three on one tagged server", c.JetStream(0), func(c *jhjs.Config) { c.Replicas, c.PlacementTags = 3, []string{"az:1"} },
			"create stream CHANGES: cannot place the replicas: --replicas 3 needs 3 JetStream servers that are up, have room and match the placement (tags az:1), and fewer do: lower --replicas, add servers or change --placement-cluster/--placement-tags: nats: API error: code=400 err_code=10005 description=no suitable peers for placement, tags not matched ['az:1']"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := jhjs.DefaultConfig()
			tc.change(&cfg)
			_, err := jhjs.Provision(clusterContext(t), tc.js, cfg, nil)
			require.ErrorIs(t, err, jhjs.ErrPlacement)
			require.EqualError(t, err, tc.want)
		})
	}

	// The same on update: R1 provisioned, then five asked for.
	js := c.JetStream(1)
	_, err := jhjs.Provision(clusterContext(t), js, jhjs.DefaultConfig(), nil)
	require.NoError(t, err)
	cfg := jhjs.DefaultConfig()
	cfg.Replicas = 5
	_, err = jhjs.Provision(clusterContext(t), js, cfg, nil)
	require.ErrorIs(t, err, jhjs.ErrPlacement)
	require.ErrorContains(t, err, "update stream CHANGES (replicas: 1 -> 5): cannot place the replicas: --replicas 5 needs 5 JetStream servers")
	require.Equal(t, 1, streamInfo(t, js, "CHANGES").Config.Replicas, "nothing changed")
}

func TestProvisionPlacement(t *testing.T) {
	c := natstest.StartCluster(t, natstest.ClusterOptions{Name: "east", Tags: [][]string{{"az:1", "ssd"}, {"az:2", "ssd"}, {"az:2"}}})
	js := c.JetStream(2)
	ctx := clusterContext(t)
	cfg := jhjs.DefaultConfig()
	cfg.PlacementCluster, cfg.PlacementTags = "east", []string{"ssd", "az:1"}
	_, err := jhjs.Provision(ctx, js, cfg, nil)
	require.NoError(t, err)
	for _, name := range contractStreams {
		info := streamInfo(t, js, name)
		require.Equal(t, &jetstream.Placement{Cluster: "east", Tags: []string{"ssd", "az:1"}}, info.Config.Placement, name)
		require.Equal(t, "n1", info.Cluster.Leader, "%s is on the only server tagged ssd and az:1", name)
	}
	results, err := jhjs.Provision(ctx, js, cfg, nil)
	require.NoError(t, err)
	require.Equal(t, allWith(jhjs.ActionUnchanged), results, "tags in another order are the same placement")

	// No placement asked for: the existing one stays.
	results, err = jhjs.Provision(ctx, js, jhjs.DefaultConfig(), nil)
	require.NoError(t, err)
	require.Equal(t, allWith(jhjs.ActionUnchanged), results)

	// Another placement is asked for.
	_, err = js.Publish(ctx, "changes.dcim.device.created", []byte("m"))
	require.NoError(t, err)
	cfg.PlacementTags = []string{"az:2", "ssd"}
	results, err = jhjs.Provision(ctx, js, cfg, nil)
	require.NoError(t, err)
	require.Equal(t, withChanges(jhjs.ActionUpdated, "placement: cluster east, tags ssd,az:1 -> cluster east, tags az:2,ssd"), results)
	// The server then moves them (copies to n2, then drops n1): its
	// business, and not always done within a minute on a loaded machine
	// (nats-server 2.15 leaves an R1 move half done now and then), so this
	// checks what jobhooks asked for, not the move.
	for _, name := range contractStreams {
		require.Equal(t, &jetstream.Placement{Cluster: "east", Tags: []string{"az:2", "ssd"}}, streamInfo(t, js, name).Config.Placement, name)
	}
	require.Equal(t, uint64(1), streamInfo(t, js, "CHANGES").State.Msgs, "the update keeps the messages")
}
