package router

import (
	"context"
	"log/slog"
	"maps"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jobhooks/jobhooks/hookconfig"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
)

// jobStates follows the jobs bucket: which jobs are registered and enabled.
// Like the hook watcher, it loads the whole bucket before it is ready
// (jetstream.Follow) and then applies changes live, publishing each new
// immutable map through an atomic pointer.
type jobStates struct {
	enabled atomic.Pointer[map[string]bool] // registered jobs → enabled
	follow  *jhjs.Follower
}

func watchJobs(ctx context.Context, kv jetstream.KeyValue, log *slog.Logger) (*jobStates, error) {
	s := &jobStates{}
	s.enabled.Store(&map[string]bool{})
	log = log.With("bucket", kv.Bucket())
	f, err := jhjs.Follow(ctx, kv, jetstream.AllKeys, func(batch []jetstream.KeyValueEntry, _ bool) {
		jobs := maps.Clone(*s.enabled.Load()) // readers hold the published map
		for _, e := range batch {
			switch e.Operation() {
			case jetstream.KeyValueDelete, jetstream.KeyValuePurge:
				delete(jobs, e.Key())
			default:
				job, err := hookconfig.DecodeJobEntry(e.Key(), e.Value())
				if err != nil {
					log.Error("invalid job registration ignored; its hooks route nothing", "key", e.Key(), "revision", e.Revision(), "error", err)
					delete(jobs, e.Key())
					continue
				}
				jobs[job.Name] = job.Enabled
			}
		}
		s.enabled.Store(&jobs)
	})
	if err != nil {
		return nil, err
	}
	s.follow = f
	return s, nil
}

// state says whether job is registered, and enabled.
func (s *jobStates) state(job string) (registered, enabled bool) {
	enabled, registered = (*s.enabled.Load())[job]
	return registered, enabled
}
