package receiver

import (
	"context"
	"encoding/json"
	"slices"
	"sync"

	"github.com/jobhooks/jobhooks/events"
)

// JobInfo describes a job when it is registered in the jobs bucket.
type JobInfo struct {
	// Description is shown by `receiver jobs list`.
	Description string
	// ApprovalRequired is recorded but ignored, with a warning: job hooks
	// bypass approval, as in Nautobot.
	ApprovalRequired bool
	// Enabled enables the job when it is first registered. Once the job is
	// in the jobs bucket, its enabled flag belongs to the operator and a
	// restart keeps it.
	Enabled bool
	// ParamsSchema is the JSON Schema (draft 2020-12 unless it says
	// otherwise) of the params of hooks that run the job. It is stored with
	// the job's registration, and validated hook writes (router hooks put)
	// refuse params it does not accept. Nil: any params.
	ParamsSchema json.RawMessage
	// CheckParams checks what a schema cannot say (a template that does not
	// parse, a regular expression RE2 refuses). It runs when an attempt
	// starts, before the receiver; an error fails the run at once, without
	// retries (ErrPermanent). Nil: no check.
	CheckParams func(params json.RawMessage) error
}

// Registry maps job names to receivers, as http.ServeMux maps patterns to
// handlers. The zero value is ready to use; it is safe for concurrent use.
type Registry struct {
	mu   sync.RWMutex
	jobs map[string]entry
}

type entry struct {
	info     JobInfo
	receiver Receiver
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry { return &Registry{} }

// Handle registers r as the receiver of job name. Like http.ServeMux, it
// panics on a programming error: an invalid job name (see
// events.ValidateJobName), a nil receiver or a name registered twice.
func (reg *Registry) Handle(name string, info JobInfo, r Receiver) {
	if err := events.ValidateJobName(name); err != nil {
		panic("receiver: " + err.Error())
	}
	if r == nil {
		panic("receiver: nil receiver for job " + name)
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if _, dup := reg.jobs[name]; dup {
		panic("receiver: multiple registrations for job " + name)
	}
	if reg.jobs == nil {
		reg.jobs = make(map[string]entry)
	}
	reg.jobs[name] = entry{info: info, receiver: r}
}

// HandleFunc registers f as the receiver of job name.
func (reg *Registry) HandleFunc(name string, info JobInfo, f func(ctx context.Context, job *Job, change *Change, action events.Action, object map[string]any) error) {
	if f == nil {
		panic("receiver: nil receiver for job " + name)
	}
	reg.Handle(name, info, ReceiverFunc(f))
}

// Names returns the registered job names, sorted.
func (reg *Registry) Names() []string {
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	names := make([]string, 0, len(reg.jobs))
	for name := range reg.jobs {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Lookup returns the receiver and info of job name.
func (reg *Registry) Lookup(name string) (Receiver, JobInfo, bool) {
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	e, ok := reg.jobs[name]
	return e.receiver, e.info, ok
}
