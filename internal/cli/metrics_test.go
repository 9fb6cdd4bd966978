package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/internal/cli"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
)

// scrape fetches base/metrics over HTTP and parses it.
func scrape(t *testing.T, base string) (map[string]*dto.MetricFamily, []byte) {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(body))
	require.NoError(t, err)
	return families, body
}

// sample is the value of the series of family name with labels (a
// counter's or gauge's value, a histogram's count); ok is false when there
// is no such series.
func sample(families map[string]*dto.MetricFamily, name string, labels ...string) (v float64, ok bool) {
	f := families[name]
	if f == nil {
		return 0, false
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
next:
	for _, m := range f.GetMetric() {
		for k, v := range want {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// startCommand runs a command with --http on a free loopback port until the
// test ends and returns its base URL and its log.
func startCommand(t *testing.T, run func(ctx context.Context, stderr io.Writer) int) (string, *jstest.LogBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := &jstest.LogBuffer{}
	code := make(chan int, 1)
	go func() { code <- run(ctx, log) }()
	t.Cleanup(func() {
		cancel()
		assert.Equal(t, cli.ExitOK, <-code, "log:\n%s", log.String())
	})
	var base string
	require.Eventually(t, func() bool {
		if m := listeningAddr.FindStringSubmatch(log.String()); m != nil {
			base = "http://" + m[1]
		}
		return base != ""
	}, waitFor, 5*time.Millisecond, "log:\n%s", log.String())
	return base, log
}

func publishChange(t *testing.T, s *jstest.Server, ch *events.Change, opts events.EventOptions) {
	t.Helper()
	opts.Source = "test"
	msg, err := events.NewMsg(ch, opts)
	require.NoError(t, err)
	_, err = s.JS.PublishMsg(t.Context(), msg)
	require.NoError(t, err)
}

// A router and a receiver, each with --http, route and run changes of every
// kind; their /metrics say exactly what happened, with bounded labels, and
// their log lines say which change, hook and job they are about.
func TestRouterAndReceiverMetrics(t *testing.T) {
	t.Parallel()
	webhookSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusServiceUnavailable) // always: retried, then dead-lettered
	}))
	t.Cleanup(webhookSrv.Close)
	s := jstest.Start(t)

	recvBase, recvLog := startCommand(t, func(ctx context.Context, stderr io.Writer) int {
		return cli.Receiver(ctx, []string{"--nats-url", s.URL, "--http", "127.0.0.1:0", "--jobs", "log,webhook", "--enable",
			"--max-deliver", "2", "--backoff", "10ms"}, io.Discard, stderr)
	})
	routerBase, routerLog := startCommand(t, func(ctx context.Context, stderr io.Writer) int {
		return cli.Router(ctx, []string{"--nats-url", s.URL, "--http", "127.0.0.1:0"}, strings.NewReader(""), io.Discard, stderr)
	})
	for _, base := range []string{recvBase, routerBase} {
		require.Eventually(t, func() bool { code, _ := get(t, base+"/readyz"); return code == http.StatusOK }, waitFor, 10*time.Millisecond)
		code, _ := get(t, base+"/healthz")
		assert.Equal(t, http.StatusOK, code)
	}

	hooks := s.KV(t, jhjs.BucketJobHooks)
	for name, hook := range map[string]map[string]any{
		"h-log":  {"content_types": []string{"dcim.device"}, "job": "log", "events": []string{"create"}},
		"h-hook": {"content_types": []string{"dcim.device"}, "job": "webhook", "events": []string{"create"}, "params": map[string]any{"url": webhookSrv.URL}},
		// serial-validator is not run by this receiver: not registered.
		"h-off": {"content_types": []string{"dcim.rack"}, "job": "serial-validator", "events": []string{"update"}},
	} {
		hook["name"], hook["enabled"] = name, true
		b, err := json.Marshal(hook)
		require.NoError(t, err)
		_, err = hooks.Put(t.Context(), name, b)
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		m, _ := scrape(t, routerBase)
		h, _ := sample(m, "jobhooks_router_hooks")
		j, _ := sample(m, "jobhooks_router_jobs_enabled")
		return h == 3 && j == 2
	}, waitFor, 10*time.Millisecond, "the router loads 3 hooks and sees the 2 jobs enabled")

	device := &events.Change{Action: events.ActionCreate, ContentType: "dcim.device", ObjectID: "1", PostChange: map[string]any{"name": "edge-01"}}
	publishChange(t, s, device, events.EventOptions{ID: "c-routed"})
	publishChange(t, s, device, events.EventOptions{ID: "c-loop", HookOrigin: "log"})
	publishChange(t, s, &events.Change{Action: events.ActionCreate, ContentType: "dcim.site", ObjectID: "2", PostChange: map[string]any{}},
		events.EventOptions{ID: "c-nohook"})
	publishChange(t, s, &events.Change{Action: events.ActionUpdate, ContentType: "dcim.rack", ObjectID: "3", PostChange: map[string]any{"name": "R1"}},
		events.EventOptions{ID: "c-notenabled"})
	_, err := s.JS.PublishMsg(t.Context(), &nats.Msg{Subject: "changes.dcim.device.create", Header: nats.Header{"ce-id": {"c-invalid"}}, Data: []byte("not a change")})
	require.NoError(t, err)

	// Wait for the outcome, then check every value.
	require.Eventually(t, func() bool {
		r, _ := scrape(t, routerBase)
		c, _ := scrape(t, recvBase)
		routed, _ := sample(r, "jobhooks_router_changes_routed_total")
		dead, _ := sample(r, "jobhooks_router_changes_dead_lettered_total", "reason", "invalid")
		logged, _ := sample(c, "jobhooks_receiver_jobs_total", "job", "log", "status", "completed")
		failed, _ := sample(c, "jobhooks_receiver_jobs_total", "job", "webhook", "status", "failed")
		return routed == 1 && dead == 1 && logged == 1 && failed == 1
	}, waitFor, 20*time.Millisecond)

	// The consumers' lag, read from the server, drains to 0 once the server
	// has processed the last acknowledgements.
	for _, tc := range []struct {
		base, consumer, stream string
	}{{routerBase, "router", "CHANGES"}, {recvBase, "receiver-log", "JOBS"}, {recvBase, "receiver-webhook", "JOBS"}} {
		require.Eventually(t, func() bool {
			m, _ := scrape(t, tc.base)
			pending, ok1 := sample(m, "jobhooks_consumer_pending_messages", "stream", tc.stream, "consumer", tc.consumer)
			acks, ok2 := sample(m, "jobhooks_consumer_ack_pending_messages", "stream", tc.stream, "consumer", tc.consumer)
			return ok1 && ok2 && pending == 0 && acks == 0
		}, waitFor, 10*time.Millisecond, "lag of %s", tc.consumer)
	}

	r, body := scrape(t, routerBase)
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"jobhooks_router_changes_routed_total", nil, 1},
		{"jobhooks_router_changes_skipped_total", []string{"reason", "loop"}, 1},
		{"jobhooks_router_changes_skipped_total", []string{"reason", "no_hook"}, 1},
		{"jobhooks_router_changes_skipped_total", []string{"reason", "job_not_enabled"}, 1},
		{"jobhooks_router_changes_dead_lettered_total", []string{"reason", "invalid"}, 1},
		{"jobhooks_router_changes_dead_lettered_total", []string{"reason", "unroutable"}, 0},
		{"jobhooks_router_changes_dead_lettered_total", []string{"reason", "refused"}, 0},
		{"jobhooks_router_changes_dead_lettered_total", []string{"reason", "not_stored"}, 0},
		{"jobhooks_router_job_messages_published_total", []string{"job", "log"}, 1},
		{"jobhooks_router_job_messages_published_total", []string{"job", "webhook"}, 1},
		{"jobhooks_router_routing_latency_seconds", nil, 1}, // its count
		{"jobhooks_router_hooks", nil, 3},
		{"jobhooks_router_jobs", nil, 2},
		{"jobhooks_router_jobs_enabled", nil, 2},
		{"jobhooks_build_info", []string{"goversion", runtime.Version()}, 1},
	} {
		got, ok := sample(r, tc.name, tc.labels...)
		if assert.True(t, ok, "router: no %s%v", tc.name, tc.labels) {
			assert.Equal(t, tc.want, got, "router: %s%v", tc.name, tc.labels)
		}
	}
	assert.Len(t, r["jobhooks_router_job_messages_published_total"].GetMetric(), 2, "one series per job")
	for _, family := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		assert.Contains(t, r, family)
	}
	lint(t, body)

	c, body := scrape(t, recvBase)
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"jobhooks_receiver_jobs_total", []string{"job", "log", "status", "completed"}, 1},
		{"jobhooks_receiver_jobs_total", []string{"job", "webhook", "status", "failed"}, 1},
		{"jobhooks_receiver_jobs_total", []string{"job", "webhook", "status", "completed"}, 0},
		{"jobhooks_receiver_attempts_total", []string{"job", "log", "status", "completed"}, 1},
		{"jobhooks_receiver_attempts_total", []string{"job", "webhook", "status", "retrying"}, 1},
		{"jobhooks_receiver_attempts_total", []string{"job", "webhook", "status", "failed"}, 1},
		{"jobhooks_receiver_dead_letters_total", []string{"job", "webhook"}, 1},
		{"jobhooks_receiver_dead_letters_total", []string{"job", "log"}, 0},
		{"jobhooks_receiver_job_duration_seconds", []string{"job", "log"}, 1},
		{"jobhooks_receiver_job_duration_seconds", []string{"job", "webhook"}, 2},
		{"jobhooks_build_info", []string{"goversion", runtime.Version()}, 1},
	} {
		got, ok := sample(c, tc.name, tc.labels...)
		if assert.True(t, ok, "receiver: no %s%v", tc.name, tc.labels) {
			assert.Equal(t, tc.want, got, "receiver: %s%v", tc.name, tc.labels)
		}
	}
	assert.Contains(t, c, "go_goroutines")
	lint(t, body)

	t.Run("log lines carry the change", func(t *testing.T) {
		for _, tc := range []struct {
			log   *jstest.LogBuffer
			msg   string
			attrs []string
		}{
			{routerLog, `msg="hook skipped: its job is not registered`,
				[]string{"change_id=c-notenabled", "subject=changes.dcim.rack.update", "hook=h-off", "job=serial-validator"}},
			{routerLog, `msg="change dead-lettered"`,
				[]string{"change_id=c-invalid", "subject=changes.dcim.device.create"}},
			{recvLog, `msg="job attempt failed; will retry"`,
				[]string{"job=webhook", "change_id=c-routed", "subject=changes.dcim.device.create", "hook=h-hook", "attempt=1"}},
			{recvLog, `msg="job failed"`,
				[]string{"job=webhook", "change_id=c-routed", "subject=changes.dcim.device.create", "hook=h-hook", "attempt=2"}},
		} {
			line := logLine(tc.log.String(), tc.msg)
			if assert.NotEmpty(t, line, "no line %s in:\n%s", tc.msg, tc.log.String()) {
				for _, a := range tc.attrs {
					assert.Contains(t, line, " "+a+" ", "line: %s", line)
				}
			}
		}
	})
}

// logLine is the first line of log holding msg, with a space at its end so
// that every attribute is followed by one.
func logLine(log, msg string) string {
	for line := range strings.SplitSeq(log, "\n") {
		if strings.Contains(line, msg) {
			return line + " "
		}
	}
	return ""
}

// lint checks the exposition against Prometheus' naming conventions.
func lint(t *testing.T, body []byte) {
	t.Helper()
	problems, err := promlint.New(bytes.NewReader(body)).Lint()
	require.NoError(t, err)
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "jobhooks_") {
			t.Errorf("metric %s: %s", p.Metric, p.Text)
		}
	}
}
