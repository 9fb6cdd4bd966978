package jetstream

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Config holds the provisioning settings the operator may change.
type Config struct {
	ChangesMaxAge    time.Duration // CHANGES keeps changes this long
	JobsMaxAge       time.Duration // JOBS keeps job messages this long
	DeadLetterMaxAge time.Duration // DEADLETTER keeps dead letters this long
	ResultsMaxAge    time.Duration // TTL of job_results entries
	Replicas         int           // replicas of every stream and bucket
	// PlacementCluster and PlacementTags, when set, pin every stream and
	// bucket to the servers of that cluster carrying all those tags; unset,
	// the server places them and keeps what an operator set.
	PlacementCluster string
	PlacementTags    []string
}

// DefaultConfig returns the contract's defaults: 7 days for CHANGES and
// JOBS, 30 days for DEADLETTER and job results, one replica.
func DefaultConfig() Config {
	const day = 24 * time.Hour
	return Config{
		ChangesMaxAge:    7 * day,
		JobsMaxAge:       7 * day,
		DeadLetterMaxAge: 30 * day,
		ResultsMaxAge:    30 * day,
		Replicas:         1,
	}
}

// RegisterFlags registers --changes-max-age, --jobs-max-age,
// --deadletter-max-age, --results-max-age, --replicas, --placement-cluster
// and --placement-tags on fs, defaulting to c's current values. Ages accept
// Go durations and days ("7d", "1d12h"); tags are comma-separated.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.Var((*days)(&c.ChangesMaxAge), "changes-max-age", "how long the "+StreamChanges+" stream keeps changes")
	fs.Var((*days)(&c.JobsMaxAge), "jobs-max-age", "how long the "+StreamJobs+" stream keeps job messages")
	fs.Var((*days)(&c.DeadLetterMaxAge), "deadletter-max-age", "how long the "+StreamDeadLetter+" stream keeps dead letters")
	fs.Var((*days)(&c.ResultsMaxAge), "results-max-age", "how long the "+BucketJobResults+" bucket keeps job results")
	fs.IntVar(&c.Replicas, "replicas", c.Replicas, "replicas of every stream and bucket (1 to 5; 3 on a cluster), applied to existing ones too")
	fs.StringVar(&c.PlacementCluster, "placement-cluster", c.PlacementCluster, "place every stream and bucket in this JetStream cluster (default: the server's choice)")
	fs.Var((*tagList)(&c.PlacementTags), "placement-tags", "place every stream and bucket on servers with all these server tags, comma-separated (e.g. ssd,az:1)")
}

// Validate checks that every age is positive, replicas is 1 to 5 and no
// placement tag is empty.
func (c Config) Validate() error {
	var errs []error
	for _, a := range []struct {
		flag string
		age  time.Duration
	}{
		{"--changes-max-age", c.ChangesMaxAge},
		{"--jobs-max-age", c.JobsMaxAge},
		{"--deadletter-max-age", c.DeadLetterMaxAge},
		{"--results-max-age", c.ResultsMaxAge},
	} {
		if a.age <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %s", a.flag, formatDays(a.age)))
		}
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("--replicas must be 1 to 5, got %d", c.Replicas))
	}
	if strings.TrimSpace(c.PlacementCluster) != c.PlacementCluster || strings.ContainsAny(c.PlacementCluster, " \t\r\n") {
		errs = append(errs, fmt.Errorf("--placement-cluster must be a cluster name without spaces, got %q", c.PlacementCluster))
	}
	for _, tag := range c.PlacementTags {
		if strings.TrimSpace(tag) == "" {
			errs = append(errs, fmt.Errorf("--placement-tags must not contain an empty tag, got %q", strings.Join(c.PlacementTags, ",")))
			break
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

// days is a time.Duration flag that also takes days: "7d", "1d12h".
type days time.Duration

func (d *days) String() string {
	if d == nil {
		return ""
	}
	return formatDays(time.Duration(*d))
}

func (d *days) Set(s string) error {
	v, err := parseDays(s)
	if err != nil {
		return err
	}
	*d = days(v)
	return nil
}

// parseDays parses a Go duration with an optional leading whole number of
// days.
func parseDays(s string) (time.Duration, error) {
	var total time.Duration
	rest := s
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 {
			return 0, fmt.Errorf("invalid duration %q: want e.g. 7d, 36h or 1d12h", s)
		}
		total = time.Duration(n) * 24 * time.Hour
		rest = s[i+1:]
	}
	if rest == "" {
		return total, nil
	}
	v, err := time.ParseDuration(rest)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: want e.g. 7d, 36h or 1d12h", s)
	}
	return total + v, nil
}

// formatDays prints whole days as "7d", anything else as Go does.
func formatDays(d time.Duration) string {
	const day = 24 * time.Hour
	if d > 0 && d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	return d.String()
}
