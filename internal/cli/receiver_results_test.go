package cli_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/internal/cli"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
	"github.com/jobhooks/jobhooks/receiver"
)

// `receiver results list` says why a run failed: the error of its last
// attempt (here a webhook refused for good), or the failure a job logged
// (a job that calls Failure returns no error).
func TestReceiverResultsListShowsWhyARunFailed(t *testing.T) {
	t.Parallel()
	hooked := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		http.Error(w, "no such endpoint", http.StatusBadRequest)
	}))
	t.Cleanup(hooked.Close)
	s := jstest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- cli.Receiver(ctx, []string{"--nats-url", s.URL, "--jobs", "webhook", "--enable"}, &jstest.LogBuffer{}, &jstest.LogBuffer{})
	}()
	t.Cleanup(func() {
		cancel()
		assert.Equal(t, cli.ExitOK, <-done)
	})
	require.Eventually(t, func() bool {
		out, _, code := receiverCLI(t, s, "jobs", "list")
		return code == cli.ExitOK && strings.Contains(out, "webhook")
	}, waitFor, 10*time.Millisecond)
	hook, err := json.Marshal(map[string]any{"name": "h", "content_types": []string{"dcim.device"}, "job": "webhook",
		"enabled": true, "events": []string{"create"}, "params": map[string]any{"url": hooked.URL + "/hook"}})
	require.NoError(t, err)
	_, err = s.KV(t, jhjs.BucketJobHooks).Put(t.Context(), "h", hook)
	require.NoError(t, err)
	publishJob(t, s, "jobs.webhook", "h", "webhook", "c-1")
	waitStatus(t, s, "h.c-1", "failed")

	// A result as a job that logged a failure leaves it: failed, no error.
	now := time.Now().UTC()
	logged := receiver.Result{Hook: "audit", Job: "custom", ChangeID: "c-2", Source: "test", Status: receiver.StatusFailed, Attempts: 1,
		Created: now, Started: now, Completed: &now, Logs: []receiver.LogEntry{
			{Time: now, Level: receiver.LevelInfo, Message: "Running job custom (attempt 1 of 5)"},
			{Time: now, Level: receiver.LevelFailure, Message: "serial A1 is not in the CMDB"},
			{Time: now, Level: receiver.LevelInfo, Message: "Job failed: it logged a failure; not retried"},
		}}
	value, err := json.Marshal(logged)
	require.NoError(t, err)
	_, err = s.KV(t, jhjs.BucketJobResults).Put(t.Context(), logged.Key(), value)
	require.NoError(t, err)

	out, errOut, code := receiverCLI(t, s, "results", "list", "--status", "failed")
	require.Equal(t, cli.ExitOK, code, errOut)
	assert.Regexp(t, `(?m)^h\.c-1_\S+\s+failed\s+1\s+webhook\s+\S+ \S+\s+permanent failure: POST http://\S+/hook: HTTP 400`, out, "the webhook's error")
	assert.Regexp(t, `(?m)^audit\.c-2_\S+\s+failed\s+1\s+custom\s+\S+ \S+\s+serial A1 is not in the CMDB$`, out, "the logged failure")

	out, errOut, code = receiverCLI(t, s, "results", "get", logged.Key())
	require.Equal(t, cli.ExitOK, code, errOut)
	assert.Regexp(t, `(?m)^error:\s+serial A1 is not in the CMDB$`, out)
}
