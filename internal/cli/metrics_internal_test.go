package cli

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
	"github.com/jobhooks/jobhooks/receiver"
)

// The receiver's /readyz says not ready until its runner consumes, ready
// then, and not ready again once the connection is gone; /healthz says ok
// throughout.
func TestReceiverReadiness(t *testing.T) {
	t.Parallel()
	s := jstest.StartProvisioned(t)
	nc := s.NewConn(t)
	reg := receiver.NewRegistry()
	reg.HandleFunc("noop", receiver.JobInfo{}, func(context.Context, *receiver.Job, *receiver.Change, events.Action, map[string]any) error {
		return nil
	})
	r := receiver.NewRunner(s.JetStream(t, nc), reg, receiver.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	mux := http.NewServeMux()
	healthHandlers(mux, func() error { return receiverReady(nc, r) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	readyz := func() (int, string) {
		resp, err := http.Get(srv.URL + "/readyz")
		require.NoError(t, err)
		defer resp.Body.Close()
		var body struct{ Reason string }
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		return resp.StatusCode, body.Reason
	}

	code, reason := readyz()
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, "registering the jobs and starting their consumers", reason)

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	require.Eventually(t, func() bool { code, _ := readyz(); return code == http.StatusOK }, 20*time.Second, 5*time.Millisecond)

	nc.Close()
	code, reason = readyz()
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, reason, "not connected to NATS")
	resp, err := http.Get(srv.URL + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	cancel()
	<-done // with or without an error: its connection is closed
}

// The consumer lag is the server's: 3 messages, 1 of them delivered and
// not acknowledged. A consumer whose info cannot be read is left out of the
// scrape, which still serves everything else, and counts as a gathering
// error.
func TestMetricsServeTheRestWhenAConsumerIsMissing(t *testing.T) {
	t.Parallel()
	s := jstest.StartProvisioned(t)
	cons, err := s.JS.CreateOrUpdateConsumer(t.Context(), jhjs.StreamJobs, jetstream.ConsumerConfig{
		Durable: "receiver-present", FilterSubject: "jobs.present", AckPolicy: jetstream.AckExplicitPolicy})
	require.NoError(t, err)
	for range 3 {
		_, err := s.JS.Publish(t.Context(), "jobs.present", []byte("{}"))
		require.NoError(t, err)
	}
	batch, err := cons.Fetch(1) // delivered, not acknowledged
	require.NoError(t, err)
	for range batch.Messages() {
	}
	require.NoError(t, batch.Error())
	reg := newRegistry(s.JS, receiverConsumers([]string{"present", "missing"}))
	srv := httptest.NewServer(metricsHandler(reg, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(srv.Close)

	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), `jobhooks_consumer_pending_messages{consumer="receiver-present",stream="JOBS"} 2`)
	assert.Contains(t, string(body), `jobhooks_consumer_ack_pending_messages{consumer="receiver-present",stream="JOBS"} 1`)
	assert.NotContains(t, string(body), `receiver-missing`)
	assert.Contains(t, string(body), "jobhooks_build_info{")

	resp, err = http.Get(srv.URL)
	require.NoError(t, err)
	body, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Contains(t, string(body), `promhttp_metric_handler_errors_total{cause="gathering"} 1`, "the first scrape's failure")
}

// TestASlowConsumerInfoLeavesTheOthersTheirTime: the lag of the consumers
// before and after one whose info never comes is still collected; only the
// slow one is left out. The JetStream API is reached through a relay on
// the real server that forwards every request but the slow consumer's.
func TestASlowConsumerInfoLeavesTheOthersTheirTime(t *testing.T) {
	t.Parallel()
	s := jstest.StartProvisioned(t)
	for _, job := range []string{"first", "slow", "last"} {
		_, err := s.JS.CreateOrUpdateConsumer(t.Context(), jhjs.StreamJobs, jetstream.ConsumerConfig{
			Durable: jhjs.ReceiverConsumer(job), FilterSubject: "jobs." + job, AckPolicy: jetstream.AckExplicitPolicy})
		require.NoError(t, err)
	}
	const relay = "relay.API."
	sub, err := s.Conn.Subscribe(relay+">", func(m *nats.Msg) {
		subject := "$JS.API." + strings.TrimPrefix(m.Subject, relay)
		if strings.HasSuffix(subject, "."+jhjs.ReceiverConsumer("slow")) {
			return // never answered
		}
		resp, err := s.Conn.Request(subject, m.Data, 5*time.Second)
		if err == nil {
			_ = m.Respond(resp.Data)
		}
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	js, err := jetstream.NewWithAPIPrefix(s.Conn, strings.TrimSuffix(relay, "."))
	require.NoError(t, err)

	lag := &consumerLag{js: js, consumers: receiverConsumers([]string{"first", "slow", "last"}), timeout: 500 * time.Millisecond}
	ch := make(chan prometheus.Metric)
	go func() { lag.Collect(ch); close(ch) }()
	got := map[string]bool{}
	invalid := 0
	for m := range ch {
		var pb dto.Metric
		if m.Write(&pb) != nil {
			invalid++
			continue
		}
		for _, l := range pb.GetLabel() {
			if l.GetName() == "consumer" {
				got[l.GetValue()] = true
			}
		}
	}
	assert.Equal(t, map[string]bool{"receiver-first": true, "receiver-last": true}, got)
	assert.Equal(t, 1, invalid, "the slow consumer is reported as a collection error")
}
