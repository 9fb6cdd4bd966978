package natstest_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/internal/natstest"
)

func TestClusterFormsAndSurvivesALeaderRestart(t *testing.T) {
	c := natstest.StartCluster(t, natstest.ClusterOptions{})
	require.Len(t, c.URLs(), 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	for i := range c.Nodes() {
		require.Equal(t, "jobhooks", c.Server(i).ClusterName())
		require.True(t, c.Server(i).JetStreamIsClustered(), "node %d is in a JetStream cluster", i)
	}

	js := c.JetStream(0)
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Replicas: 3, Storage: jetstream.FileStorage})
	require.NoError(t, err)
	for range 10 {
		_, err := js.Publish(ctx, "t.x", []byte("m"))
		require.NoError(t, err)
	}

	for i := range c.Nodes() {
		c.MoveStreamLeader("T", i)
		require.Equal(t, i, c.StreamLeader("T"))
	}
	leader := c.StreamLeader("T")
	url := c.Nodes()[leader].URL
	c.Stop(leader)
	require.Nil(t, c.Server(leader))
	next := c.StreamLeader("T")
	require.NotEqual(t, leader, next, "another node leads once the leader stopped")

	// Through a node that is still up, the stream still has every message.
	other := c.JetStream(next)
	require.Eventually(t, func() bool {
		s, err := other.Stream(ctx, "T")
		return err == nil && s.CachedInfo().State.Msgs == 10
	}, time.Minute, 20*time.Millisecond)

	c.Restart(leader)
	require.Equal(t, url, c.Nodes()[leader].URL, "same client URL after restart")
	// The restarted node catches up from its store and the others.
	back := c.JetStream(leader)
	require.Eventually(t, func() bool {
		s, err := back.Stream(ctx, "T")
		return err == nil && s.CachedInfo().State.Msgs == 10 && len(s.CachedInfo().Cluster.Replicas) == 2
	}, time.Minute, 20*time.Millisecond)
}

func TestClusterTags(t *testing.T) {
	c := natstest.StartCluster(t, natstest.ClusterOptions{Nodes: 3, Name: "east", Tags: [][]string{{"az:1"}, {"az:2"}, {"az:2"}}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := c.JetStream(0).CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Replicas: 1,
		Placement: &jetstream.Placement{Cluster: "east", Tags: []string{"az:1"}}})
	require.NoError(t, err)
	require.Equal(t, "n1", s.CachedInfo().Cluster.Leader, "only n1 has tag az:1")
}
