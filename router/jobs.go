package router

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jobhooks/jobhooks/hookconfig"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
)

// jobStates follows the jobs bucket: which jobs are registered and enabled.
// Like the hook watcher, it loads the whole bucket before it is ready and
// then applies changes live, swapping an immutable map.
type jobStates struct {
	enabled atomic.Pointer[map[string]bool] // registered jobs → enabled
	ready   chan struct{}
	done    chan struct{}
	err     error // why it stopped; set before done is closed
}

func watchJobs(ctx context.Context, kv jetstream.KeyValue, log *slog.Logger) (*jobStates, error) {
	kw, err := kv.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("watch bucket %q: %w", kv.Bucket(), err)
	}
	s := &jobStates{ready: make(chan struct{}), done: make(chan struct{})}
	s.enabled.Store(&map[string]bool{})
	go s.run(ctx, kw, log.With("bucket", kv.Bucket()))
	return s, nil
}

// state says whether job is registered, and enabled.
func (s *jobStates) state(job string) (registered, enabled bool) {
	enabled, registered = (*s.enabled.Load())[job]
	return registered, enabled
}

func (s *jobStates) run(ctx context.Context, kw jetstream.KeyWatcher, log *slog.Logger) {
	defer close(s.done)
	defer func() {
		_ = kw.Stop()
		for range kw.Updates() { // let nats.go's delivery goroutine finish
		}
	}()
	jobs := map[string]bool{}
	loading := true
	for {
		select {
		case <-ctx.Done():
			s.err = context.Cause(ctx)
			return
		case e, ok := <-kw.Updates():
			if !ok {
				s.err = jhjs.ErrWatchClosed
				return
			}
			if e == nil {
				loading = false
				s.enabled.Store(&jobs)
				close(s.ready)
				continue
			}
			if !loading {
				jobs = maps.Clone(jobs) // readers hold the published map
			}
			switch e.Operation() {
			case jetstream.KeyValueDelete, jetstream.KeyValuePurge:
				delete(jobs, e.Key())
			default:
				job, err := hookconfig.DecodeJobEntry(e.Key(), e.Value())
				if err != nil {
					log.Error("invalid job registration ignored; its hooks route nothing", "key", e.Key(), "revision", e.Revision(), "error", err)
					delete(jobs, e.Key())
					break
				}
				jobs[job.Name] = job.Enabled
			}
			if !loading {
				s.enabled.Store(&jobs)
			}
		}
	}
}
