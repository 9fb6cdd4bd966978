package bench

import (
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Config is what a benchmark run does. Zero fields take the defaults of
// DefaultConfig when Run fills them in (WithDefaults).
type Config struct {
	// Rounds is how many times every scenario runs, interleaved (≥ 1; the
	// command asks for ≥ 3, the default).
	Rounds int
	// Changes is how many changes a throughput run publishes.
	Changes int
	// Rate is the offered rate of the latency runs, in changes per second;
	// 0: half the relay's median throughput.
	Rate float64
	// LatencyChanges is how many changes a latency run publishes.
	LatencyChanges int
	// JSONPath, when set, is where the raw figures are written as JSON.
	JSONPath string
	// Scenarios selects scenarios by name (ScenarioNames); empty: all.
	Scenarios []string
	// HooksStartup is how many hooks the start-up scenario loads.
	HooksStartup int
	// HooksMany is how many hooks the many-hooks scenario has (10,000).
	HooksMany int
	// ContentTypes is how many content types the hooks of the many-hooks
	// and start-up scenarios are spread over (1,000).
	ContentTypes int
	// FanOut is how many hooks match each change in the fan-out scenario (20).
	FanOut int
	// Objects is how many distinct objects the changes are spread over (1,000).
	Objects int
	// Window bounds the asynchronous publishes in flight, of the
	// benchmark's publisher and of the relay (512).
	Window int
	// StallTimeout fails a run whose jobs make no progress this long (30s):
	// what has not arrived by then is missing.
	StallTimeout time.Duration
}

// Defaults of Config.
const (
	DefaultRounds         = 3
	DefaultChanges        = 20000
	DefaultLatencyChanges = 5000
	DefaultHooksStartup   = 100000
	DefaultHooksMany      = 10000
	DefaultContentTypes   = 1000
	DefaultFanOut         = 20
	DefaultObjects        = 1000
	DefaultWindow         = 512
	DefaultStallTimeout   = 30 * time.Second
)

// DefaultConfig returns the benchmark of issue 8.
func DefaultConfig() Config {
	return Config{
		Rounds:         DefaultRounds,
		Changes:        DefaultChanges,
		LatencyChanges: DefaultLatencyChanges,
		HooksStartup:   DefaultHooksStartup,
	}.WithDefaults()
}

// WithDefaults returns c with its zero fields set to the defaults.
func (c Config) WithDefaults() Config {
	set := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	set(&c.Rounds, DefaultRounds)
	set(&c.Changes, DefaultChanges)
	set(&c.LatencyChanges, DefaultLatencyChanges)
	set(&c.HooksStartup, DefaultHooksStartup)
	set(&c.HooksMany, DefaultHooksMany)
	set(&c.ContentTypes, DefaultContentTypes)
	set(&c.FanOut, DefaultFanOut)
	set(&c.Objects, DefaultObjects)
	set(&c.Window, DefaultWindow)
	if c.StallTimeout == 0 {
		c.StallTimeout = DefaultStallTimeout
	}
	return c
}

// Validate checks the settings.
func (c Config) Validate() error {
	var errs []error
	positive := func(name string, v int) {
		if v < 1 {
			errs = append(errs, fmt.Errorf("%s must be at least 1, got %d", name, v))
		}
	}
	positive("--rounds", c.Rounds)
	positive("--changes", c.Changes)
	positive("--latency-changes", c.LatencyChanges)
	positive("--hooks-startup", c.HooksStartup)
	positive("hooks of the many-hooks scenario", c.HooksMany)
	positive("content types", c.ContentTypes)
	positive("fan-out", c.FanOut)
	positive("objects", c.Objects)
	positive("window", c.Window)
	if c.Rate < 0 {
		errs = append(errs, fmt.Errorf("--rate must not be negative, got %g", c.Rate))
	}
	if c.StallTimeout <= 0 {
		errs = append(errs, fmt.Errorf("the stall timeout must be positive, got %s", c.StallTimeout))
	}
	for _, name := range c.Scenarios {
		if !slices.Contains(ScenarioNames(), name) {
			errs = append(errs, fmt.Errorf("--scenarios: unknown scenario %q (known: %s)", name, strings.Join(ScenarioNames(), ", ")))
		}
	}
	return errors.Join(errs...)
}

// selected reports whether scenario name runs.
func (c Config) selected(name string) bool {
	return len(c.Scenarios) == 0 || slices.Contains(c.Scenarios, name)
}

// RegisterFlags registers the command's flags on fs, defaulting to c.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.IntVar(&c.Rounds, "rounds", c.Rounds, "rounds of every scenario, interleaved, each round starting one scenario further along; medians are reported")
	fs.IntVar(&c.Changes, "changes", c.Changes, "changes published in each throughput run")
	fs.Float64Var(&c.Rate, "rate", c.Rate, "offered rate of the latency runs, changes/s (0: half the relay's median changes/s)")
	fs.IntVar(&c.LatencyChanges, "latency-changes", c.LatencyChanges, "changes published in each latency run")
	fs.StringVar(&c.JSONPath, "json", c.JSONPath, "write every round's figures and the medians to this `file` as JSON")
	fs.Func("scenarios", "comma-separated `list` of scenarios to run (default all: "+strings.Join(ScenarioNames(), ",")+")", func(s string) error {
		c.Scenarios = nil
		for name := range strings.SplitSeq(s, ",") {
			if name = strings.TrimSpace(name); name != "" {
				c.Scenarios = append(c.Scenarios, name)
			}
		}
		return nil
	})
	fs.IntVar(&c.HooksStartup, "hooks-startup", c.HooksStartup, "hooks in job_hooks for the start-up scenario")
}
