package receiver

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jobhooks/jobhooks/hookconfig"
)

// register writes job name's registration in the jobs bucket. A new job is
// enabled when info or enableNew says so; an existing one keeps its enabled
// flag (the operator's), with description, approval flag and registration
// time updated. The write is compare-and-set (hookconfig.Jobs.Update), so
// receivers starting together cannot undo an operator's enable or disable.
func register(ctx context.Context, jobs *hookconfig.Jobs, name string, info JobInfo, enableNew bool, logger *slog.Logger) (*hookconfig.Job, error) {
	if info.ApprovalRequired {
		logger.Warn("approval_required is ignored for job hook receivers, as in Nautobot: hooks run the job without approval", "job", name)
	}
	isNew := false
	job, _, err := jobs.Update(ctx, name, func(current *hookconfig.Job) (*hookconfig.Job, error) {
		isNew = current == nil
		job := &hookconfig.Job{
			Name:             name,
			Description:      info.Description,
			Enabled:          info.Enabled || enableNew,
			ApprovalRequired: info.ApprovalRequired,
			ParamsSchema:     info.ParamsSchema,
			RegisteredAt:     time.Now().UTC(),
		}
		if current != nil {
			job.Enabled = current.Enabled
		}
		return job, nil
	})
	if err != nil {
		return nil, fmt.Errorf("register job %q: %w", name, err)
	}
	if isNew {
		logger.Info("registered new job", "job", name, "enabled", job.Enabled)
	} else {
		logger.Info("registered job", "job", name, "enabled", job.Enabled)
	}
	return job, nil
}
