package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/internal/cli"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
	"github.com/jobhooks/jobhooks/receiver"
)

const waitFor = 20 * time.Second

// receiverCLI runs the receiver command against s and returns its output
// and exit code.
func receiverCLI(t *testing.T, s *jstest.Server, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb jstest.LogBuffer
	code = cli.Receiver(t.Context(), append(args, "--nats-url", s.URL), &out, &errb)
	return out.String(), errb.String(), code
}

// startReceiver runs `receiver` (the built-in jobs) until the test ends.
func startReceiver(t *testing.T, s *jstest.Server, args ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- cli.Receiver(ctx, append([]string{"--nats-url", s.URL}, args...), &jstest.LogBuffer{}, &jstest.LogBuffer{})
	}()
	t.Cleanup(func() {
		cancel()
		assert.Equal(t, cli.ExitOK, <-done, "receiver exits 0 when its context ends")
	})
	// Ready once both built-in jobs are registered.
	require.Eventually(t, func() bool {
		out, _, code := receiverCLI(t, s, "jobs", "list")
		return code == cli.ExitOK && strings.Contains(out, "log") && strings.Contains(out, "serial-validator")
	}, waitFor, 10*time.Millisecond)
}

func publishJob(t *testing.T, s *jstest.Server, subject, hook, job, id string) {
	t.Helper()
	publishJobFrom(t, s, subject, hook, job, "test", id)
}

func publishJobFrom(t *testing.T, s *jstest.Server, subject, hook, job, source, id string) {
	t.Helper()
	ch := &events.Change{Action: events.ActionCreate, ContentType: "dcim.device", ObjectID: "1", ObjectRepr: "edge-01",
		PostChange: map[string]any{"name": "edge-01"}}
	ev, err := events.NewEvent(ch, events.EventOptions{ID: id, Source: source})
	require.NoError(t, err)
	msg, err := events.NewJobMsg(&events.ChangeEvent{Event: *ev, Change: *ch}, hook, job, nil)
	require.NoError(t, err)
	msg.Subject = subject
	if strings.HasPrefix(subject, "deadletter.") {
		msg.Header.Set(events.HeaderError, "boom")
		msg.Header.Set(events.HeaderAttempts, "5")
	}
	_, err = s.JS.PublishMsg(t.Context(), msg)
	require.NoError(t, err)
}

func waitStatus(t *testing.T, s *jstest.Server, key, status string) {
	t.Helper()
	require.Eventually(t, func() bool {
		out, _, code := receiverCLI(t, s, "results", "get", key, "--json")
		var r struct{ Status string }
		return code == cli.ExitOK && json.Unmarshal([]byte(out), &r) == nil && r.Status == status
	}, waitFor, 10*time.Millisecond)
}

func TestReceiverJobsCommands(t *testing.T) {
	t.Parallel()
	s := jstest.Start(t)
	startReceiver(t, s, "--backoff", "10ms")

	out, _, code := receiverCLI(t, s, "jobs", "list")
	require.Equal(t, cli.ExitOK, code)
	assert.Regexp(t, `(?m)^NAME\s+ENABLED\s+REGISTERED\s+DESCRIPTION$`, out)
	assert.Regexp(t, `(?m)^log\s+false\s+`, out, "new jobs start disabled")
	assert.Regexp(t, `(?m)^serial-validator\s+false\s+`, out)

	out, _, code = receiverCLI(t, s, "jobs", "enable", "log")
	assert.Equal(t, cli.ExitOK, code)
	assert.Equal(t, "job log enabled\n", out)
	out, _, code = receiverCLI(t, s, "jobs", "enable", "log")
	assert.Equal(t, cli.ExitOK, code)
	assert.Equal(t, "job log is already enabled\n", out)

	out, _, code = receiverCLI(t, s, "jobs", "list", "--json")
	require.Equal(t, cli.ExitOK, code)
	var jobs []struct {
		Name    string `json:"name"`
		Enabled bool   `json:"enabled"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &jobs))
	assert.Equal(t, []struct {
		Name    string `json:"name"`
		Enabled bool   `json:"enabled"`
	}{{"log", true}, {"serial-validator", false}, {"webhook", false}}, jobs)

	// The enabled job runs.
	publishJob(t, s, "jobs.log", "h", "log", "c-1")
	waitStatus(t, s, "h.c-1", "completed")
	out, _, code = receiverCLI(t, s, "jobs", "disable", "--json", "log")
	assert.Equal(t, cli.ExitOK, code)
	assert.Contains(t, out, `"enabled": false`)

	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"jobs", "enable", "nope"}, cli.ExitNotFound, `job "nope" is not registered`},
		{[]string{"jobs", "disable", "Bad.Name"}, cli.ExitInvalid, "invalid job name"},
		{[]string{"jobs", "enable"}, cli.ExitUsage, "want 1 argument(s) (a job name), got 0"},
		{[]string{"jobs", "frob"}, cli.ExitUsage, `unknown command "frob" for "receiver jobs"`},
		{[]string{"jobs"}, cli.ExitUsage, "missing command: want one of disable, enable, list"},
		{[]string{"jobs", "list", "--bogus"}, cli.ExitUsage, "unknown flag: --bogus"},
		{[]string{"frob"}, cli.ExitUsage, `unknown command "frob" for "receiver"`},
		{[]string{"--results", "some"}, cli.ExitUsage, `--results "some": want all or failures`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, stderr, code := receiverCLI(t, s, tc.args...)
			assert.Equal(t, tc.code, code)
			assert.Contains(t, stderr, tc.stderr)
		})
	}
}

func TestReceiverResultsCommands(t *testing.T) {
	t.Parallel()
	s := jstest.Start(t)
	startReceiver(t, s, "--enable")
	publishJob(t, s, "jobs.log", "audit", "log", "c-1")
	publishJob(t, s, "jobs.log", "other", "log", "c-2")
	waitStatus(t, s, "audit.c-1", "completed")
	waitStatus(t, s, "other.c-2", "completed")

	out, _, code := receiverCLI(t, s, "results", "list")
	require.Equal(t, cli.ExitOK, code)
	assert.Regexp(t, `(?m)^KEY\s+STATUS\s+ATTEMPTS\s+JOB\s+CREATED\s+ERROR$`, out)
	assert.Regexp(t, `(?m)^audit\.c-1_[0-9a-f]{16}\s+completed\s+1\s+log\s+`, out, "the key is <hook>.<change key>")
	assert.Regexp(t, `(?m)^other\.c-2_[0-9a-f]{16}\s+completed\s+1\s+log\s+`, out)

	out, _, code = receiverCLI(t, s, "results", "list", "--hook", "audit", "--json")
	require.Equal(t, cli.ExitOK, code)
	var results []struct {
		Hook, ChangeID, Status string
		Logs                   []any
	}
	require.NoError(t, json.Unmarshal([]byte(out), &results))
	require.Len(t, results, 1)
	assert.Equal(t, "audit", results[0].Hook)
	assert.NotEmpty(t, results[0].Logs)

	out, _, code = receiverCLI(t, s, "results", "list", "--status", "failed")
	assert.Equal(t, cli.ExitOK, code)
	assert.Equal(t, 1, strings.Count(out, "\n"), "headers only")

	out, _, code = receiverCLI(t, s, "results", "get", "audit.c-1")
	require.Equal(t, cli.ExitOK, code)
	for _, want := range []string{`(?m)^status:\s+completed$`, `(?m)^change id:\s+c-1$`, `(?m)^attempts:\s+1$`,
		`(?m)^error:\s+-$`, `info\s+dcim.device 1 \(edge-01\)\s+create dcim.device edge-01 \(id 1\) by unknown user`,
		`success\s+-\s+Job completed`} {
		assert.Regexp(t, regexp.MustCompile(want), out)
	}

	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"results", "get", "audit.nope"}, cli.ExitNotFound},
		{[]string{"results", "get", "bad key"}, cli.ExitNotFound},
		{[]string{"results", "get"}, cli.ExitUsage},
		{[]string{"results", "list", "--status", "odd"}, cli.ExitUsage},
		{[]string{"results", "list", "--hook", "a.b"}, cli.ExitInvalid},
	} {
		_, _, code := receiverCLI(t, s, tc.args...)
		assert.Equal(t, tc.code, code, tc.args)
	}
}

func TestReceiverDeadLetterCommands(t *testing.T) {
	t.Parallel()
	s := jstest.Start(t)
	startReceiver(t, s, "--enable")

	// An invalid job message is dead-lettered by the receiver; a valid one
	// is planted as if it had failed five times.
	_, err := s.JS.PublishMsg(t.Context(), &nats.Msg{Subject: "jobs.log", Data: []byte("junk")})
	require.NoError(t, err)
	publishJob(t, s, "deadletter.jobs.log", "audit", "log", "c-9")
	var out string
	require.Eventually(t, func() bool {
		out, _, _ = receiverCLI(t, s, "deadletter", "list")
		return strings.Count(out, "\n") == 3
	}, waitFor, 10*time.Millisecond)
	assert.Regexp(t, `(?m)^SEQ\s+JOB\s+HOOK\s+CHANGE\s+ATTEMPTS\s+TIME\s+ERROR$`, out)
	assert.Regexp(t, `(?m)^\d+\s+log\s+-\s+-\s+1\s+.*invalid job message`, out)
	m := regexp.MustCompile(`(?m)^(\d+)\s+log\s+audit\s+c-9\s+5\s+.*boom$`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	seq := m[1]

	out, _, code := receiverCLI(t, s, "deadletter", "list", "--json", "--job", "log")
	require.Equal(t, cli.ExitOK, code)
	var dls []struct {
		Sequence uint64
		Error    string
		Headers  map[string][]string
		Data     json.RawMessage
	}
	require.NoError(t, json.Unmarshal([]byte(out), &dls))
	require.Len(t, dls, 2)
	for _, d := range dls {
		if d.Error == "boom" {
			assert.Equal(t, []string{"c-9"}, d.Headers["ce-id"])
			continue
		}
		assert.Contains(t, d.Error, "invalid job message")
		assert.JSONEq(t, `"junk"`, string(d.Data), "a body that is not JSON is shown as a string")
	}

	out, _, code = receiverCLI(t, s, "deadletter", "replay", seq)
	require.Equal(t, cli.ExitOK, code)
	assert.Equal(t, fmt.Sprintf("replayed dead letter %s (job log, hook audit, change c-9) to jobs.log as sequence 2\n", seq), out)
	waitStatus(t, s, "audit.c-9", "completed")

	_, stderr, code := receiverCLI(t, s, "deadletter", "replay", seq)
	assert.Equal(t, cli.ExitNotFound, code, "replayed dead letters leave the list")
	assert.Contains(t, stderr, "dead letter not found")

	// --all replays the rest (the junk, which is dead-lettered again).
	out, _, code = receiverCLI(t, s, "deadletter", "replay", "--all", "--job", "log", "--json")
	require.Equal(t, cli.ExitOK, code)
	var reps []struct{ Job, Subject string }
	require.NoError(t, json.Unmarshal([]byte(out), &reps))
	assert.Equal(t, []struct{ Job, Subject string }{{"log", "jobs.log"}}, reps)
	out, _, code = receiverCLI(t, s, "deadletter", "replay", "--all", "--job", "other")
	assert.Equal(t, cli.ExitOK, code)
	assert.Equal(t, "no dead letters to replay\n", out)

	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"deadletter", "replay", "999"}, cli.ExitNotFound},
		{[]string{"deadletter", "replay", "abc"}, cli.ExitUsage},
		{[]string{"deadletter", "replay"}, cli.ExitUsage},
		{[]string{"deadletter", "replay", "1", "--all"}, cli.ExitUsage},
		{[]string{"deadletter", "replay", "1", "--job", "log"}, cli.ExitUsage},
		{[]string{"deadletter", "list", "--job", "Bad"}, cli.ExitInvalid},
	} {
		_, _, code := receiverCLI(t, s, tc.args...)
		assert.Equal(t, tc.code, code, tc.args)
	}
}

func TestReceiverRunFlags(t *testing.T) {
	t.Parallel()
	s := jstest.StartProvisioned(t)
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"--jobs", "nope"}, cli.ExitUsage, `job not in the registry: "nope"`},
		{[]string{"--concurrency", "-1"}, cli.ExitUsage, "concurrency must be at least 1"},
		{[]string{"--concurrency", "8", "--prefetch", "2"}, cli.ExitUsage, "prefetch must be at least the concurrency (8), got 2"},
		{[]string{"--max-deliver", "2", "--backoff", "1s,2s,3s"}, cli.ExitUsage, "back-off has 3 delays but max deliver is 2"},
		{[]string{"--backoff", "soon"}, cli.ExitUsage, "want durations like 1s,5s,30s"},
		{[]string{"stray"}, cli.ExitUsage, `receiver: unknown command "stray" for "receiver"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, stderr, code := receiverCLI(t, s, tc.args...)
			assert.Equal(t, tc.code, code)
			assert.Contains(t, stderr, tc.stderr)
		})
	}
	// Fewer attempts than default delays: the delays are cut, not refused.
	ctx, cancel := context.WithCancel(t.Context())
	var runOut, runErr jstest.LogBuffer
	exited := make(chan int, 1)
	go func() {
		exited <- cli.Receiver(ctx, []string{"--max-deliver", "2", "--jobs", "log", "--nats-url", s.URL}, &runOut, &runErr)
	}()
	require.Eventually(t, func() bool { return strings.Contains(runErr.String(), "receiver ready") }, waitFor, 5*time.Millisecond, "stderr: %s", runErr.String())
	cancel()
	assert.Equal(t, cli.ExitOK, <-exited)
	cons, err := s.JS.Consumer(t.Context(), jhjs.StreamJobs, jhjs.ReceiverConsumer("log"))
	require.NoError(t, err)
	assert.Equal(t, 3, cons.CachedInfo().Config.MaxDeliver, "two attempts and a spare delivery")
	assert.Len(t, cons.CachedInfo().Config.BackOff, 2)

	var out, errb jstest.LogBuffer
	code := cli.Receiver(t.Context(), []string{"jobs", "list", "--nats-url", "nats://127.0.0.1:1"}, &out, &errb)
	assert.Equal(t, cli.ExitError, code)
	assert.Contains(t, errb.String(), "connect to NATS at nats://127.0.0.1:1")
}

// `results get <hook>.<change id>` finds the result by the id an operator
// knows; when two sources sent that id, it names both keys.
func TestReceiverResultsGetByChangeID(t *testing.T) {
	t.Parallel()
	s := jstest.Start(t)
	startReceiver(t, s, "--enable")
	publishJobFrom(t, s, "jobs.log", "audit", "log", "netbox://prod", "c-7")
	waitStatus(t, s, "audit.c-7", "completed")

	publishJobFrom(t, s, "jobs.log", "audit", "log", "netbox://lab", "c-7")
	lab := receiver.ResultKey("audit", events.ChangeKey("netbox://lab", "c-7"))
	waitStatus(t, s, lab, "completed")
	_, errOut, code := receiverCLI(t, s, "results", "get", "audit.c-7")
	assert.Equal(t, cli.ExitError, code)
	assert.Contains(t, errOut, `changes from 2 sources have the id "c-7": give one of the keys: `)
	assert.Contains(t, errOut, lab)
	assert.Contains(t, errOut, receiver.ResultKey("audit", events.ChangeKey("netbox://prod", "c-7")))

	_, _, code = receiverCLI(t, s, "results", "get", "audit.c-8")
	assert.Equal(t, cli.ExitNotFound, code)
}
