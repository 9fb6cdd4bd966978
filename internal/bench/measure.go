package bench

import (
	"context"
	"fmt"
	"time"
)

// runResult is what one run of a scenario measured.
type runResult struct {
	changes     int
	jobMessages int
	// elapsed is from the first publish to the start of the last job.
	elapsed    time.Duration
	duplicates int64
	// latencies are, with a rate, each job's delay from its change's
	// intended send time to its start.
	latencies []time.Duration
}

// runScenario runs s once from clean state. With rate 0 it measures
// throughput: n changes as fast as the publish window allows. With a rate
// it measures latency: n changes published open loop at rate changes/s.
func runScenario(ctx context.Context, e *env, s *scenario, label string, n int, rate float64) (_ runResult, err error) {
	msgs, err := buildChanges(label, n, e.cfg.Objects)
	if err != nil {
		return runResult{}, err
	}
	if err := resetState(ctx, e.admin); err != nil {
		return runResult{}, err
	}
	t := newTracker(n, s.hooks)
	p := newPipeline(ctx)
	defer func() {
		if stopErr := p.stop(); stopErr != nil && err == nil {
			err = stopErr
		}
	}()
	if err := s.start(ctx, e, p, t); err != nil {
		return runResult{}, err
	}

	start := t.start()
	var sched *schedule
	if rate > 0 {
		sched = newSchedule(start, rate)
	}
	published := make(chan error, 1)
	pubCtx, stopPublishing := context.WithCancel(ctx)
	defer stopPublishing()
	go func() { published <- publishAll(pubCtx, e.pub, msgs, e.cfg.Window, sched) }()

	waitErr := t.wait(ctx, e.cfg.StallTimeout, p.Failed(), p.Err)
	if waitErr != nil {
		stopPublishing()
	}
	if pubErr := <-published; pubErr != nil && waitErr == nil {
		waitErr = fmt.Errorf("publish the changes: %w", pubErr)
	}
	if waitErr != nil {
		return runResult{}, waitErr
	}
	res := runResult{changes: n, jobMessages: t.expected(), elapsed: t.last()}
	if sched != nil {
		res.latencies = make([]time.Duration, t.expected())
		for k := range res.latencies {
			at, _ := t.arrival(k)
			res.latencies[k] = at - sched.at(k/s.fanOut()).Sub(start)
		}
	}
	// Every job has started; wait until nothing is left in flight, so that
	// a late duplicate is counted.
	if err := p.waitSettled(ctx, e.admin); err != nil {
		return runResult{}, fmt.Errorf("settle: %w", err)
	}
	if err := p.stop(); err != nil {
		return runResult{}, err
	}
	res.duplicates = t.duplicates.Load()
	if u := t.unknown.Load(); u > 0 {
		return runResult{}, fmt.Errorf("%d job messages named no change or hook of the run", u)
	}
	return res, nil
}
