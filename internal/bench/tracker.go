package bench

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// tracker counts the job messages of a run as the jobs start: the first
// arrival of each (change, hook) and its time, and every further arrival
// as a duplicate. It is safe for concurrent use.
type tracker struct {
	changes int
	fanOut  int
	hooks   map[string]int // hook name → its number, 0 … fanOut-1; read only
	// origin is set before any goroutine can observe, so they read it
	// without synchronisation; arrivals are recorded from it.
	origin time.Time
	// begin is when the run began (the first publish), since origin; set
	// and read by the run's own goroutine only.
	begin  time.Duration
	first  []atomic.Int64 // per job message: ns since origin of the first arrival, +1 (0: not yet)
	counts []atomic.Int32 // per job message: arrivals

	distinct   atomic.Int64
	duplicates atomic.Int64
	unknown    atomic.Int64 // arrivals that name no change or hook of the run
	done       chan struct{}
}

// newTracker expects changes × len(hooks) job messages; hooks names the
// matching hooks (nil: one, whatever its name).
func newTracker(changes int, hooks []string) *tracker {
	t := &tracker{changes: changes, fanOut: max(len(hooks), 1), origin: time.Now(), done: make(chan struct{})}
	if len(hooks) > 1 {
		t.hooks = make(map[string]int, len(hooks))
		for i, h := range hooks {
			t.hooks[h] = i
		}
	}
	t.first = make([]atomic.Int64, changes*t.fanOut)
	t.counts = make([]atomic.Int32, changes*t.fanOut)
	return t
}

// expected is the number of job messages of the run.
func (t *tracker) expected() int { return len(t.first) }

// start marks the beginning of the run, just before the first publish, and
// returns it: arrivals are measured from it.
func (t *tracker) start() time.Time {
	now := time.Now()
	t.begin = now.Sub(t.origin)
	return now
}

// observe records that the job of change changeID and hook started now.
func (t *tracker) observe(changeID, hook string) {
	now := time.Since(t.origin)
	i, ok := changeIndex(changeID)
	h := 0
	if t.hooks != nil {
		h, ok = t.hooks[hook]
	}
	if !ok || i >= t.changes {
		t.unknown.Add(1)
		return
	}
	k := i*t.fanOut + h
	if t.counts[k].Add(1) > 1 {
		t.duplicates.Add(1)
		return
	}
	t.first[k].Store(int64(now) + 1)
	if int(t.distinct.Add(1)) == len(t.first) {
		close(t.done)
	}
}

// observeMsg records a job message as a bare worker sees it.
func (t *tracker) observeMsg(h nats.Header) {
	t.observe(h.Get("ce-id"), h.Get("Jobhooks-Hook"))
}

// arrival returns when job message k first arrived, since the start.
func (t *tracker) arrival(k int) (time.Duration, bool) {
	v := t.first[k].Load()
	return time.Duration(v-1) - t.begin, v > 0
}

// last returns when the last job message first arrived, since the start.
func (t *tracker) last() time.Duration {
	var last time.Duration
	for k := range t.first {
		if d, ok := t.arrival(k); ok && d > last {
			last = d
		}
	}
	return last
}

// wait returns once every job message has arrived. It fails when none
// arrives for stall (those not there are missing), when failed is closed
// (the pipeline stopped) or when ctx ends.
func (t *tracker) wait(ctx context.Context, stall time.Duration, failed <-chan struct{}, why func() error) error {
	tick := time.NewTicker(min(stall/10, time.Second))
	defer tick.Stop()
	seen, since := t.distinct.Load(), time.Now()
	for {
		select {
		case <-t.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-failed:
			return why()
		case <-tick.C:
			if n := t.distinct.Load(); n != seen {
				seen, since = n, time.Now()
			} else if time.Since(since) >= stall {
				return fmt.Errorf("%d of %d job messages missing: none arrived for %s (%d duplicates, %d unknown)",
					len(t.first)-int(n), len(t.first), stall, t.duplicates.Load(), t.unknown.Load())
			}
		}
	}
}
