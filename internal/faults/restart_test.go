package faults

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// receiverArgs are the flags of the receiver processes: a short ack wait,
// so that the messages of a receiver that is gone come back in seconds, and
// a bound on what all receivers of a job hold unacknowledged, which bounds
// the repeats one fault can cause.
func receiverArgs(url string, maxAckPending int) []string {
	return []string{"--nats-url", url, "--jobs", "log,serial-validator", "--enable", "--concurrency", "4",
		"--ack-wait", "2s", "--backoff", "100ms", "--max-ack-pending", fmt.Sprint(maxAckPending), "--log-level", "warn"}
}

// TestServerRestart restarts the single file-backed JetStream server (a
// separate process) in the middle of a stream of changes, once with SIGTERM
// and once with SIGKILL, on the same port and store. The router and
// receiver processes reconnect and carry on without a restart of their
// own, and every change runs each of its two jobs: stored once in CHANGES
// and in JOBS, one completed result per hook. A job runs again only for a
// message in flight at the restart whose acknowledgement the restart lost
// (redelivered after its ack wait), so at most max-ack-pending per job.
func TestServerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the router and receiver binaries and a nats-server process")
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(map[syscall.Signal]string{syscall.SIGTERM: "SIGTERM", syscall.SIGKILL: "SIGKILL"}[sig], func(t *testing.T) {
			t.Parallel() // mostly waiting out the router's ack wait
			testServerRestart(t, sig)
		})
	}
}

func testServerRestart(t *testing.T, sig syscall.Signal) {
	const maxAckPending = 64
	n := sized(2000, 10000)
	routerBin, receiverBin := bins.get(t)
	srv := startNATS(t)
	_, js := srv.connect(t)
	provision(t, js)
	recv := startProc(t, "receiver", receiverBin, receiverArgs(srv.URL, maxAckPending)...)
	putHooks(t, js, builtinJobs...)
	router := startProc(t, "router", routerBin, "--nats-url", srv.URL, "--log-level", "warn")

	began := time.Now()
	f := feed(t.Context(), js, n, 0)
	eventually(t, time.Minute, time.Millisecond, "half the changes published", func() (bool, string) {
		p := f.published.Load()
		return p >= int64(n/2), fmt.Sprintf("%d published", p)
	})
	atRestart := f.published.Load()
	outage := srv.restart(sig)
	t.Logf("%v: restarted the server with %d of %d changes published; it was away %s", sig, atRestart, n, outage.Round(time.Millisecond))

	f.wait(t)
	t.Logf("published %d changes: %d publishes sent again, %d of them already stored", n, f.retries.Load(), f.dups.Load())
	waitResults(t, js, n*len(builtinJobs), 3*time.Minute)
	waitConsumersIdle(t, js, time.Minute, builtinJobs...)
	t.Logf("settled %s after the first change", time.Since(began).Round(time.Millisecond))

	tl := count(t, js, builtinJobs...)
	t.Logf("counted: %s", tl)
	assertExactlyOnce(t, tl, n, maxAckPending, builtinJobs...)
	require.True(t, router.alive(), "the router rode out the restart")
	require.True(t, recv.alive(), "the receiver rode out the restart")
	router.stop()
	recv.stop()
}
