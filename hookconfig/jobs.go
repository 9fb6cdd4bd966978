package hookconfig

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jobhooks/jobhooks/events"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
)

// Job is a job's registration in the jobs bucket, written by its receivers
// when they start. Hooks may only be enabled for registered, enabled jobs.
type Job struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Enabled     bool   `json:"enabled"`
	// ApprovalRequired is recorded but ignored: job hooks bypass approval,
	// as in Nautobot.
	ApprovalRequired bool `json:"approval_required"`
	// ParamsSchema is the JSON Schema of the params of hooks that run the
	// job; validated hook writes check params against it. Absent: any.
	ParamsSchema json.RawMessage `json:"params_schema,omitempty"`
	RegisteredAt time.Time       `json:"registered_at"`
}

// DecodeJob decodes a jobs bucket value. Unlike hooks, unknown fields are
// allowed: receivers of a newer version may add some, and older routers
// must still read their registration.
func DecodeJob(data []byte) (*Job, error) {
	var j Job
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidJob, err)
	}
	if err := events.ValidateJobName(j.Name); err != nil {
		return nil, fmt.Errorf("%w: name: %w", ErrInvalidJob, err)
	}
	return &j, nil
}

// Jobs is the job registry: the jobs bucket, one key per job name.
type Jobs struct {
	kv jetstream.KeyValue
}

// NewJobs returns the registry stored in kv, the jobs bucket.
func NewJobs(kv jetstream.KeyValue) *Jobs { return &Jobs{kv: kv} }

// Get returns the registration of the job name and its revision. A job that
// was never registered, or was deleted, gives ErrJobNotFound; a stored value
// that is not a valid registration gives ErrInvalidJob and its revision.
func (j *Jobs) Get(ctx context.Context, name string) (*Job, uint64, error) {
	if err := events.ValidateJobName(name); err != nil {
		return nil, 0, err
	}
	entry, err := j.kv.Get(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, newError(fmt.Sprintf("job %q is not registered", name), ErrJobNotFound, err)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("get job %q: %w", name, err)
	}
	job, err := DecodeJobEntry(entry.Key(), entry.Value())
	if err != nil {
		return nil, entry.Revision(), fmt.Errorf("job %q: %w", name, err)
	}
	return job, entry.Revision(), nil
}

// List returns every registered job, sorted by name. Values that are not
// valid registrations are left out and reported together in the error
// (wrapping ErrInvalidJob), so callers can still show the valid ones.
func (j *Jobs) List(ctx context.Context) ([]*Job, error) {
	entries, err := jhjs.LatestEntries(ctx, j.kv, jetstream.AllKeys)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	jobs := make([]*Job, 0, len(entries))
	var invalid []error
	for _, e := range entries {
		job, err := DecodeJobEntry(e.Key(), e.Value())
		if err != nil {
			invalid = append(invalid, fmt.Errorf("job %q (revision %d): %w", e.Key(), e.Revision(), err))
			continue
		}
		jobs = append(jobs, job)
	}
	return jobs, errors.Join(invalid...)
}

// Put writes the job's registration under its name and returns the new
// revision.
func (j *Jobs) Put(ctx context.Context, job *Job) (uint64, error) {
	if err := events.ValidateJobName(job.Name); err != nil {
		return 0, fmt.Errorf("%w: name: %w", ErrInvalidJob, err)
	}
	data, err := json.Marshal(job)
	if err != nil {
		return 0, fmt.Errorf("encode job %q: %w", job.Name, err)
	}
	rev, err := j.kv.Put(ctx, job.Name, data)
	if err != nil {
		return 0, fmt.Errorf("put job %q: %w", job.Name, err)
	}
	return rev, nil
}

// maxJobUpdateAttempts bounds Update's compare-and-set retries.
const maxJobUpdateAttempts = 10

// Update rewrites job name's registration with what fn makes of the
// current one (nil when the job is not registered, or its value is
// invalid), compare-and-set: when someone else writes in between, fn runs
// again on the newer value, so a receiver registering cannot undo an
// operator's enable and an operator's enable cannot lose a registration.
// fn returning an error stops Update with that error. It returns the job
// written and its revision.
func (j *Jobs) Update(ctx context.Context, name string, fn func(current *Job) (*Job, error)) (*Job, uint64, error) {
	if err := events.ValidateJobName(name); err != nil {
		return nil, 0, err
	}
	for range maxJobUpdateAttempts {
		var current *Job
		var rev uint64
		entry, err := j.kv.Get(ctx, name)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return nil, 0, fmt.Errorf("get job %q: %w", name, err)
		default:
			rev = entry.Revision()
			current, _ = DecodeJobEntry(entry.Key(), entry.Value()) // invalid: as if absent
		}
		job, err := fn(current)
		if err != nil {
			return nil, 0, err
		}
		if job.Name != name {
			return nil, 0, fmt.Errorf("%w: update of job %q names another job, %q", ErrInvalidJob, name, job.Name)
		}
		data, err := json.Marshal(job)
		if err != nil {
			return nil, 0, fmt.Errorf("encode job %q: %w", name, err)
		}
		if rev == 0 {
			rev, err = j.kv.Create(ctx, name, data)
		} else {
			rev, err = j.kv.Update(ctx, name, data, rev)
		}
		switch {
		case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch):
			continue // written in between: read again
		case err != nil:
			return nil, 0, fmt.Errorf("write job %q: %w", name, err)
		}
		return job, rev, nil
	}
	return nil, 0, fmt.Errorf("update job %q: it kept changing under %d attempts", name, maxJobUpdateAttempts)
}

// DecodeJobEntry decodes the jobs bucket value stored under key: a valid
// registration whose name is its key.
func DecodeJobEntry(key string, value []byte) (*Job, error) {
	job, err := DecodeJob(value)
	if err != nil {
		return nil, err
	}
	if job.Name != key {
		return nil, fmt.Errorf("%w: name %q does not match its key %q", ErrInvalidJob, job.Name, key)
	}
	return job, nil
}
