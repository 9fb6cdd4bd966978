package jetstream_test

import (
	"flag"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	jhjs "github.com/jobhooks/jobhooks/jetstream"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*jhjs.Config)
		want   string
	}{
		{"defaults", func(*jhjs.Config) {}, ""},
		{"five replicas", func(c *jhjs.Config) { c.Replicas = 5 }, ""},
		{"zero changes age", func(c *jhjs.Config) { c.ChangesMaxAge = 0 }, "invalid JetStream settings: --changes-max-age must be positive, got 0s"},
		{"negative jobs age", func(c *jhjs.Config) { c.JobsMaxAge = -time.Hour }, "invalid JetStream settings: --jobs-max-age must be positive, got -1h0m0s"},
		{"zero dead-letter age", func(c *jhjs.Config) { c.DeadLetterMaxAge = 0 }, "invalid JetStream settings: --deadletter-max-age must be positive, got 0s"},
		{"zero results age", func(c *jhjs.Config) { c.ResultsMaxAge = 0 }, "invalid JetStream settings: --results-max-age must be positive, got 0s"},
		{"zero replicas", func(c *jhjs.Config) { c.Replicas = 0 }, "invalid JetStream settings: --replicas must be 1 to 5, got 0"},
		{"six replicas", func(c *jhjs.Config) { c.Replicas = 6 }, "invalid JetStream settings: --replicas must be 1 to 5, got 6"},
		{"placement", func(c *jhjs.Config) { c.PlacementCluster, c.PlacementTags = "east", []string{"ssd", "az:1"} }, ""},
		{"placement cluster with a space", func(c *jhjs.Config) { c.PlacementCluster = "east 1" }, `invalid JetStream settings: --placement-cluster must be a cluster name without spaces, got "east 1"`},
		{"empty placement tag", func(c *jhjs.Config) { c.PlacementTags = []string{"ssd", ""} }, `invalid JetStream settings: --placement-tags must not contain an empty tag, got "ssd,"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := jhjs.DefaultConfig()
			tc.change(&c)
			err := c.Validate()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, jhjs.ErrConfig)
			require.EqualError(t, err, tc.want)
		})
	}
}

func TestConfigFlags(t *testing.T) {
	c := jhjs.DefaultConfig()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	c.RegisterFlags(fs)
	require.Equal(t, "7d", fs.Lookup("changes-max-age").DefValue)
	require.NoError(t, fs.Parse([]string{"--changes-max-age", "1d12h", "--jobs-max-age", "36h", "--deadletter-max-age", "90d", "--results-max-age", "45m", "--replicas", "3",
		"--placement-cluster", "east", "--placement-tags", "ssd, az:1"}))
	require.Equal(t, jhjs.Config{ChangesMaxAge: 36 * time.Hour, JobsMaxAge: 36 * time.Hour, DeadLetterMaxAge: 90 * day, ResultsMaxAge: 45 * time.Minute, Replicas: 3,
		PlacementCluster: "east", PlacementTags: []string{"ssd", "az:1"}}, c)
	require.Equal(t, &jetstream.Placement{Cluster: "east", Tags: []string{"ssd", "az:1"}}, c.Placement())
	require.Nil(t, jhjs.DefaultConfig().Placement(), "no placement unless asked for")

	fs = flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(new(discard))
	c.RegisterFlags(fs)
	require.ErrorContains(t, fs.Parse([]string{"--jobs-max-age", "1.5d"}), `invalid duration "1.5d": want e.g. 7d, 36h or 1d12h`)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
