package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	jhjs "github.com/jobhooks/jobhooks/jetstream"
)

// startupResult is what one run of the start-up scenario measured.
type startupResult struct {
	hooks      int
	hooksWrite time.Duration // writing the hooks into job_hooks
	// ready is from the router process's start to its first 200 on /readyz.
	ready time.Duration
	// firstRouted is from the router process's start to the start of the
	// job of the change that waited in CHANGES: routing has begun.
	firstRouted time.Duration
	mem         procMem // the router process's, once it routed
	memErr      error   // why mem is unknown (no /proc)
}

// routerStopGrace is how long a router child has to stop before it is killed.
const routerStopGrace = 15 * time.Second

// runStartup measures the router's start with many hooks: HooksStartup
// hooks go into job_hooks and one change into CHANGES, then the router
// starts as a process of its own (this binary, running cmd/router's code)
// pointed at the server, with a bare worker on the job of the one matching
// hook. It measures the time from the process's start to /readyz answering
// 200 and to the change's job starting, and the process's memory then.
func runStartup(ctx context.Context, e *env, label string) (_ startupResult, err error) {
	if err := resetState(ctx, e.admin); err != nil {
		return startupResult{}, err
	}
	hooks, jobs := manyHooks(e.cfg.HooksStartup, e.cfg.ContentTypes, benchJob)
	if err := registerJobs(ctx, e.admin, jobs...); err != nil {
		return startupResult{}, err
	}
	res := startupResult{hooks: len(hooks)}
	begin := time.Now()
	if err := writeHooks(ctx, e.admin, hooks, e.cfg.Window); err != nil {
		return startupResult{}, err
	}
	res.hooksWrite = time.Since(begin)
	msgs, err := buildChanges(label, 1, e.cfg.Objects)
	if err != nil {
		return startupResult{}, err
	}
	if err := publishAll(ctx, e.pub, msgs, 1, nil); err != nil {
		return startupResult{}, fmt.Errorf("publish the change: %w", err)
	}

	t := newTracker(1, nil)
	p := newPipeline(ctx)
	defer func() {
		if stopErr := p.stop(); stopErr != nil && err == nil {
			err = stopErr
		}
	}()
	w := newWorker(e.work, "jobs."+benchJob, t, e.cfg.Window)
	p.run("bare worker", w.Run)
	p.settle = []consumerRef{{jhjs.StreamChanges, jhjs.ConsumerRouter}, w.consumer()}
	if err := p.await(ctx, "bare worker", w.Ready()); err != nil {
		return startupResult{}, err
	}
	addr, err := freeAddr()
	if err != nil {
		return startupResult{}, err
	}

	start := t.start()
	c, err := startChild(childSpec{name: "router", mode: ChildRouter,
		args: []string{"--nats-url", e.url, "--http", addr, "--log-level", "error"}})
	if err != nil {
		return startupResult{}, err
	}
	// The router process is a component of the pipeline: stopping the
	// pipeline stops it, and its ending before that fails the run.
	p.run("router process", func(ctx context.Context) error {
		select {
		case <-c.Done():
			return c.exitErr()
		case <-ctx.Done():
			return c.stop(routerStopGrace, e.log)
		}
	})
	readyc := make(chan readyResult, 1)
	go func() { readyc <- pollReady(p.ctx, "http://"+addr+"/readyz", start) }()

	if err := t.wait(ctx, e.cfg.StallTimeout, p.Failed(), p.Err); err != nil {
		return startupResult{}, fmt.Errorf("the router's first change: %w", err)
	}
	res.firstRouted = t.last()
	res.mem, res.memErr = readProcMem(c.pid())
	select {
	case r := <-readyc:
		if r.err != nil {
			return startupResult{}, r.err
		}
		res.ready = r.after
	case <-p.Failed():
		return startupResult{}, p.Err()
	case <-ctx.Done():
		return startupResult{}, ctx.Err()
	}
	if err := p.waitSettled(ctx, e.admin); err != nil {
		return startupResult{}, fmt.Errorf("settle: %w", err)
	}
	if d := t.duplicates.Load(); d > 0 {
		return startupResult{}, fmt.Errorf("the router's first change ran %d times more", d)
	}
	return res, nil
}

// readyResult is when /readyz first answered 200.
type readyResult struct {
	after time.Duration
	err   error
}

// pollReady polls url until it answers 200 and returns the time since
// start. It polls every 5ms: the router is another process, with no signal
// of its own.
func pollReady(ctx context.Context, url string, start time.Time) readyResult {
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return readyResult{err: fmt.Errorf("poll %s: %w", url, err)}
		}
		resp, err := client.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return readyResult{after: time.Since(start)}
			}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return readyResult{err: fmt.Errorf("poll %s: %w", url, ctx.Err())}
		}
	}
}

// freeAddr returns a loopback address with a port free a moment ago, for
// the router child's HTTP listener.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)), nil
}
