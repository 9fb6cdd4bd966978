package jstest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	jhjs "github.com/jobhooks/jobhooks/jetstream"
)

// Server is a test's JetStream server with one client connection.
type Server struct {
	*jhjs.EmbeddedServer
	// URL is the server's client URL, for a second connection or a child process.
	URL string
	// Conn is a TCP connection to the server, closed when the test ends.
	Conn *nats.Conn
	// JS is a JetStream context on Conn.
	JS jetstream.JetStream
}

// Start starts a server for t and connects to it.
func Start(t testing.TB) *Server {
	t.Helper()
	srv, err := jhjs.StartEmbedded(jhjs.EmbeddedOptions{Listen: "127.0.0.1:0", StoreDir: t.TempDir()})
	if err != nil {
		t.Fatalf("start JetStream server: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shut down JetStream server: %v", err)
		}
	})
	s := &Server{EmbeddedServer: srv, URL: srv.ClientURL()}
	s.Conn = s.NewConn(t)
	s.JS = s.JetStream(t, s.Conn)
	return s
}

// NewConn opens another TCP connection to the server, closed when t ends.
func (s *Server) NewConn(t testing.TB, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(s.URL, opts...)
	if err != nil {
		t.Fatalf("connect to %s: %v", s.URL, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// JetStream returns a JetStream context on nc.
func (s *Server) JetStream(t testing.TB, nc *nats.Conn) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream context: %v", err)
	}
	return js
}

// StartProvisioned starts a server for t with the contract's streams and
// buckets, as a router creates them at start.
func StartProvisioned(t testing.TB) *Server {
	t.Helper()
	s := Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := jhjs.Provision(ctx, s.JS, jhjs.DefaultConfig(), nil); err != nil {
		t.Fatalf("provision: %v", err)
	}
	return s
}

// KV opens the KV bucket name.
func (s *Server) KV(t testing.TB, name string) jetstream.KeyValue {
	t.Helper()
	kv, err := s.JS.KeyValue(context.Background(), name)
	if err != nil {
		t.Fatalf("open KV bucket %s: %v", name, err)
	}
	return kv
}
