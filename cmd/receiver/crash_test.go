package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
	"github.com/jobhooks/jobhooks/receiver"
)

// TestCrashLosesNoJob kills the receiver process (SIGKILL) while it works
// through 1,000 job messages, starts it again, and checks that every job
// completes: the killed process's messages are redelivered (as attempt 2)
// once their ack deadline passes.
func TestCrashLosesNoJob(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the receiver binary")
	}
	const (
		n       = 1000
		objects = 50
	)
	bin := filepath.Join(t.TempDir(), "receiver")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run(), "go build")

	s := jstest.StartProvisioned(t)
	ctx := t.Context()
	resultsKV := s.KV(t, jhjs.BucketJobResults)
	resultsStream, err := s.JS.Stream(ctx, "KV_"+jhjs.BucketJobResults)
	require.NoError(t, err)
	stored := func() uint64 {
		info, err := resultsStream.Info(ctx)
		require.NoError(t, err)
		return info.State.Msgs // one per key: the bucket keeps one revision
	}

	// Short ack deadline, so the killed process's messages come back fast.
	args := []string{"--nats-url", s.URL, "--jobs", "log", "--enable", "--concurrency", "4",
		"--ack-wait", "1s", "--backoff", "100ms", "--log-level", "warn"}
	start := func(name string) *exec.Cmd {
		logFile, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
		require.NoError(t, err)
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = logFile, logFile
		require.NoError(t, cmd.Start())
		t.Cleanup(func() {
			if cmd.ProcessState == nil {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
			}
			if t.Failed() {
				out, _ := os.ReadFile(logFile.Name())
				t.Logf("%s output:\n%s", name, out)
			}
		})
		return cmd
	}

	first := start("first")
	for i := range n {
		id := fmt.Sprintf("c-%04d", i)
		ch := &events.Change{Action: events.ActionUpdate, ContentType: "dcim.device", ObjectID: fmt.Sprint(i % objects),
			PreChange: map[string]any{"serial": fmt.Sprint(i - objects)}, PostChange: map[string]any{"serial": fmt.Sprint(i)}}
		ev, err := events.NewEvent(ch, events.EventOptions{ID: id, Source: "test"})
		require.NoError(t, err)
		msg, err := events.NewJobMsg(&events.ChangeEvent{Event: *ev, Change: *ch}, "crash", "log", nil)
		require.NoError(t, err)
		_, err = s.JS.PublishMsgAsync(msg)
		require.NoError(t, err)
	}
	select {
	case <-s.JS.PublishAsyncComplete():
	case <-time.After(time.Minute):
		t.Fatal("publishing timed out")
	}

	// Kill it once it is under way.
	require.Eventually(t, func() bool { return stored() >= 50 }, time.Minute, time.Millisecond)
	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	_ = first.Wait()
	atKill := stored()
	t.Logf("killed the receiver with %d of %d results stored", atKill, n)

	second := start("second")
	results := receiver.NewResults(resultsKV)
	var list []*receiver.Result
	require.Eventually(t, func() bool {
		if stored() < n {
			return false
		}
		list, err = results.List(ctx, receiver.ResultFilter{Hook: "crash"})
		require.NoError(t, err)
		for _, r := range list {
			if r.Status != receiver.StatusCompleted {
				return false
			}
		}
		return len(list) == n
	}, 2*time.Minute, 20*time.Millisecond)

	repeated := 0
	for _, r := range list {
		assert.GreaterOrEqual(t, r.Attempts, 1, r.Key())
		if r.Attempts > 1 {
			repeated++
		}
	}
	t.Logf("%d jobs ran again after the kill", repeated)
	if atKill < n {
		assert.Positive(t, repeated, "the killed receiver's messages were redelivered")
	}

	cons, err := s.JS.Consumer(ctx, jhjs.StreamJobs, jhjs.ReceiverConsumer("log"))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		info, err := cons.Info(ctx)
		require.NoError(t, err)
		return info.NumPending == 0 && info.NumAckPending == 0
	}, time.Minute, 10*time.Millisecond, "every message acknowledged")
	dls, err := receiver.NewDeadLetters(s.JS).List(ctx, "log")
	require.NoError(t, err)
	assert.Empty(t, dls)

	// SIGTERM: a clean exit.
	require.NoError(t, second.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- second.Wait() }()
	select {
	case err := <-done:
		assert.NoError(t, err, "exit status 0 on SIGTERM")
	case <-time.After(time.Minute):
		t.Fatal("the receiver did not exit on SIGTERM")
	}
}
