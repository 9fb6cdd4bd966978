package bench

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/hookconfig"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
)

// putHooks stores hooks through hookconfig's validated store, as
// `router hooks put` does: their jobs must be registered and enabled.
func putHooks(ctx context.Context, js jetstream.JetStream, hooks ...*hookconfig.Hook) error {
	hooksKV, err := js.KeyValue(ctx, jhjs.BucketJobHooks)
	if err != nil {
		return fmt.Errorf("open KV bucket %s: %w", jhjs.BucketJobHooks, err)
	}
	jobsKV, err := js.KeyValue(ctx, jhjs.BucketJobs)
	if err != nil {
		return fmt.Errorf("open KV bucket %s: %w", jhjs.BucketJobs, err)
	}
	store := hookconfig.NewStore(hooksKV, hookconfig.NewJobs(jobsKV))
	for _, h := range hooks {
		if _, err := store.Put(ctx, h, 0); err != nil {
			return fmt.Errorf("put hook %s: %w", h.Name, err)
		}
	}
	return nil
}

// writeHooks stores many hooks fast: straight into the job_hooks bucket's
// stream (the subjects KV puts use), asynchronously, window at a time. The
// hooks are valid and free of conflicts by construction (manyHooks), so
// the store's per-hook checks are skipped.
func writeHooks(ctx context.Context, js jetstream.JetStream, hooks []*hookconfig.Hook, window int) error {
	msgs := make([]*nats.Msg, len(hooks))
	for i, h := range hooks {
		data, err := json.Marshal(h)
		if err != nil {
			return fmt.Errorf("encode hook %s: %w", h.Name, err)
		}
		msgs[i] = &nats.Msg{Subject: "$KV." + jhjs.BucketJobHooks + "." + h.Name, Data: data}
	}
	if err := publishAll(ctx, js, msgs, window, nil); err != nil {
		return fmt.Errorf("write %d hooks: %w", len(hooks), err)
	}
	return nil
}

// hook returns an enabled hook of job on one content type.
func hook(name, job, contentType string, actions ...events.Action) *hookconfig.Hook {
	return &hookconfig.Hook{Name: name, Job: job, ContentTypes: []string{contentType}, Events: actions, Enabled: true}
}

// manyHooks returns n hooks spread over contentTypes content types,
// dcim.device the first, of which exactly one — hook-000000, running job
// matchJob on dcim.device updates — matches the benchmark's changes. The
// others run idle jobs: on dcim.device they take creates and deletes, on
// the other content types every action. No two hooks share a job and a
// content type, so they obey Nautobot's conflict rule. It also returns the
// jobs to register: matchJob and the idle ones.
func manyHooks(n, contentTypes int, matchJob string) ([]*hookconfig.Hook, []string) {
	contentTypes = min(contentTypes, n)
	cts := make([]string, contentTypes)
	cts[0] = changeContentType
	for i := 1; i < contentTypes; i++ {
		cts[i] = fmt.Sprintf("plugin%02d.model%04d", i%50, i)
	}
	idle := (n + contentTypes - 1) / contentTypes
	jobs := []string{matchJob}
	for j := range idle {
		jobs = append(jobs, idleJob(j))
	}
	all := []events.Action{events.ActionCreate, events.ActionUpdate, events.ActionDelete}
	hooks := make([]*hookconfig.Hook, n)
	for i := range hooks {
		ct, j := i%contentTypes, i/contentTypes
		name := fmt.Sprintf("hook-%06d", i)
		switch {
		case i == 0:
			hooks[i] = hook(name, matchJob, cts[ct], events.ActionUpdate)
		case ct == 0:
			hooks[i] = hook(name, idleJob(j), cts[ct], events.ActionCreate, events.ActionDelete)
		default:
			hooks[i] = hook(name, idleJob(j), cts[ct], all...)
		}
	}
	return hooks, jobs
}

func idleJob(j int) string { return fmt.Sprintf("idle-%02d", j) }
