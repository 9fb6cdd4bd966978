package cli_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/internal/cli"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
)

// `receiver --jobs webhook` runs the webhook job alone, and its delivery
// history is what `receiver results get` shows.
func TestReceiverRunsTheWebhookJob(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if hits.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)

	s := jstest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- cli.Receiver(ctx, []string{"--nats-url", s.URL, "--jobs", "webhook", "--enable", "--backoff", "10ms"},
			&jstest.LogBuffer{}, &jstest.LogBuffer{})
	}()
	t.Cleanup(func() {
		cancel()
		assert.Equal(t, cli.ExitOK, <-done)
	})
	require.Eventually(t, func() bool {
		out, _, code := receiverCLI(t, s, "jobs", "list")
		return code == cli.ExitOK && strings.Contains(out, "webhook") && !strings.Contains(out, "serial-validator")
	}, waitFor, 10*time.Millisecond)

	hook, err := json.Marshal(map[string]any{"name": "h", "content_types": []string{"dcim.device"}, "job": "webhook",
		"enabled": true, "events": []string{"create"}, "params": map[string]any{"url": srv.URL + "/hook", "secret": "s3cret"}})
	require.NoError(t, err)
	_, err = s.KV(t, jhjs.BucketJobHooks).Put(t.Context(), "h", hook)
	require.NoError(t, err)
	publishJob(t, s, "jobs.webhook", "h", "webhook", "c-1")
	waitStatus(t, s, "h.c-1", "completed")

	out, _, code := receiverCLI(t, s, "results", "get", "h.c-1", "--json")
	require.Equal(t, cli.ExitOK, code)
	assert.Contains(t, out, `"status_code": 503`)
	assert.Contains(t, out, `"status_code": 204`)
	assert.NotContains(t, out, "s3cret")
	assert.Equal(t, int32(2), hits.Load())
}
