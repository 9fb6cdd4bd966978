package jetstream

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// Server error codes provisioning explains.
const (
	errCodeNoSuitablePeers = 10005 // no suitable peers for placement
	errCodeNotClustered    = 10074 // replicas > 1 not supported in non-clustered mode
)

// Placement returns the placement c asks for, or nil when it asks for none.
func (c Config) Placement() *jetstream.Placement {
	if c.PlacementCluster == "" && len(c.PlacementTags) == 0 {
		return nil
	}
	return &jetstream.Placement{Cluster: c.PlacementCluster, Tags: slices.Clone(c.PlacementTags)}
}

// placementChange describes how have differs from want, "" when it does
// not. A nil want asks for nothing, so nothing differs.
func placementChange(have, want *jetstream.Placement) string {
	if want == nil || samePlacement(have, want) {
		return ""
	}
	return fmt.Sprintf("placement: %s -> %s", formatPlacement(have), formatPlacement(want))
}

func samePlacement(a, b *jetstream.Placement) bool {
	if a == nil {
		a = &jetstream.Placement{}
	}
	if b == nil {
		b = &jetstream.Placement{}
	}
	return a.Cluster == b.Cluster && slices.Equal(slices.Sorted(slices.Values(a.Tags)), slices.Sorted(slices.Values(b.Tags)))
}

func formatPlacement(p *jetstream.Placement) string {
	if p == nil || (p.Cluster == "" && len(p.Tags) == 0) {
		return "any"
	}
	var parts []string
	if p.Cluster != "" {
		parts = append(parts, "cluster "+p.Cluster)
	}
	if len(p.Tags) > 0 {
		parts = append(parts, "tags "+strings.Join(p.Tags, ","))
	}
	return strings.Join(parts, ", ")
}

// placementError explains the server's refusal to place replicas, which
// names neither the flag nor the fix; other errors are returned as they are.
func placementError(err error, replicas int, p *jetstream.Placement) error {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return err
	}
	switch apiErr.ErrorCode {
	case errCodeNotClustered:
		return fmt.Errorf("%w: --replicas %d needs a JetStream cluster, and this server is not clustered: use --replicas 1, or run a cluster of at least %d servers: %w",
			ErrPlacement, replicas, replicas, err)
	case errCodeNoSuitablePeers:
		if p == nil {
			return fmt.Errorf("%w: --replicas %d needs %d JetStream servers that are up and have room, and the cluster has fewer: lower --replicas or add servers: %w",
				ErrPlacement, replicas, replicas, err)
		}
		return fmt.Errorf("%w: --replicas %d needs %d JetStream servers that are up, have room and match the placement (%s), and fewer do: lower --replicas, add servers or change --placement-cluster/--placement-tags: %w",
			ErrPlacement, replicas, replicas, formatPlacement(p), err)
	}
	return err
}

// tagList is a comma-separated list flag.
type tagList []string

func (l *tagList) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ",")
}

func (l *tagList) Set(s string) error {
	*l = nil
	if s == "" {
		return nil
	}
	for _, tag := range strings.Split(s, ",") {
		*l = append(*l, strings.TrimSpace(tag))
	}
	return nil
}
