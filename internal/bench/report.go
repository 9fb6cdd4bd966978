package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is everything a benchmark run measured: every round's figures and
// the medians. It is what --json writes.
type Report struct {
	Started   time.Time    `json:"started"`
	DurationS float64      `json:"duration_s"`
	Config    ReportConfig `json:"config"`
	// BodyBytes is the mean size of a change's data (the message body).
	BodyBytes int `json:"change_body_bytes"`
	// LatencyRate is the offered rate of the latency runs, changes/s (the
	// fan-out scenario's is LatencyRate / fan-out: see ScenarioReport).
	LatencyRate       float64           `json:"latency_rate_changes_per_s"`
	LatencyRateSource string            `json:"latency_rate_source"`
	Scenarios         []*ScenarioReport `json:"scenarios"`
	Startup           *StartupReport    `json:"startup,omitempty"`
	Targets           []Target          `json:"targets"`
}

// ReportConfig is the configuration of the run and the machine.
type ReportConfig struct {
	Rounds         int      `json:"rounds"`
	Changes        int      `json:"changes"`
	LatencyChanges int      `json:"latency_changes"`
	Rate           float64  `json:"rate_flag"`
	Scenarios      []string `json:"scenarios"`
	HooksStartup   int      `json:"hooks_startup"`
	HooksMany      int      `json:"hooks_many"`
	ContentTypes   int      `json:"content_types"`
	FanOut         int      `json:"fan_out"`
	Objects        int      `json:"objects"`
	Window         int      `json:"window"`
	GoVersion      string   `json:"go_version"`
	OS             string   `json:"os"`
	Arch           string   `json:"arch"`
	CPUs           int      `json:"cpus"`
}

// ScenarioReport is one throughput-and-latency scenario.
type ScenarioReport struct {
	Name       string            `json:"name"`
	Title      string            `json:"title"`
	FanOut     int               `json:"fan_out"` // job messages per change
	Throughput []ThroughputRound `json:"throughput"`
	Latency    []LatencyRound    `json:"latency"`
	Median     Medians           `json:"median"`
}

// ThroughputRound is one throughput run.
type ThroughputRound struct {
	Round       int     `json:"round"`
	Changes     int     `json:"changes"`
	JobMessages int     `json:"job_messages"`
	ElapsedS    float64 `json:"elapsed_s"` // first publish to the last job's start
	ChangesPerS float64 `json:"changes_per_s"`
	JobMsgsPerS float64 `json:"job_msgs_per_s"`
	Duplicates  int64   `json:"duplicates"`
	Missing     int     `json:"missing"` // always 0: a missing job fails the run
}

// LatencyRound is one latency run: latency from a change's intended send
// time to its job's start, per job message.
type LatencyRound struct {
	Round       int     `json:"round"`
	Rate        float64 `json:"rate_changes_per_s"`
	Changes     int     `json:"changes"`
	JobMessages int     `json:"job_messages"`
	P50Ms       float64 `json:"p50_ms"`
	P99Ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`
	Duplicates  int64   `json:"duplicates"`
	Missing     int     `json:"missing"`
}

// Medians are the medians over the rounds; latency percentiles are the
// median of each round's percentile. XRelay is the ratio of this
// scenario's median job messages/s to the relay's (the same as changes/s
// with one hook).
type Medians struct {
	ChangesPerS float64 `json:"changes_per_s"`
	JobMsgsPerS float64 `json:"job_msgs_per_s"`
	XRelay      float64 `json:"x_relay,omitempty"`
	P50Ms       float64 `json:"p50_ms"`
	P99Ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`
	Duplicates  int64   `json:"duplicates"` // over every round
}

// StartupReport is the start-up scenario.
type StartupReport struct {
	Hooks  int            `json:"hooks"`
	Rounds []StartupRound `json:"rounds"`
	Median StartupMedians `json:"median"`
}

// StartupRound is one start of the router process.
type StartupRound struct {
	Round        int     `json:"round"`
	Hooks        int     `json:"hooks"`
	HooksWriteS  float64 `json:"hooks_write_s"`
	ReadyS       float64 `json:"readyz_s"`       // process start to /readyz 200
	FirstRoutedS float64 `json:"first_routed_s"` // process start to the first change's job starting
	VmHWMBytes   int64   `json:"vmhwm_bytes"`
	VmRSSBytes   int64   `json:"vmrss_bytes"`
	MemError     string  `json:"mem_error,omitempty"`
}

// StartupMedians are the start-up medians over the rounds.
type StartupMedians struct {
	HooksWriteS  float64 `json:"hooks_write_s"`
	ReadyS       float64 `json:"readyz_s"`
	FirstRoutedS float64 `json:"first_routed_s"`
	VmHWMBytes   int64   `json:"vmhwm_bytes"`
	VmRSSBytes   int64   `json:"vmrss_bytes"`
}

// Target is one of issue 8's targets and whether the run met it.
type Target struct {
	Name   string  `json:"name"`
	Want   string  `json:"want"`
	Value  float64 `json:"value"`
	Shown  string  `json:"shown"`
	Pass   bool    `json:"pass"`
	Source string  `json:"source"` // what the value is computed from
}

func newReport(cfg Config, scs []*scenario, started time.Time) *Report {
	r := &Report{Started: started, Config: ReportConfig{
		Rounds: cfg.Rounds, Changes: cfg.Changes, LatencyChanges: cfg.LatencyChanges, Rate: cfg.Rate,
		Scenarios: cfg.Scenarios, HooksStartup: cfg.HooksStartup, HooksMany: cfg.HooksMany,
		ContentTypes: cfg.ContentTypes, FanOut: cfg.FanOut, Objects: cfg.Objects, Window: cfg.Window,
		GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(),
	}}
	for _, s := range scs {
		r.Scenarios = append(r.Scenarios, &ScenarioReport{Name: s.name, Title: s.title, FanOut: s.fanOut()})
	}
	if cfg.selected(ScenarioStartup) {
		r.Startup = &StartupReport{Hooks: cfg.HooksStartup}
	}
	return r
}

func (r *Report) scenario(name string) *ScenarioReport {
	for _, s := range r.Scenarios {
		if s.Name == name {
			return s
		}
	}
	return nil
}

func (r *Report) addThroughput(name string, round int, res runResult) ThroughputRound {
	s := r.scenario(name)
	secs := res.elapsed.Seconds()
	tr := ThroughputRound{Round: round, Changes: res.changes, JobMessages: res.jobMessages, ElapsedS: secs,
		ChangesPerS: ratio(float64(res.changes), secs), JobMsgsPerS: ratio(float64(res.jobMessages), secs),
		Duplicates: res.duplicates}
	s.Throughput = append(s.Throughput, tr)
	return tr
}

func (r *Report) addLatency(name string, round int, rate float64, res runResult) LatencyRound {
	s := r.scenario(name)
	lat := slices.Clone(res.latencies)
	slices.Sort(lat)
	lr := LatencyRound{Round: round, Rate: rate, Changes: res.changes, JobMessages: res.jobMessages,
		P50Ms: ms(percentile(lat, 50)), P99Ms: ms(percentile(lat, 99)), MaxMs: ms(percentile(lat, 100)),
		Duplicates: res.duplicates}
	s.Latency = append(s.Latency, lr)
	return lr
}

func (r *Report) addStartup(round int, res startupResult) StartupRound {
	sr := StartupRound{Round: round, Hooks: res.hooks, HooksWriteS: res.hooksWrite.Seconds(),
		ReadyS: res.ready.Seconds(), FirstRoutedS: res.firstRouted.Seconds(),
		VmHWMBytes: res.mem.HWM, VmRSSBytes: res.mem.RSS}
	if res.memErr != nil {
		sr.MemError = res.memErr.Error()
	}
	r.Startup.Rounds = append(r.Startup.Rounds, sr)
	return sr
}

// medianOf returns the median of f over xs.
func medianOf[T any](xs []T, f func(T) float64) float64 {
	vals := make([]float64, len(xs))
	for i, x := range xs {
		vals[i] = f(x)
	}
	return median(vals)
}

// finish computes the medians and the targets.
func (r *Report) finish(end time.Time) {
	r.DurationS = end.Sub(r.Started).Seconds()
	for _, s := range r.Scenarios {
		m := &s.Median
		m.ChangesPerS = medianOf(s.Throughput, func(t ThroughputRound) float64 { return t.ChangesPerS })
		m.JobMsgsPerS = medianOf(s.Throughput, func(t ThroughputRound) float64 { return t.JobMsgsPerS })
		m.P50Ms = medianOf(s.Latency, func(l LatencyRound) float64 { return l.P50Ms })
		m.P99Ms = medianOf(s.Latency, func(l LatencyRound) float64 { return l.P99Ms })
		m.MaxMs = medianOf(s.Latency, func(l LatencyRound) float64 { return l.MaxMs })
		for _, t := range s.Throughput {
			m.Duplicates += t.Duplicates
		}
		for _, l := range s.Latency {
			m.Duplicates += l.Duplicates
		}
	}
	if relay := r.scenario(ScenarioRelay); relay != nil {
		for _, s := range r.Scenarios {
			s.Median.XRelay = ratio(s.Median.JobMsgsPerS, relay.Median.JobMsgsPerS)
		}
	}
	if st := r.Startup; st != nil {
		m := &st.Median
		m.HooksWriteS = medianOf(st.Rounds, func(s StartupRound) float64 { return s.HooksWriteS })
		m.ReadyS = medianOf(st.Rounds, func(s StartupRound) float64 { return s.ReadyS })
		m.FirstRoutedS = medianOf(st.Rounds, func(s StartupRound) float64 { return s.FirstRoutedS })
		m.VmHWMBytes = int64(medianOf(st.Rounds, func(s StartupRound) float64 { return float64(s.VmHWMBytes) }))
		m.VmRSSBytes = int64(medianOf(st.Rounds, func(s StartupRound) float64 { return float64(s.VmRSSBytes) }))
	}
	r.Targets = r.targets()
}

// targets are issue 8's, for the scenarios that ran.
func (r *Report) targets() []Target {
	var ts []Target
	relay, worker := r.scenario(ScenarioRelay), r.scenario(ScenarioRouterWorker)
	for _, t := range []struct {
		name string
		want float64
	}{{ScenarioJobhooksAll, 0.60}, {ScenarioJobhooksFailures, 0.85}, {ScenarioRouterWorker, 0.90}} {
		if s := r.scenario(t.name); s != nil && relay != nil {
			v := ratio(s.Median.ChangesPerS, relay.Median.ChangesPerS)
			ts = append(ts, Target{Name: s.Title + ": changes/s vs the relay's",
				Want: fmt.Sprintf("≥ %.2f×", t.want), Value: v, Shown: fmt.Sprintf("%.2f×", v), Pass: v >= t.want,
				Source: "ratio of the median changes/s"})
		}
	}
	if many := r.scenario(ScenarioManyHooks); many != nil && worker != nil {
		v := ratio(many.Median.ChangesPerS, worker.Median.ChangesPerS)
		ts = append(ts, Target{Name: fmt.Sprintf("%s hooks: changes/s vs router + bare worker", thousands(r.Config.HooksMany)),
			Want: "≥ 0.95×", Value: v, Shown: fmt.Sprintf("%.2f×", v), Pass: v >= 0.95,
			Source: "ratio of the median changes/s"})
	}
	if fan := r.scenario(ScenarioFanOut); fan != nil && relay != nil {
		v := ratio(fan.Median.JobMsgsPerS, relay.Median.JobMsgsPerS)
		ts = append(ts, Target{Name: fmt.Sprintf("fan-out %d: job msgs/s vs the relay's", fan.FanOut),
			Want: "≥ 0.80×", Value: v, Shown: fmt.Sprintf("%.2f×", v), Pass: v >= 0.80,
			Source: "ratio of the median job msgs/s"})
	}
	for _, name := range []string{ScenarioJobhooksAll, ScenarioJobhooksFailures} {
		if s := r.scenario(name); s != nil && relay != nil && len(s.Latency) > 0 {
			v := ratio(s.Median.P99Ms, relay.Median.P99Ms)
			ts = append(ts, Target{Name: s.Title + ": p99 latency vs the relay's",
				Want: "≤ 3×", Value: v, Shown: fmt.Sprintf("%.2f× (%.1f vs %.1f ms)", v, s.Median.P99Ms, relay.Median.P99Ms),
				Pass: v <= 3, Source: "ratio of the medians of the rounds' p99"})
		}
	}
	if st := r.Startup; st != nil && len(st.Rounds) > 0 {
		name := fmt.Sprintf("start-up, %s hooks: ", thousands(st.Hooks))
		v := st.Median.FirstRoutedS
		ts = append(ts, Target{Name: name + "first change routed", Want: "≤ 3 s", Value: v,
			Shown: fmt.Sprintf("%.2f s", v), Pass: v <= 3, Source: "median time from the process's start to the first change's job"})
		if st.Median.VmHWMBytes > 0 {
			mb := float64(st.Median.VmHWMBytes) / (1 << 20)
			ts = append(ts, Target{Name: name + "RSS (peak, VmHWM)", Want: "< 300 MB", Value: mb,
				Shown: fmt.Sprintf("%.0f MB", mb), Pass: mb < 300, Source: "median VmHWM once routing began"})
		}
	}
	return ts
}

// WriteTable writes the report as tables for people.
func (r *Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "jobhooks benchmark: %d round(s), interleaved; %s changes per throughput run, %s per latency run at %s changes/s (%s); change body %s bytes; %s, %d CPUs\n\n",
		r.Config.Rounds, thousands(r.Config.Changes), thousands(r.Config.LatencyChanges), thousands(int(r.LatencyRate+0.5)),
		r.LatencyRateSource, thousands(r.BodyBytes), r.Config.GoVersion, r.Config.CPUs)
	if len(r.Scenarios) > 0 {
		// Right-aligned numbers; the titles are padded to be left-aligned.
		width := len("scenario")
		for _, s := range r.Scenarios {
			width = max(width, len(s.Title))
		}
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "%-*s\tchanges/s\tjob msgs/s\t× relay\tp50 ms\tp99 ms\tmax ms\tdups\tmissing\t\n", width, "scenario")
		for _, s := range r.Scenarios {
			x := "-"
			if s.Median.XRelay > 0 {
				x = fmt.Sprintf("%.2f", s.Median.XRelay)
			}
			fmt.Fprintf(tw, "%-*s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t0\t\n", width, s.Title,
				thousands(int(s.Median.ChangesPerS+0.5)), thousands(int(s.Median.JobMsgsPerS+0.5)), x,
				latency(s, s.Median.P50Ms), latency(s, s.Median.P99Ms), latency(s, s.Median.MaxMs), s.Median.Duplicates)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		b.WriteString("\nMedians over the rounds. × relay is the ratio of the median job msgs/s to the relay's (a ratio of medians).\n")
		b.WriteString("Latency: from a change's intended send time (open loop) to its job's start, per job message; each column is the median of the rounds' percentile.\n")
		if fan := r.scenario(ScenarioFanOut); fan != nil && len(fan.Latency) > 0 {
			fmt.Fprintf(&b, "The fan-out latency runs offer %s changes/s (%s job msgs/s), so that they offer the job messages/s of the others.\n",
				thousands(int(fan.Latency[0].Rate+0.5)), thousands(int(fan.Latency[0].Rate*float64(fan.FanOut)+0.5)))
		}
		b.WriteString("Duplicates: job messages that started more than once, over every round; a missing job fails the run.\n")
	}
	if st := r.Startup; st != nil && len(st.Rounds) > 0 {
		m := st.Median
		fmt.Fprintf(&b, "\nstart-up, %s hooks in job_hooks (written in %.2f s): first change routed after %.2f s, /readyz 200 after %.2f s; ",
			thousands(st.Hooks), m.HooksWriteS, m.FirstRoutedS, m.ReadyS)
		if m.VmHWMBytes > 0 {
			fmt.Fprintf(&b, "router process VmHWM %.0f MB, VmRSS %.0f MB (medians)\n", float64(m.VmHWMBytes)/(1<<20), float64(m.VmRSSBytes)/(1<<20))
		} else {
			fmt.Fprintf(&b, "memory unknown (%s)\n", st.Rounds[0].MemError)
		}
	}
	if len(r.Targets) > 0 {
		b.WriteString("\ntargets (issue 8):\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, t := range r.Targets {
			verdict := "MISS"
			if t.Pass {
				verdict = "PASS"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", t.Name, t.Want, t.Shown, verdict)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintf(&b, "\ntook %s\n", time.Duration(r.DurationS*float64(time.Second)).Round(time.Second))
	_, err := io.WriteString(w, b.String())
	return err
}

func latency(s *ScenarioReport, v float64) string {
	if len(s.Latency) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", v)
}

// WriteJSON writes the report to path.
func (r *Report) WriteJSON(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode the report: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	return nil
}

// thousands formats n with thousands separators: 12,345.
func thousands(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
