package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// env is what the runs of a benchmark share: the server, one connection
// per role, the configuration and the loggers.
type env struct {
	cfg   Config
	log   *slog.Logger // the benchmark's own
	quiet *slog.Logger // the router's and the receiver's: warnings and errors
	url   string

	admin jetstream.JetStream // provisioning, hooks, consumer polling
	pub   jetstream.JetStream // the changes' publisher
	route jetstream.JetStream // the relay or the router
	work  jetstream.JetStream // the bare worker or the receiver
}

// connect opens the connections of env, one per role; close closes them.
func (e *env) connect() (closeAll func(), err error) {
	var conns []*nats.Conn
	closeAll = func() {
		for _, nc := range conns {
			nc.Close()
		}
	}
	for _, role := range []struct {
		name string
		js   *jetstream.JetStream
	}{{"admin", &e.admin}, {"publisher", &e.pub}, {"router", &e.route}, {"worker", &e.work}} {
		nc, err := nats.Connect(e.url, nats.Name("jobhooks bench "+role.name), nats.MaxReconnects(-1))
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("connect to %s (%s): %w", e.url, role.name, err)
		}
		conns = append(conns, nc)
		if *role.js, err = jetstream.New(nc); err != nil {
			closeAll()
			return nil, fmt.Errorf("JetStream (%s): %w", role.name, err)
		}
	}
	return closeAll, nil
}

// Run runs the benchmark cfg describes, logging to log and showing the
// rounds' progress on progressOut, and returns its report.
func Run(ctx context.Context, cfg Config, log *slog.Logger, progressOut io.Writer) (_ *Report, err error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	started := time.Now()
	srv, err := startServer(ctx, log)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := srv.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("stop the nats-server: %w", cerr)
		}
	}()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() { // the server exiting ends the benchmark
		select {
		case <-srv.Done():
			cancel(srv.child.exitErr())
		case <-ctx.Done():
		}
	}()
	defer func() {
		if cause := context.Cause(ctx); err != nil && cause != nil && !errors.Is(err, cause) {
			err = fmt.Errorf("%w (%w)", err, cause)
		}
	}()

	e := &env{cfg: cfg, log: log, url: srv.URL,
		quiet: slog.New(log.Handler()).With("component", "jobhooks")}
	if !log.Enabled(ctx, slog.LevelDebug) {
		e.quiet = slog.New(levelHandler{slog.LevelWarn, log.Handler()})
	}
	closeConns, err := e.connect()
	if err != nil {
		return nil, err
	}
	defer closeConns()

	scs := scenarios(cfg)
	rep := newReport(cfg, scs, started)
	if rep.BodyBytes, err = meanBodySize(cfg.Objects); err != nil {
		return nil, err
	}
	prog := newProgress(progressOut, log)
	fail := func(err error) error {
		prog.clear()
		return err
	}

	for round := 1; round <= cfg.Rounds; round++ {
		var done []figure
		for _, s := range rotated(scs, round) {
			prog.running("throughput", round, cfg.Rounds, done, s.name)
			runtime.GC() // what the last run left is not this one's to collect
			res, err := runScenario(ctx, e, s, fmt.Sprintf("%s-r%d-tp", s.name, round), cfg.Changes, 0)
			if err != nil {
				return nil, fail(fmt.Errorf("round %d, %s, throughput: %w", round, s.name, err))
			}
			tr := rep.addThroughput(s.name, round, res)
			v := thousands(int(tr.ChangesPerS+0.5)) + "/s"
			if s.fanOut() > 1 {
				v = thousands(int(tr.JobMsgsPerS+0.5)) + " msgs/s"
			}
			done = append(done, figure{s.name, v})
		}
		if rep.Startup != nil {
			prog.running("throughput", round, cfg.Rounds, done, ScenarioStartup)
			runtime.GC()
			res, err := runStartup(ctx, e, fmt.Sprintf("startup-r%d", round))
			if err != nil {
				return nil, fail(fmt.Errorf("round %d, %s: %w", round, ScenarioStartup, err))
			}
			sr := rep.addStartup(round, res)
			done = append(done, figure{ScenarioStartup, fmt.Sprintf("%.2fs", sr.FirstRoutedS)})
		}
		prog.roundDone("throughput", round, cfg.Rounds, done)
	}

	if len(scs) > 0 {
		rep.LatencyRate, rep.LatencyRateSource = latencyRate(cfg, rep)
		for round := 1; round <= cfg.Rounds; round++ {
			var done []figure
			for _, s := range rotated(scs, round) {
				prog.running("latency", round, cfg.Rounds, done, s.name)
				// Fan-out offers the job messages/s of the others: fewer
				// changes, as many job messages.
				rate, n := rep.LatencyRate/float64(s.fanOut()), max(cfg.LatencyChanges/s.fanOut(), 1)
				runtime.GC()
				res, err := runScenario(ctx, e, s, fmt.Sprintf("%s-r%d-lat", s.name, round), n, rate)
				if err != nil {
					return nil, fail(fmt.Errorf("round %d, %s, latency: %w", round, s.name, err))
				}
				lr := rep.addLatency(s.name, round, rate, res)
				done = append(done, figure{s.name, fmt.Sprintf("p99 %.1fms", lr.P99Ms)})
			}
			prog.roundDone("latency", round, cfg.Rounds, done)
		}
	}
	rep.finish(time.Now())
	return rep, nil
}

// rotated is the order of the scenarios in round (from 1): each round
// starts one further along, so that no scenario always runs first (on a
// server with the least stored) or right after the same one.
func rotated(scs []*scenario, round int) []*scenario {
	if len(scs) == 0 {
		return nil
	}
	k := (round - 1) % len(scs)
	return append(slices.Clone(scs[k:]), scs[:k]...)
}

// latencyRate is the offered rate of the latency runs: --rate, else half
// the relay's median changes/s, else (no relay) half the slowest median.
func latencyRate(cfg Config, rep *Report) (float64, string) {
	if cfg.Rate > 0 {
		return cfg.Rate, "--rate"
	}
	if relay := rep.scenario(ScenarioRelay); relay != nil {
		return medianOf(relay.Throughput, func(t ThroughputRound) float64 { return t.ChangesPerS }) / 2,
			"half the relay's median changes/s"
	}
	slowest := 0.0
	for _, s := range rep.Scenarios {
		m := medianOf(s.Throughput, func(t ThroughputRound) float64 { return t.ChangesPerS })
		if slowest == 0 || m < slowest {
			slowest = m
		}
	}
	return slowest / 2, "no relay run: half the slowest median changes/s"
}

// meanBodySize is the mean size of a change's data.
func meanBodySize(objects int) (int, error) {
	msgs, err := buildChanges("size", objects, objects)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, m := range msgs {
		total += len(m.Data)
	}
	return total / len(msgs), nil
}

// levelHandler passes on the records of level and above.
type levelHandler struct {
	level slog.Level
	slog.Handler
}

func (h levelHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h levelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return levelHandler{h.level, h.Handler.WithAttrs(attrs)}
}

func (h levelHandler) WithGroup(name string) slog.Handler {
	return levelHandler{h.level, h.Handler.WithGroup(name)}
}

const usage = `usage: bench [flags]

jobhooks' benchmark. It starts its own nats-server (this binary, re-executed
as a child process; data in a temp dir, removed at the end) and runs, in
interleaved rounds (A B C, then B C A, …), these scenarios:

  relay              a bare nats.go relay (CHANGES → jobs.x, ack after the
                     publish ack, 512 publishes in flight) and a bare worker
  jobhooks-all       jobhooks' router and receiver.Runner, a no-op job,
                     results recorded for every run
  jobhooks-failures  the same, results recorded for failures only
  router-worker      jobhooks' router and a bare worker on jobs.<job>
  hooks-10k          router-worker with 10,000 hooks over 1,000 content
                     types, one matching each change
  fanout-20          router-worker with 20 hooks matching each change
  startup            the router as a process of its own, with --hooks-startup
                     hooks in job_hooks: time to route, and its memory

Throughput runs publish --changes changes as fast as they go (1 KB
dcim.device updates over 1,000 objects) and time them from the first publish
to the last job's start. Latency runs, after them, publish
--latency-changes changes open loop at --rate changes/s and measure each
job's start from its change's intended send time. The report prints the
medians over the rounds and the targets of issue 8, PASS or MISS.

flags:
`

// Main is the bench command: it parses args, runs the benchmark and prints
// its report on stdout; logs and progress go to stderr. It returns the exit
// code: 0 done (whatever the targets say), 1 failed, 2 bad usage, 130
// interrupted.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	cfg := DefaultConfig()
	cfg.RegisterFlags(fs)
	verbose := fs.Bool("v", false, "log the router's and the receiver's info and debug lines too")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of this process (router, receiver, publisher and workers; not the nats-server) to `file`")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "bench: %s\n", strings.ReplaceAll(err.Error(), "\n", "\nbench: "))
		return 2
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if cfg.Rounds < DefaultRounds {
		log.Warn("fewer than 3 rounds: the medians are no steadier than single runs", "rounds", cfg.Rounds)
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "bench: %s\n", err)
			return 1
		}
		defer stop()
	}
	rep, err := Run(ctx, cfg, log, stderr)
	if err != nil {
		if ctx.Err() != nil {
			log.Error("interrupted", "error", err)
			return 130
		}
		log.Error("benchmark failed", "error", err)
		return 1
	}
	if err := rep.WriteTable(stdout); err != nil {
		log.Error("print the report", "error", err)
		return 1
	}
	if cfg.JSONPath != "" {
		if err := rep.WriteJSON(cfg.JSONPath); err != nil {
			log.Error("--json", "error", err)
			return 1
		}
		log.Info("raw figures written", "file", cfg.JSONPath)
	}
	return 0
}

// startCPUProfile profiles this process into path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
