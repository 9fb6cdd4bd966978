package natstest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// readyTimeout bounds every wait of the harness: a node accepting
// connections, a meta leader elected, a stream leader known. It is generous
// because the CI machine is shared; a healthy cluster takes well under a
// second.
const readyTimeout = 60 * time.Second

// ClusterOptions configures StartCluster; the zero value is a 3-node
// cluster named "jobhooks".
type ClusterOptions struct {
	// Nodes is the number of servers (default 3).
	Nodes int
	// Name is the cluster name (default "jobhooks").
	Name string
	// Tags, if set, gives node i the server tags Tags[i] (for placement
	// tests).
	Tags [][]string
}

// Cluster is a running in-process JetStream cluster.
type Cluster struct {
	t     testing.TB
	name  string
	mu    sync.Mutex
	nodes []*Node
}

// Node is one server of a Cluster.
type Node struct {
	// Name is the server name: "n1", "n2", …
	Name string
	// URL is the node's client URL; it stays the same across Restart.
	URL string
	// StoreDir is the node's JetStream store directory.
	StoreDir string

	opts *server.Options
	srv  *server.Server
}

// StartCluster starts a cluster for t and waits until it has a meta leader
// and JetStream is current on every node. It is shut down when t ends.
func StartCluster(t testing.TB, o ClusterOptions) *Cluster {
	t.Helper()
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	if o.Name == "" {
		o.Name = "jobhooks"
	}
	if o.Tags != nil && len(o.Tags) != o.Nodes {
		t.Fatalf("natstest: %d tag lists for %d nodes", len(o.Tags), o.Nodes)
	}
	// Every node routes to every node (itself included; the server skips
	// that one), so the meta group knows its size from the start. The route
	// ports must be known before any node starts: reserve them.
	routePorts := freePorts(t, o.Nodes)
	routes := make([]*url.URL, o.Nodes)
	for i, p := range routePorts {
		routes[i] = &url.URL{Scheme: "nats-route", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(p))}
	}
	c := &Cluster{t: t, name: o.Name}
	for i := range o.Nodes {
		opts := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1",
			Port:       server.RANDOM_PORT,
			JetStream:  true,
			StoreDir:   t.TempDir(),
			// Bounded, so a test never reserves the machine's memory or disk.
			JetStreamMaxMemory: 256 << 20,
			JetStreamMaxStore:  1 << 30,
			NoSigs:             true,
			NoLog:              true,
			Cluster: server.ClusterOpts{
				Name: o.Name,
				Host: "127.0.0.1",
				Port: routePorts[i],
			},
			Routes: routes,
		}
		if o.Tags != nil {
			opts.Tags = o.Tags[i]
		}
		n := &Node{Name: opts.ServerName, StoreDir: opts.StoreDir, opts: opts}
		c.nodes = append(c.nodes, n)
	}
	t.Cleanup(c.shutdown)
	for _, n := range c.nodes {
		c.start(n)
		// The next start keeps the client port this one got.
		n.opts.Port = n.srv.Addr().(*net.TCPAddr).Port
		n.URL = n.srv.ClientURL()
	}
	c.WaitReady()
	return c
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("natstest: reserve a port: %v", err)
		}
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports
}

func (c *Cluster) start(n *Node) {
	c.t.Helper()
	// The server keeps and changes its options: give it a copy, so a
	// restart starts from ours.
	opts := n.opts.Clone()
	srv, err := server.NewServer(opts)
	if err != nil {
		c.t.Fatalf("natstest: node %s: %v", n.Name, err)
	}
	srv.Start()
	if !srv.ReadyForConnections(readyTimeout) {
		srv.Shutdown()
		c.t.Fatalf("natstest: node %s did not accept connections within %s", n.Name, readyTimeout)
	}
	c.mu.Lock()
	n.srv = srv
	c.mu.Unlock()
}

func (c *Cluster) shutdown() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.nodes {
		if n.srv != nil {
			n.srv.Shutdown()
			n.srv.WaitForShutdown()
			n.srv = nil
		}
	}
}

// Name returns the cluster name.
func (c *Cluster) Name() string { return c.name }

// Nodes returns the cluster's nodes, in start order.
func (c *Cluster) Nodes() []*Node { return c.nodes }

// URLs returns every node's client URL.
func (c *Cluster) URLs() []string {
	urls := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		urls[i] = n.URL
	}
	return urls
}

// Server returns the running server of node i, or nil while it is stopped.
func (c *Cluster) Server(i int) *server.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i].srv
}

// Stop shuts node i down and waits until it has.
func (c *Cluster) Stop(i int) {
	c.t.Helper()
	c.mu.Lock()
	srv := c.nodes[i].srv
	c.nodes[i].srv = nil
	c.mu.Unlock()
	if srv == nil {
		c.t.Fatalf("natstest: node %s is not running", c.nodes[i].Name)
	}
	srv.Shutdown()
	srv.WaitForShutdown()
}

// Restart starts node i again, on its ports and store directory, and waits
// until the cluster is ready again.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	if c.Server(i) != nil {
		c.t.Fatalf("natstest: node %s is running", c.nodes[i].Name)
	}
	c.start(c.nodes[i])
	c.WaitReady()
}

// WaitReady waits until a meta leader is elected, it counts every node as
// a peer, and JetStream is current on every running node.
func (c *Cluster) WaitReady() {
	c.t.Helper()
	deadline := time.Now().Add(readyTimeout)
	for time.Now().Before(deadline) {
		if c.ready() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("natstest: cluster %s not ready within %s (meta leader with %d peers, JetStream current on every running node)",
		c.name, readyTimeout, len(c.nodes))
}

func (c *Cluster) ready() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	var leader *server.Server
	for _, n := range c.nodes {
		if n.srv == nil {
			continue
		}
		if !n.srv.JetStreamEnabled() || !n.srv.JetStreamIsCurrent() {
			return false
		}
		if n.srv.JetStreamIsLeader() {
			leader = n.srv
		}
	}
	return leader != nil && len(leader.JetStreamClusterPeers()) == len(c.nodes)
}

// StreamLeader waits until stream has a leader among the running nodes and
// returns its index.
func (c *Cluster) StreamLeader(stream string) int {
	c.t.Helper()
	deadline := time.Now().Add(readyTimeout)
	for time.Now().Before(deadline) {
		if i := c.streamLeader(stream); i >= 0 {
			return i
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("natstest: stream %s has no leader within %s", stream, readyTimeout)
	return -1
}

func (c *Cluster) streamLeader(stream string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, n := range c.nodes {
		if n.srv != nil && n.srv.JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, stream) {
			return i
		}
	}
	return -1
}

// Connect opens a client connection to node i, closed when the test ends.
// The connection knows every node (node i first) and reconnects forever, as
// a production client given the cluster's URLs would.
func (c *Cluster) Connect(i int, opts ...nats.Option) *nats.Conn {
	c.t.Helper()
	urls := []string{c.nodes[i].URL}
	for j, n := range c.nodes {
		if j != i {
			urls = append(urls, n.URL)
		}
	}
	opts = append([]nats.Option{nats.DontRandomize(), nats.MaxReconnects(-1), nats.ReconnectWait(50 * time.Millisecond)}, opts...)
	nc, err := nats.Connect(strings.Join(urls, ","), opts...)
	if err != nil {
		c.t.Fatalf("natstest: connect to node %s: %v", c.nodes[i].Name, err)
	}
	c.t.Cleanup(nc.Close)
	return nc
}

// JetStream returns a JetStream context on a new connection to node i.
func (c *Cluster) JetStream(i int, opts ...nats.Option) jetstream.JetStream {
	c.t.Helper()
	js, err := jetstream.New(c.Connect(i, opts...))
	if err != nil {
		c.t.Fatalf("natstest: JetStream on node %s: %v", c.nodes[i].Name, err)
	}
	return js
}

// MoveStreamLeader makes node i the leader of stream (a stream leader
// step-down preferring it) and waits until it is.
func (c *Cluster) MoveStreamLeader(stream string, i int) {
	c.t.Helper()
	if c.StreamLeader(stream) == i {
		return
	}
	nc := c.Connect(i)
	defer nc.Close()
	req, err := json.Marshal(map[string]any{"placement": map[string]string{"preferred": c.nodes[i].Name}})
	if err != nil {
		c.t.Fatalf("natstest: %v", err)
	}
	deadline := time.Now().Add(readyTimeout)
	for time.Now().Before(deadline) {
		// The step-down answers before the election ends; an election
		// that another node wins is asked for again.
		if _, err := nc.Request("$JS.API.STREAM.LEADER.STEPDOWN."+stream, req, 5*time.Second); err == nil {
			for range 100 {
				if l := c.streamLeader(stream); l == i {
					return
				} else if l >= 0 {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("natstest: node %s did not become the leader of stream %s within %s", c.nodes[i].Name, stream, readyTimeout)
}
