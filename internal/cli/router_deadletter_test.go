package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/internal/cli"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
)

// startRouter runs the router command against s until the test ends.
func startRouter(t *testing.T, s *jstest.Server) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := &jstest.LogBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- cli.Router(ctx, []string{"--nats-url", s.URL}, strings.NewReader(""), &jstest.LogBuffer{}, log)
	}()
	t.Cleanup(func() {
		cancel()
		assert.Equal(t, cli.ExitOK, <-done, "router exits 0 when its context ends")
	})
	require.Eventually(t, func() bool { return strings.Contains(log.String(), "router ready") }, waitFor, 5*time.Millisecond, "router log:\n%s", log.String())
}

// routerCLI runs `router ARGS --nats-url URL` and returns its output and
// exit code.
func routerCLI(t *testing.T, s *jstest.Server, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = cli.Router(t.Context(), append(args, "--nats-url", s.URL), strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), code
}

// The router dead-letters two invalid changes; `router deadletter list`
// shows them (and not a job's dead letter), `get` shows one whole, secrets
// left out.
func TestRouterDeadLetterCommands(t *testing.T) {
	t.Parallel()
	s := jstest.Start(t)
	startRouter(t, s)
	publishJob(t, s, "deadletter.jobs.log", "audit", "log", "c-9") // a job's dead letter: not a change's
	_, err := s.JS.PublishMsg(t.Context(), &nats.Msg{Subject: "changes.dcim.device.update", Data: []byte("not json"),
		Header: nats.Header{"Authorization": {"Bearer tok-123"}, "X-Hook-Signature": {"abc123sig"}, "X-Trace": {"t-1"}}})
	require.NoError(t, err)
	_, err = s.JS.PublishMsg(t.Context(), &nats.Msg{Subject: "changes.dcim.interface.create", Data: []byte(`{"model":"interface"}`)})
	require.NoError(t, err)

	var out string
	require.Eventually(t, func() bool {
		out, _, _ = routerCLI(t, s, "deadletter", "list")
		return strings.Count(out, "\n") == 3
	}, waitFor, 10*time.Millisecond)
	assert.Regexp(t, `(?m)^SEQ\s+TIME\s+SUBJECT\s+CHANGE\s+REASON$`, out)
	first := regexp.MustCompile(`(?m)^(\d+)\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+changes\.dcim\.device\.update\s+-\s+(\S.*)$`).FindStringSubmatch(out)
	require.NotNil(t, first, out)
	assert.Regexp(t, `(?m)^\d+\s+\S+ \S+\s+changes\.dcim\.interface\.create\s+-\s+\S`, out)
	assert.NotContains(t, out, "deadletter.jobs", "job dead letters are the receiver's")
	seq, reason := first[1], first[2]

	out, errOut, code := routerCLI(t, s, "deadletter", "get", seq)
	require.Equal(t, cli.ExitOK, code, errOut)
	for _, want := range []string{`(?m)^sequence:\s+` + seq + `$`, `(?m)^reason:\s+` + regexp.QuoteMeta(reason), `(?m)^subject:\s+changes\.dcim\.device\.update$`,
		`(?m)^change sequence:\s+1 \(in CHANGES\)$`, `(?m)^Authorization\s+\*\*\*$`, `(?m)^X-Hook-Signature\s+\*\*\*$`, `(?m)^X-Trace\s+t-1$`,
		`(?m)^Jobhooks-Error\s+`, `(?m)^change:\nnot json\n$`} {
		assert.Regexp(t, want, out)
	}
	assert.NotContains(t, out, "tok-123")
	assert.NotContains(t, out, "abc123sig")

	out, errOut, code = routerCLI(t, s, "deadletter", "list", "--json")
	require.Equal(t, cli.ExitOK, code, errOut)
	type deadLetter struct {
		Sequence       uint64
		Reason         string
		Subject        string
		ChangeSequence uint64 `json:"change_sequence"`
		Headers        map[string][]string
		Data           json.RawMessage
	}
	var dls []deadLetter
	require.NoError(t, json.Unmarshal([]byte(out), &dls))
	require.Len(t, dls, 2)
	assert.Equal(t, "changes.dcim.interface.create", dls[1].Subject)
	assert.JSONEq(t, `{"model":"interface"}`, string(dls[1].Data), "a JSON body is shown as JSON")
	assert.NotEmpty(t, dls[1].Reason)

	out, errOut, code = routerCLI(t, s, "deadletter", "get", seq, "--json")
	require.Equal(t, cli.ExitOK, code, errOut)
	var dl deadLetter
	require.NoError(t, json.Unmarshal([]byte(out), &dl))
	assert.Equal(t, reason, dl.Reason)
	assert.Equal(t, "changes.dcim.device.update", dl.Subject)
	assert.Equal(t, uint64(1), dl.ChangeSequence)
	assert.Equal(t, []string{"***"}, dl.Headers["Authorization"])
	assert.Equal(t, []string{"t-1"}, dl.Headers["X-Trace"])
	assert.JSONEq(t, `"not json"`, string(dl.Data), "a body that is not JSON is shown as a string")
	assert.NotContains(t, out, "tok-123")

	out, _, code = routerCLI(t, s, "deadletter", "get", strconv.FormatUint(dls[1].Sequence, 10))
	require.Equal(t, cli.ExitOK, code)
	assert.Contains(t, out, "change:\n{\n  \"model\": \"interface\"\n}\n", "a JSON body is indented")

	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"deadletter", "get", "1"}, cli.ExitNotFound, "dead-lettered change not found: sequence 1"}, // the job's
		{[]string{"deadletter", "get", "999"}, cli.ExitNotFound, "dead-lettered change not found: sequence 999"},
		{[]string{"deadletter", "get", "0"}, cli.ExitUsage, `invalid sequence "0"`},
	} {
		_, stderr, code := routerCLI(t, s, tc.args...)
		assert.Equal(t, tc.code, code, tc.args)
		assert.Contains(t, stderr, tc.stderr, tc.args)
	}
}

// Without a DEADLETTER stream there is nothing to list, and nothing to get.
func TestRouterDeadLetterWithoutStream(t *testing.T) {
	t.Parallel()
	s := jstest.Start(t)
	out, errOut, code := routerCLI(t, s, "deadletter", "list", "--json")
	require.Equal(t, cli.ExitOK, code, errOut)
	assert.Equal(t, "[]\n", out)
	_, errOut, code = routerCLI(t, s, "deadletter", "get", "1")
	assert.Equal(t, cli.ExitNotFound, code)
	assert.Contains(t, errOut, "no DEADLETTER stream")
}
