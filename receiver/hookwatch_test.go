package receiver_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/receiver"
)

// hookWatchJS records the watches of job_hooks, so a test can end them
// (as a closed connection or a deleted bucket would).
type hookWatchJS struct {
	jetstream.JetStream
	mu       sync.Mutex
	watchers []jetstream.KeyWatcher
}

type hookWatchKV struct {
	jetstream.KeyValue
	js *hookWatchJS
}

func (j *hookWatchJS) KeyValue(ctx context.Context, bucket string) (jetstream.KeyValue, error) {
	kv, err := j.JetStream.KeyValue(ctx, bucket)
	if err != nil || bucket != jhjs.BucketJobHooks {
		return kv, err
	}
	return &hookWatchKV{kv, j}, nil
}

func (k *hookWatchKV) Watch(ctx context.Context, keys string, opts ...jetstream.WatchOpt) (jetstream.KeyWatcher, error) {
	w, err := k.KeyValue.Watch(ctx, keys, opts...)
	if err == nil {
		k.js.mu.Lock()
		k.js.watchers = append(k.js.watchers, w)
		k.js.mu.Unlock()
	}
	return w, err
}

// TestRunFailsWhenTheHookWatchEnds: a receiver whose hook table stops
// following job_hooks (params and the ownership check would go stale)
// stops with an error, for its supervisor to restart it.
func TestRunFailsWhenTheHookWatchEnds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reg := receiver.NewRegistry()
	reg.HandleFunc("audit", receiver.JobInfo{},
		func(context.Context, *receiver.Job, *receiver.Change, events.Action, map[string]any) error {
			return nil
		})
	js := &hookWatchJS{JetStream: e.JS}
	r := e.startOn(js, reg, testOptions(t))
	js.mu.Lock()
	require.NotEmpty(t, js.watchers, "the receiver watches job_hooks")
	for _, w := range js.watchers {
		require.NoError(t, w.Stop())
	}
	js.mu.Unlock()
	select {
	case <-r.done:
		require.ErrorContains(t, r.err, "the job_hooks watch ended")
	case <-time.After(waitFor):
		t.Fatal("the receiver did not notice that its hook watch ended")
	}
}
