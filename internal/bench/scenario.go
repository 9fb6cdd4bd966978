package bench

import (
	"context"
	"fmt"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/hookconfig"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/receiver"
	"github.com/jobhooks/jobhooks/router"
)

// Scenario names, as --scenarios takes them.
const (
	ScenarioRelay            = "relay"
	ScenarioJobhooksAll      = "jobhooks-all"
	ScenarioJobhooksFailures = "jobhooks-failures"
	ScenarioRouterWorker     = "router-worker"
	ScenarioManyHooks        = "hooks-10k"
	ScenarioFanOut           = "fanout-20"
	ScenarioStartup          = "startup"
)

// ScenarioNames lists the scenarios in the order they run.
func ScenarioNames() []string {
	return []string{ScenarioRelay, ScenarioJobhooksAll, ScenarioJobhooksFailures, ScenarioRouterWorker,
		ScenarioManyHooks, ScenarioFanOut, ScenarioStartup}
}

// benchJob is the job of jobhooks' scenarios; benchHook the hook running it.
const (
	benchJob  = "bench"
	benchHook = "bench-hook"
)

// scenario is a pipeline that turns changes into started jobs. The
// start-up scenario is not one: see startup.go.
type scenario struct {
	name  string
	title string
	// hooks names the hooks matching each change when there are several
	// (fan-out): each change then makes len(hooks) job messages.
	hooks []string
	// start starts the pipeline's components on p, reporting each job's
	// start to t, and returns once they are ready.
	start func(ctx context.Context, e *env, p *pipeline, t *tracker) error
}

// fanOut is the number of job messages per change.
func (s *scenario) fanOut() int { return max(len(s.hooks), 1) }

// scenarios returns the throughput and latency scenarios of cfg.
func scenarios(cfg Config) []*scenario {
	fan := make([]string, cfg.FanOut)
	for i := range fan {
		fan[i] = fmt.Sprintf("fan-hook-%02d", i)
	}
	all := []*scenario{
		{name: ScenarioRelay, title: "relay (bare nats.go)", start: startRelay},
		{name: ScenarioJobhooksAll, title: "jobhooks, results all", start: startJobhooks(receiver.ResultsAll)},
		{name: ScenarioJobhooksFailures, title: "jobhooks, results failures", start: startJobhooks(receiver.ResultsFailures)},
		{name: ScenarioRouterWorker, title: "router + bare worker", start: startRouterWorker},
		{name: ScenarioManyHooks, title: fmt.Sprintf("router + bare worker, %s hooks", thousands(cfg.HooksMany)), start: startManyHooks},
		{name: ScenarioFanOut, title: fmt.Sprintf("router + bare worker, fan-out %d", cfg.FanOut), hooks: fan, start: startFanOut},
	}
	var out []*scenario
	for _, s := range all {
		if cfg.selected(s.name) {
			out = append(out, s)
		}
	}
	return out
}

// startRelay runs the baseline: the bare relay and a bare worker on jobs.x.
func startRelay(ctx context.Context, e *env, p *pipeline, t *tracker) error {
	w := newWorker(e.work, "jobs."+relayJob, t, e.cfg.Window)
	p.run("bare worker", w.Run)
	r := newRelay(e.route, e.cfg.Window)
	p.run("relay", r.Run)
	p.settle = []consumerRef{r.consumer(), w.consumer()}
	if err := p.await(ctx, "bare worker", w.Ready()); err != nil {
		return err
	}
	return p.await(ctx, "relay", r.Ready())
}

// startJobhooks runs jobhooks itself: a receiver.Runner of a no-op job,
// recording results, one hook on the job, and the router.
func startJobhooks(results receiver.ResultsMode) func(context.Context, *env, *pipeline, *tracker) error {
	return func(ctx context.Context, e *env, p *pipeline, t *tracker) error {
		reg := receiver.NewRegistry()
		reg.HandleFunc(benchJob, receiver.JobInfo{Description: "jobhooks benchmark: does nothing"},
			func(_ context.Context, _ *receiver.Job, ch *receiver.Change, _ events.Action, _ map[string]any) error {
				t.observe(ch.ID, ch.Hook)
				return nil
			})
		runner := receiver.NewRunner(e.work, reg, receiver.Options{EnableNew: true, Results: results, Logger: e.quiet})
		p.run("receiver", runner.Run)
		if err := p.await(ctx, "receiver", runner.Ready()); err != nil {
			return err
		}
		// The runner registered (and enabled) the job: the hook may run it.
		if err := putHooks(ctx, e.admin, hook(benchHook, benchJob, changeContentType, events.ActionUpdate)); err != nil {
			return err
		}
		p.settle = []consumerRef{{jhjs.StreamChanges, jhjs.ConsumerRouter}, {jhjs.StreamJobs, jhjs.ReceiverConsumer(benchJob)}}
		_, err := startRouter(ctx, e, p)
		return err
	}
}

// startRouterWorker runs the router, one hook, and a bare worker on its job.
func startRouterWorker(ctx context.Context, e *env, p *pipeline, t *tracker) error {
	if err := registerJobs(ctx, e.admin, benchJob); err != nil {
		return err
	}
	if err := putHooks(ctx, e.admin, hook(benchHook, benchJob, changeContentType, events.ActionUpdate)); err != nil {
		return err
	}
	_, err := startRouterAndWorker(ctx, e, p, t, "jobs."+benchJob)
	return err
}

// startManyHooks is startRouterWorker with cfg.HooksMany hooks, one of
// which matches.
func startManyHooks(ctx context.Context, e *env, p *pipeline, t *tracker) error {
	hooks, jobs := manyHooks(e.cfg.HooksMany, e.cfg.ContentTypes, benchJob)
	if err := registerJobs(ctx, e.admin, jobs...); err != nil {
		return err
	}
	if err := writeHooks(ctx, e.admin, hooks, e.cfg.Window); err != nil {
		return err
	}
	r, err := startRouterAndWorker(ctx, e, p, t, "jobs."+benchJob)
	if err != nil {
		return err
	}
	if n := r.Hooks().Index().Len(); n != len(hooks) {
		return fmt.Errorf("the router loaded %d hooks, want %d", n, len(hooks))
	}
	return nil
}

// startFanOut runs the router with cfg.FanOut hooks (of as many jobs)
// matching every change, and a bare worker on all their jobs.
func startFanOut(ctx context.Context, e *env, p *pipeline, t *tracker) error {
	jobs := make([]string, e.cfg.FanOut)
	hooks := make([]*hookconfig.Hook, e.cfg.FanOut)
	for i := range jobs {
		jobs[i] = fmt.Sprintf("fan-%02d", i)
		hooks[i] = hook(fmt.Sprintf("fan-hook-%02d", i), jobs[i], changeContentType, events.ActionUpdate)
	}
	if err := registerJobs(ctx, e.admin, jobs...); err != nil {
		return err
	}
	if err := putHooks(ctx, e.admin, hooks...); err != nil {
		return err
	}
	_, err := startRouterAndWorker(ctx, e, p, t, "jobs.>")
	return err
}

// startRouterAndWorker starts a bare worker on filter, then the router.
func startRouterAndWorker(ctx context.Context, e *env, p *pipeline, t *tracker, filter string) (*router.Router, error) {
	w := newWorker(e.work, filter, t, e.cfg.Window)
	p.run("bare worker", w.Run)
	p.settle = []consumerRef{{jhjs.StreamChanges, jhjs.ConsumerRouter}, w.consumer()}
	if err := p.await(ctx, "bare worker", w.Ready()); err != nil {
		return nil, err
	}
	return startRouter(ctx, e, p)
}

// startRouter runs jobhooks' router and waits until it routes.
func startRouter(ctx context.Context, e *env, p *pipeline) (*router.Router, error) {
	r := router.New(e.route, router.Options{Logger: e.quiet})
	p.run("router", r.Run)
	if err := p.await(ctx, "router", r.Ready()); err != nil {
		return nil, err
	}
	return r, nil
}
