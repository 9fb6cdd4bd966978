package hookconfig

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jobhooks/jobhooks/events"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
)

// maxModifyAttempts bounds Modify's read-modify-write retries when other
// writers keep winning.
const maxModifyAttempts = 10

// Store is the hook configuration in the job_hooks bucket, with the
// validated writes of the CLI and API.
//
// Writes are compare-and-set on the hook's revision, so two operators
// editing one hook cannot lose an update. The conflict check across
// different hooks (same job, shared content type and event) is not atomic:
// two concurrent writes of conflicting hooks can both pass it. Nautobot has
// the same limit (its check is in the form and serializer, with no database
// constraint); the router runs both hooks, as Nautobot would.
type Store struct {
	hooks   jetstream.KeyValue
	jobs    *Jobs
	schemas schemaCache
}

// Entry is one key of the job_hooks bucket as List sees it: a valid Hook,
// or Err saying why the stored value is not one.
type Entry struct {
	Name     string
	Hook     *Hook
	Revision uint64
	Err      error
}

// NewStore returns the store over hooks, the job_hooks bucket, checking
// jobs against the registry jobs (which must not be nil).
func NewStore(hooks jetstream.KeyValue, jobs *Jobs) *Store {
	return &Store{hooks: hooks, jobs: jobs}
}

// Get returns the hook name and its revision. A missing or deleted hook
// gives ErrNotFound; a stored value that is not a valid hook gives
// ErrInvalidHook with the reason, and the revision of that value.
func (s *Store) Get(ctx context.Context, name string) (*Hook, uint64, error) {
	if err := events.ValidateHookName(name); err != nil {
		return nil, 0, err
	}
	entry, err := s.hooks.Get(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, notFound(name, err)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("get hook %q: %w", name, err)
	}
	h, err := decodeEntry(entry.Key(), entry.Value())
	return h, entry.Revision(), err
}

// List returns every hook of the bucket, sorted by name. A value that is
// not a valid hook is listed with Err set; it never fails the list.
func (s *Store) List(ctx context.Context) ([]Entry, error) {
	entries, err := jhjs.LatestEntries(ctx, s.hooks, jetstream.AllKeys)
	if err != nil {
		return nil, fmt.Errorf("list hooks: %w", err)
	}
	list := make([]Entry, len(entries))
	for i, e := range entries {
		h, err := decodeEntry(e.Key(), e.Value())
		list[i] = Entry{Name: e.Key(), Hook: h, Revision: e.Revision(), Err: err}
	}
	return list, nil
}

// Put validates h and writes it, returning the new revision. expected is
// the revision the caller read: 0 creates the hook, which must not exist
// yet (ErrExists); otherwise the write happens only if the hook is still at
// revision expected (ErrRevisionMismatch if someone else wrote since).
//
// Validation follows Nautobot: the hook on its own (Validate); if it is
// enabled, its job must be registered and enabled (ErrJobNotEnabled); and
// no other hook may run the same job for a shared content type and event
// (ErrConflict; a pattern shares every content type it selects), disabled
// hooks included. Other hooks whose stored values
// are invalid are left out of the conflict check.
//
// Params equal to Redacted at a secret key (what `hooks get` shows) are
// replaced by the stored hook's value at that path, in h too. If the hook
// is enabled and its job registered a params schema, params (absent: {})
// must satisfy it (ErrInvalidHook naming each problem's path).
func (s *Store) Put(ctx context.Context, h *Hook, expected uint64) (uint64, error) {
	if h == nil {
		return 0, fmt.Errorf("%w: no hook", ErrInvalidHook)
	}
	if err := h.Validate(); err != nil {
		return 0, err
	}
	if err := s.restoreSecrets(ctx, h); err != nil {
		return 0, err
	}
	job, err := s.checkJob(ctx, h)
	if err != nil {
		return 0, err
	}
	if err := s.checkParams(h, job); err != nil {
		return 0, err
	}
	if err := s.checkConflicts(ctx, h); err != nil {
		return 0, err
	}

	data, err := json.Marshal(h)
	if err != nil {
		return 0, fmt.Errorf("encode hook %q: %w", h.Name, err)
	}
	if expected == 0 {
		rev, err := s.hooks.Create(ctx, h.Name, data)
		if errors.Is(err, jetstream.ErrKeyExists) {
			return 0, newError(fmt.Sprintf("hook %q already exists (to change it, update it at its current revision)", h.Name), ErrExists, err)
		}
		if err != nil {
			return 0, fmt.Errorf("create hook %q: %w", h.Name, err)
		}
		return rev, nil
	}
	rev, err := s.hooks.Update(ctx, h.Name, data, expected)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return 0, s.mismatch(ctx, h.Name, expected, err)
	}
	if err != nil {
		return 0, fmt.Errorf("update hook %q: %w", h.Name, err)
	}
	return rev, nil
}

// checkJob is Nautobot 2.2.6's rule: an enabled hook needs an installed,
// enabled job. Here "installed" means a receiver registered it. It returns
// the job's registration, nil when a disabled hook's job has none (valid).
func (s *Store) checkJob(ctx context.Context, h *Hook) (*Job, error) {
	job, _, err := s.jobs.Get(ctx, h.Job)
	switch {
	case !h.Enabled && (errors.Is(err, ErrJobNotFound) || errors.Is(err, ErrInvalidJob)):
		return nil, nil
	case errors.Is(err, ErrJobNotFound):
		return nil, newError(fmt.Sprintf("hook %q: job %q is not registered (start its receiver first)", h.Name, h.Job), ErrJobNotEnabled, err)
	case errors.Is(err, ErrInvalidJob):
		return nil, newError(fmt.Sprintf("hook %q: %v", h.Name, err), ErrJobNotEnabled, err)
	case err != nil:
		return nil, fmt.Errorf("hook %q: look up job %q: %w", h.Name, h.Job, err)
	case !job.Enabled && h.Enabled:
		return nil, newError(fmt.Sprintf("hook %q: job %q is registered but disabled (receiver jobs enable %s)", h.Name, h.Job, h.Job), ErrJobNotEnabled)
	}
	return job, nil
}

// checkParams validates an enabled hook's params against the params
// schema its job registered, if any. Disabled hooks are not checked, as
// for the job rule: disabling must work even after a job's schema changed
// under its hooks; enabling checks again.
func (s *Store) checkParams(h *Hook, job *Job) error {
	if !h.Enabled || job == nil || len(job.ParamsSchema) == 0 {
		return nil
	}
	sch, err := s.schemas.compile(job.ParamsSchema)
	if err != nil {
		return newError(fmt.Sprintf("hook %q: job %q registered a params schema that does not compile (fix its receiver): %v", h.Name, h.Job, err), ErrInvalidJob, err)
	}
	params := h.Params
	if len(params) == 0 {
		params = json.RawMessage(`{}`)
	}
	if err := ValidateAgainst(sch, "params", params); err != nil {
		return fmt.Errorf("%w %q: %w", ErrInvalidHook, h.Name, err)
	}
	return nil
}

// restoreSecrets puts the stored secrets back where h's params have
// Redacted (see restoreRedacted).
func (s *Store) restoreSecrets(ctx context.Context, h *Hook) error {
	if !bytes.Contains(h.Params, []byte(Redacted)) {
		return nil
	}
	var stored json.RawMessage
	current, _, err := s.Get(ctx, h.Name)
	switch {
	case err == nil:
		stored = current.Params
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrInvalidHook):
	default:
		return fmt.Errorf("hook %q: read the stored params: %w", h.Name, err)
	}
	params, err := restoreRedacted(h.Params, stored)
	if err != nil {
		return fmt.Errorf("%w %q: %w", ErrInvalidHook, h.Name, err)
	}
	h.Params = params
	return nil
}

// checkConflicts is Nautobot's JobHook.check_for_conflicts: no other hook
// with the same job, a shared event and a shared content type, where a
// pattern shares every content type it selects (dcim.* overlaps
// dcim.device, dcim.* and *). The first conflict is reported in h's order
// of content types and events, then the other hooks' name order.
func (s *Store) checkConflicts(ctx context.Context, h *Hook) error {
	entries, err := jhjs.LatestEntries(ctx, s.hooks, jetstream.AllKeys)
	if err != nil {
		return fmt.Errorf("hook %q: check for conflicts: %w", h.Name, err)
	}
	var others []*Hook // sorted by name, as entries are
	for _, e := range entries {
		if e.Key() == h.Name {
			continue
		}
		other, err := decodeEntry(e.Key(), e.Value())
		if err != nil || other.Job != h.Job {
			continue
		}
		others = append(others, other)
	}
	for _, ct := range h.ContentTypes {
		for _, action := range h.Events {
			for _, other := range others {
				if !slices.Contains(other.Events, action) {
					continue
				}
				for _, oct := range other.ContentTypes {
					if !overlap(ct, oct) {
						continue
					}
					msg := fmt.Sprintf("hook %q: %v for %s on %s to job %s: %q", h.Name, ErrConflict, action, ct, h.Job, other.Name)
					if oct != ct {
						msg += fmt.Sprintf(" (its content type %s overlaps %s)", oct, ct)
					}
					return newError(msg, ErrConflict)
				}
			}
		}
	}
	return nil
}

// mismatch explains a failed compare-and-set on name at revision expected.
func (s *Store) mismatch(ctx context.Context, name string, expected uint64, cause error) error {
	_, current, err := s.Get(ctx, name)
	switch {
	case errors.Is(err, ErrNotFound):
		return newError(fmt.Sprintf("hook %q not found (expected revision %d): it was deleted, or never created", name, expected), ErrRevisionMismatch, ErrNotFound, cause)
	case current != 0:
		return newError(fmt.Sprintf("hook %q was changed by someone else since revision %d (now at revision %d): re-read it and retry", name, expected, current), ErrRevisionMismatch, cause)
	}
	return newError(fmt.Sprintf("hook %q was changed by someone else since revision %d: re-read it and retry", name, expected), ErrRevisionMismatch, cause)
}

// Modify reads the hook name, applies fn to it and writes the result with
// Put at the revision read. If someone else wrote in between, it reads
// again and retries, a bounded number of times. fn may be called more than
// once, each time with a freshly read hook, and must not change the name.
// It returns the hook written and its revision.
func (s *Store) Modify(ctx context.Context, name string, fn func(*Hook) error) (*Hook, uint64, error) {
	var lastErr error
	for attempt := range maxModifyAttempts {
		if attempt > 0 {
			if err := backoff(ctx, attempt); err != nil {
				return nil, 0, err
			}
		}
		h, rev, err := s.Get(ctx, name)
		if err != nil {
			return nil, 0, err
		}
		if err := fn(h); err != nil {
			return nil, 0, fmt.Errorf("modify hook %q: %w", name, err)
		}
		if h.Name != name {
			return nil, 0, fmt.Errorf("%w %q: modify: the name cannot change (to %q); put a new hook and delete this one", ErrInvalidHook, name, h.Name)
		}
		newRev, err := s.Put(ctx, h, rev)
		if errors.Is(err, ErrRevisionMismatch) && !errors.Is(err, ErrNotFound) {
			lastErr = err
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		return h, newRev, nil
	}
	return nil, 0, fmt.Errorf("modify hook %q: gave up after %d attempts: %w", name, maxModifyAttempts, lastErr)
}

// backoff waits a random time of up to 5ms·2^attempt (at most a second):
// writers that collided spread out instead of colliding again in lockstep.
func backoff(ctx context.Context, attempt int) error {
	t := time.NewTimer(rand.N(min(5*time.Millisecond<<attempt, time.Second)))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// Delete deletes the hook name. expected 0 deletes whatever revision is
// current; otherwise only revision expected is deleted (ErrRevisionMismatch
// if the hook changed since). A missing hook gives ErrNotFound. The delete
// is a delete marker, not a purge, so watchers see it.
func (s *Store) Delete(ctx context.Context, name string, expected uint64) error {
	if err := events.ValidateHookName(name); err != nil {
		return err
	}
	// The bucket accepts a delete marker on a missing key; the check makes
	// "delete a typo" an error.
	if _, err := s.hooks.Get(ctx, name); errors.Is(err, jetstream.ErrKeyNotFound) {
		return notFound(name, err)
	} else if err != nil {
		return fmt.Errorf("delete hook %q: %w", name, err)
	}
	var opts []jetstream.KVDeleteOpt
	if expected != 0 {
		opts = append(opts, jetstream.LastRevision(expected))
	}
	err := s.hooks.Delete(ctx, name, opts...)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return s.mismatch(ctx, name, expected, err)
	}
	if err != nil {
		return fmt.Errorf("delete hook %q: %w", name, err)
	}
	return nil
}

func notFound(name string, cause error) error {
	return newError(fmt.Sprintf("hook %q not found", name), ErrNotFound, cause)
}
