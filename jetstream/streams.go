package jetstream

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// duplicateWindow is the streams' de-duplication window (Nats-Msg-Id), the
// server's default; the docs caution against larger ones.
const duplicateWindow = 2 * time.Minute

// StreamConfigs returns the contract's streams: CHANGES, JOBS and
// DEADLETTER, file storage, limits retention.
func StreamConfigs(c Config) []jetstream.StreamConfig {
	stream := func(name, subject string, maxAge time.Duration, desc string) jetstream.StreamConfig {
		return jetstream.StreamConfig{
			Name:        name,
			Description: desc,
			Subjects:    []string{subject},
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      maxAge,
			// The server refuses a window longer than the max age.
			Duplicates: min(duplicateWindow, maxAge),
			Replicas:   c.Replicas,
			Placement:  c.Placement(),
		}
	}
	return []jetstream.StreamConfig{
		stream(StreamChanges, "changes.>", c.ChangesMaxAge,
			"jobhooks: every object change, on changes.<app_label>.<model>.<action>"),
		stream(StreamJobs, "jobs.>", c.JobsMaxAge,
			"jobhooks: one message per change and matching hook, on jobs.<job>"),
		stream(StreamDeadLetter, "deadletter.>", c.DeadLetterMaxAge,
			"jobhooks: invalid changes (deadletter.changes) and jobs that exhausted their retries (deadletter.jobs.<job>)"),
	}
}

// EnsureStream creates the stream want describes, or brings an existing one
// in line with it. Only the fields jobhooks manages are compared (subjects,
// storage, retention, max age, duplicate window, replicas, placement when
// want has one, description); when they match nothing is sent. Otherwise
// the existing configuration is updated with ours, keeping the operator's
// other settings and any extra subjects. The server applies a new replica
// count or placement in place, keeping the messages; replicas it cannot
// place are an ErrPlacement. Storage and retention cannot change in place:
// ErrStreamConflict.
func EnsureStream(ctx context.Context, js jetstream.JetStream, want jetstream.StreamConfig, opts ...EnsureOpt) (jetstream.Stream, error) {
	o := collect(opts)
	if want.Replicas == 0 {
		want.Replicas = 1
	}
	// Twice: another process may create the stream between our look-up and
	// our create.
	for attempt := 0; ; attempt++ {
		stream, err := js.Stream(ctx, want.Name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			stream, err = js.CreateStream(ctx, want)
			if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) && attempt == 0 {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("create stream %s: %w%s", want.Name, placementError(err, want.Replicas, want.Placement), overlapHint(err))
			}
			o.report(ProvisionResult{Kind: KindStream, Name: want.Name, Action: ActionCreated})
			return stream, nil
		}
		if err != nil {
			return nil, fmt.Errorf("look up stream %s: %w", want.Name, err)
		}
		have := stream.CachedInfo().Config
		if err := streamConflict(have, want); err != nil {
			return nil, err
		}
		changes := streamChanges(have, want)
		if len(changes) == 0 {
			o.report(ProvisionResult{Kind: KindStream, Name: want.Name, Action: ActionUnchanged})
			return stream, nil
		}
		upd := have
		upd.Subjects = union(have.Subjects, want.Subjects)
		upd.Storage = want.Storage
		upd.Retention = want.Retention
		upd.MaxAge = want.MaxAge
		upd.Duplicates = want.Duplicates
		upd.Replicas = want.Replicas
		if want.Placement != nil {
			upd.Placement = want.Placement
		}
		upd.Description = want.Description
		stream, err = js.UpdateStream(ctx, upd)
		if err != nil {
			return nil, fmt.Errorf("update stream %s (%s): %w%s", want.Name, strings.Join(changes, "; "), placementError(err, want.Replicas, want.Placement), overlapHint(err))
		}
		o.report(ProvisionResult{Kind: KindStream, Name: want.Name, Action: ActionUpdated, Changes: changes})
		return stream, nil
	}
}

// streamConflict reports managed differences the server cannot apply.
func streamConflict(have, want jetstream.StreamConfig) error {
	var what []string
	if have.Storage != want.Storage {
		what = append(what, fmt.Sprintf("%s storage, jobhooks needs %s", lower(have.Storage), lower(want.Storage)))
	}
	if have.Retention != want.Retention {
		what = append(what, fmt.Sprintf("%s retention, jobhooks needs %s", lower(have.Retention), lower(want.Retention)))
	}
	if len(what) == 0 {
		return nil
	}
	return fmt.Errorf("%w: stream %s exists with %s; %s cannot change in place — back it up (nats stream backup %s DIR) and recreate it, or point jobhooks at another account",
		ErrStreamConflict, want.Name, strings.Join(what, " and "), conflictFields(have.Storage != want.Storage, have.Retention != want.Retention), want.Name)
}

func conflictFields(storage, retention bool) string {
	switch {
	case storage && retention:
		return "storage and retention"
	case storage:
		return "storage"
	default:
		return "retention"
	}
}

// streamChanges lists the managed fields of have that differ from want.
// Subjects only need to include ours: extra ones are the operator's.
func streamChanges(have, want jetstream.StreamConfig) []string {
	var changes []string
	if missing := without(want.Subjects, have.Subjects); len(missing) > 0 {
		changes = append(changes, fmt.Sprintf("subjects: add %s", strings.Join(missing, ", ")))
	}
	if have.MaxAge != want.MaxAge {
		changes = append(changes, fmt.Sprintf("max age: %s -> %s", formatDays(have.MaxAge), formatDays(want.MaxAge)))
	}
	if have.Duplicates != want.Duplicates {
		changes = append(changes, fmt.Sprintf("duplicate window: %s -> %s", have.Duplicates, want.Duplicates))
	}
	if have.Replicas != want.Replicas {
		changes = append(changes, fmt.Sprintf("replicas: %d -> %d", have.Replicas, want.Replicas))
	}
	if c := placementChange(have.Placement, want.Placement); c != "" {
		changes = append(changes, c)
	}
	if have.Description != want.Description {
		changes = append(changes, fmt.Sprintf("description: %q -> %q", have.Description, want.Description))
	}
	return changes
}

// errCodeOverlap is the server's "subjects overlap with an existing stream".
const errCodeOverlap = 10065

// overlapHint explains the server's subject-overlap error, which names
// neither stream.
func overlapHint(err error) string {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeOverlap {
		return " (another stream already stores these subjects: find it with `nats stream ls -a` and remove its subjects or the stream)"
	}
	return ""
}

// union returns a followed by the elements of b it lacks.
func union(a, b []string) []string {
	return append(slices.Clone(a), without(b, a)...)
}

// without returns the elements of a that are not in b.
func without(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

func lower(s fmt.Stringer) string { return strings.ToLower(s.String()) }
