package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jobhooks/jobhooks/hookconfig"
)

// maxRegisterAttempts bounds registration's compare-and-set retries when
// other receivers keep writing the same key.
const maxRegisterAttempts = 10

// register writes job name's registration in the jobs bucket. A new job is
// enabled when info or enableNew says so; an existing one keeps its enabled
// flag (the operator's), with description, approval flag and registration
// time updated. Writes are compare-and-set, so receivers starting together
// cannot undo an operator's enable or disable.
func register(ctx context.Context, kv jetstream.KeyValue, name string, info JobInfo, enableNew bool, logger *slog.Logger) (*hookconfig.Job, error) {
	if info.ApprovalRequired {
		logger.Warn("approval_required is ignored for job hook receivers, as in Nautobot: hooks run the job without approval", "job", name)
	}
	for range maxRegisterAttempts {
		job := &hookconfig.Job{
			Name:             name,
			Description:      info.Description,
			Enabled:          info.Enabled || enableNew,
			ApprovalRequired: info.ApprovalRequired,
			RegisteredAt:     time.Now().UTC(),
		}
		entry, err := kv.Get(ctx, name)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			data, err := json.Marshal(job)
			if err != nil {
				return nil, fmt.Errorf("encode job %q: %w", name, err)
			}
			if _, err = kv.Create(ctx, name, data); errors.Is(err, jetstream.ErrKeyExists) {
				continue // another receiver registered it first
			} else if err != nil {
				return nil, fmt.Errorf("register job %q: %w", name, err)
			}
			logger.Info("registered new job", "job", name, "enabled", job.Enabled)
			return job, nil
		case err != nil:
			return nil, fmt.Errorf("register job %q: %w", name, err)
		}
		if old, err := hookconfig.DecodeJob(entry.Value()); err != nil {
			logger.Warn("replacing invalid job registration", "job", name, "error", err)
		} else {
			job.Enabled = old.Enabled
		}
		data, err := json.Marshal(job)
		if err != nil {
			return nil, fmt.Errorf("encode job %q: %w", name, err)
		}
		if _, err = kv.Update(ctx, name, data, entry.Revision()); errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("register job %q: %w", name, err)
		}
		logger.Info("registered job", "job", name, "enabled", job.Enabled)
		return job, nil
	}
	return nil, fmt.Errorf("register job %q: the registration kept changing under %d attempts", name, maxRegisterAttempts)
}
