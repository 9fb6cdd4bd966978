package faults

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/jetstream/jstest"
)

// seed returns the seed of a test's random choices: JOBHOOKS_FAULTS_SEED
// to repeat a run, else a new one; the test logs it.
func seed(t *testing.T) uint64 {
	t.Helper()
	if s := os.Getenv("JOBHOOKS_FAULTS_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "JOBHOOKS_FAULTS_SEED")
		return n
	}
	return uint64(time.Now().UnixNano())
}

// TestKillRouterAndReceiver SIGKILLs the router process and the two
// receiver processes at random points of a run, several times each, and
// restarts each at once. Changes are published at a steady pace over the
// run, so every kill lands while changes are routed and jobs run. Nothing
// is lost: every change is in JOBS once per job (a restarted router routes
// what the killed one held again, and de-duplication stores it once), and
// every job completes, with one result per hook. A job runs again only
// when a receiver was killed holding its message (redelivered after the
// ack wait, as a later attempt): at most max-ack-pending per receiver kill.
func TestKillRouterAndReceiver(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the router and receiver binaries")
	}
	t.Parallel() // mostly waiting out the router's ack wait
	const maxAckPending = 64
	n := sized(3000, 10000)
	kills := sized(3, 10) // of the router, and of the receivers
	window := sized(4*time.Second, 15*time.Second)
	sd := seed(t)
	rng := rand.New(rand.NewPCG(sd, 0))
	t.Logf("seed %d (JOBHOOKS_FAULTS_SEED repeats it): %d changes over %s, %d router kills, %d receiver kills", sd, n, window, kills, kills)

	routerBin, receiverBin := bins.get(t)
	srv := jstest.StartProvisioned(t)
	receivers := []*proc{
		startProc(t, "receiver-a", receiverBin, receiverArgs(srv.URL, maxAckPending)...),
		startProc(t, "receiver-b", receiverBin, receiverArgs(srv.URL, maxAckPending)...),
	}
	putHooks(t, srv.JS, builtinJobs...)
	router := startProc(t, "router", routerBin, "--nats-url", srv.URL, "--log-level", "warn")

	// The kills, in a random order, each once a random number of changes
	// is published.
	type kill struct {
		at     int // changes published
		target *proc
	}
	var plan []kill
	for range kills {
		plan = append(plan, kill{rng.IntN(n * 9 / 10), router}, kill{rng.IntN(n * 9 / 10), receivers[rng.IntN(len(receivers))]})
	}
	slices.SortFunc(plan, func(a, b kill) int { return a.at - b.at })

	began := time.Now()
	f := feed(t.Context(), srv.JS, n, window/time.Duration(n/50))
	for i, k := range plan {
		eventually(t, time.Minute, time.Millisecond, fmt.Sprintf("%d changes published", k.at), func() (bool, string) {
			p := f.published.Load()
			return p >= int64(k.at), fmt.Sprintf("%d published", p)
		})
		k.target.kill()
		k.target.restart()
		t.Logf("kill %d: %s at %d changes published (%s)", i+1, k.target.name, f.published.Load(), time.Since(began).Round(time.Millisecond))
	}
	f.wait(t)
	waitResults(t, srv.JS, n*len(builtinJobs), 3*time.Minute)
	waitConsumersIdle(t, srv.JS, time.Minute, builtinJobs...)
	t.Logf("settled %s after the first change", time.Since(began).Round(time.Millisecond))

	tl := count(t, srv.JS, builtinJobs...)
	t.Logf("counted: %s", tl)
	assertExactlyOnce(t, tl, n, kills*maxAckPending, builtinJobs...)
	for _, p := range append(receivers, router) {
		require.True(t, p.alive(), "%s still runs", p.name)
		p.stop()
	}
}
