package hookconfig_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/hookconfig"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
)

func startWatcher(t *testing.T, ctx context.Context, kv jetstream.KeyValue) (*hookconfig.Watcher, *jstest.LogBuffer) {
	t.Helper()
	logs := &jstest.LogBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w, err := hookconfig.Watch(ctx, kv, hookconfig.WatchOptions{Logger: logger})
	require.NoError(t, err)
	require.NotNil(t, w.Index(), "Index is never nil, even before ready")
	require.NoError(t, w.WaitReady(ctx))
	return w, logs
}

// waitFor waits until the watcher has applied bucket revision rev.
func waitFor(t *testing.T, w *hookconfig.Watcher, rev uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, w.WaitRevision(ctx, rev))
}

// lastRevision returns the revision of key's latest entry, delete markers
// included (Delete and Purge do not return one).
func lastRevision(t *testing.T, kv jetstream.KeyValue, key string) uint64 {
	t.Helper()
	history, err := kv.History(t.Context(), key)
	require.NoError(t, err)
	return history[len(history)-1].Revision()
}

func putRaw(t *testing.T, kv jetstream.KeyValue, h *hookconfig.Hook) uint64 {
	t.Helper()
	data, err := json.Marshal(h)
	require.NoError(t, err)
	rev, err := kv.Put(t.Context(), h.Name, data)
	require.NoError(t, err)
	return rev
}

func TestWatcherFollowsTheBucket(t *testing.T) {
	e := newEnv(t)
	e.registerJob(t, "j", true)
	w, _ := startWatcher(t, t.Context(), e.hooks)
	assert.Zero(t, w.Index().Len())
	assert.Zero(t, w.Revision())

	// A put appears.
	rev, err := e.store.Put(t.Context(), hook("serial-check", "j", cts("dcim.device"), create), 0)
	require.NoError(t, err)
	waitFor(t, w, rev)
	assert.Equal(t, rev, w.Revision())
	assert.Equal(t, []string{"serial-check"}, names(w.Index().Lookup("dcim.device", create)))

	// An update changes the lookups.
	_, rev, err = e.store.Modify(t.Context(), "serial-check", func(h *hookconfig.Hook) error {
		h.Events = []events.Action{update}
		return nil
	})
	require.NoError(t, err)
	waitFor(t, w, rev)
	assert.Empty(t, w.Index().Lookup("dcim.device", create))
	assert.Equal(t, []string{"serial-check"}, names(w.Index().Lookup("dcim.device", update)))

	// Disabling keeps the hook listed but stops routing to it.
	_, rev, err = e.store.Modify(t.Context(), "serial-check", func(h *hookconfig.Hook) error { h.Enabled = false; return nil })
	require.NoError(t, err)
	waitFor(t, w, rev)
	assert.Empty(t, w.Index().Lookup("dcim.device", update))
	assert.Equal(t, 1, w.Index().Len())

	// A delete removes it.
	require.NoError(t, e.store.Delete(t.Context(), "serial-check", 0))
	waitFor(t, w, lastRevision(t, e.hooks, "serial-check"))
	_, ok := w.Index().Get("serial-check")
	assert.False(t, ok)
	assert.Zero(t, w.Index().Len())

	// So does a purge.
	rev = putRaw(t, e.hooks, hook("purged", "j", cts("dcim.site"), del))
	waitFor(t, w, rev)
	require.Equal(t, 1, w.Index().Len())
	require.NoError(t, e.hooks.Purge(t.Context(), "purged"))
	waitFor(t, w, lastRevision(t, e.hooks, "purged"))
	assert.Zero(t, w.Index().Len())
}

func TestWatcherInvalidValue(t *testing.T) {
	e := newEnv(t)
	putRaw(t, e.hooks, hook("keep", "j", cts("dcim.device"), create))
	putRaw(t, e.hooks, hook("flaky", "j", cts("dcim.device"), create, update))
	w, logs := startWatcher(t, t.Context(), e.hooks)
	require.Equal(t, []string{"flaky", "keep"}, names(w.Index().Lookup("dcim.device", create)))

	tests := []struct {
		name   string
		value  string
		reason string
	}{
		{"bad JSON", `{"name": "flaky",`, `invalid hook \"flaky\": the object is not closed: unexpected EOF`},
		{"bad field", `{"name": "flaky", "content_types": ["dcim.device"], "job": "j", "events": ["create", "created"]}`,
			`invalid hook \"flaky\": events[1]: invalid action \"created\": want create, update or delete`},
		{"name is not the key", `{"name": "other", "content_types": ["dcim.device"], "job": "j", "events": ["create"]}`,
			`invalid hook \"flaky\": name \"other\" does not match its key \"flaky\"`},
		{"bad conditions", `{"name": "flaky", "content_types": ["dcim.device"], "job": "j", "events": ["create"], "conditions": {"and": [{"attr": "serial", "op": "regex", "value": "("}]}}`,
			"invalid hook \\\"flaky\\\": conditions.and[0].value: regex \\\"(\\\" does not compile: missing closing ): `(`"},
		{"overlapping content types", `{"name": "flaky", "content_types": ["dcim.device", "dcim.*"], "job": "j", "events": ["create"]}`,
			`invalid hook \"flaky\": content_types[0]: \"dcim.device\" is already covered by content_types[1] \"dcim.*\"`},
		{"bad changed_fields", `{"name": "flaky", "content_types": ["dcim.device"], "job": "j", "events": ["create"], "changed_fields": ["a", "a"]}`,
			`invalid hook \"flaky\": changed_fields[1]: \"a\" is already changed_fields[0]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rev, err := e.hooks.Put(t.Context(), "flaky", []byte(tt.value))
			require.NoError(t, err)
			waitFor(t, w, rev)

			assert.Equal(t, []string{"keep"}, names(w.Index().Lookup("dcim.device", create)),
				"an invalid value removes its key's hook and leaves the others")
			assert.Empty(t, w.Index().Lookup("dcim.device", update))
			_, ok := w.Index().Get("flaky")
			assert.False(t, ok)

			invalid := w.Invalid()
			require.Contains(t, invalid, "flaky")
			require.ErrorIs(t, invalid["flaky"], hookconfig.ErrInvalidHook)
			assert.Len(t, invalid, 1)
			assert.Contains(t, logs.String(),
				fmt.Sprintf(`level=ERROR msg="invalid hook ignored" bucket=job_hooks key=flaky revision=%d error="%s"`, rev, tt.reason))

			// A valid value brings it back.
			rev = putRaw(t, e.hooks, hook("flaky", "j", cts("dcim.device"), update))
			waitFor(t, w, rev)
			assert.Equal(t, []string{"flaky"}, names(w.Index().Lookup("dcim.device", update)))
			assert.Equal(t, []string{"keep"}, names(w.Index().Lookup("dcim.device", create)))
			assert.Empty(t, w.Invalid())
		})
	}
}

func TestWatcherInvalidValueAtStart(t *testing.T) {
	e := newEnv(t)
	putRaw(t, e.hooks, hook("keep", "j", cts("dcim.device"), create))
	rev, err := e.hooks.Put(t.Context(), "junk", []byte(`not a hook`))
	require.NoError(t, err)
	w, logs := startWatcher(t, t.Context(), e.hooks)
	assert.Equal(t, []string{"keep"}, names(w.Index().Hooks()))
	assert.Contains(t, w.Invalid(), "junk")
	assert.Contains(t, logs.String(), fmt.Sprintf(`key=junk revision=%d error="invalid hook: invalid character 'o' in literal null (expecting 'u')"`, rev))

	// Deleting the invalid value clears it.
	require.NoError(t, e.hooks.Delete(t.Context(), "junk"))
	waitFor(t, w, lastRevision(t, e.hooks, "junk"))
	assert.Empty(t, w.Invalid())
}

// A router restarting on a full bucket must see the whole table the moment
// it is ready, never a partial one.
func TestWatcherLoadsEverythingBeforeReady(t *testing.T) {
	const n = 1000
	e := newEnv(t)
	var last uint64
	var matching []string
	ct, action := benchContentType(0), events.Actions[0]
	for _, h := range benchHooks(n) {
		last = putRaw(t, e.hooks, h)
		if h.Enabled && h.Matches(ct, action) {
			matching = append(matching, h.Name)
		}
	}

	w, err := hookconfig.Watch(t.Context(), e.hooks, hookconfig.WatchOptions{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	for ready := false; !ready; {
		if got := w.Index().Len(); got != 0 && got != n {
			t.Fatalf("partial index of %d hooks visible before ready", got)
		}
		select {
		case <-w.Ready():
			ready = true
		default:
			runtime.Gosched()
		}
	}
	require.Equal(t, n, w.Index().Len(), "every hook is in the index when Ready is closed")
	assert.Equal(t, last, w.Revision())
	assert.Equal(t, matching, names(w.Index().Lookup(ct, action)))
}

// Writes arriving faster than the watcher rebuilds are all applied.
func TestWatcherBurst(t *testing.T) {
	const n = 600 // more than nats.go's 256-entry watch buffer
	e := newEnv(t)
	w, _ := startWatcher(t, t.Context(), e.hooks)
	var last uint64
	for _, h := range benchHooks(n) {
		last = putRaw(t, e.hooks, h)
	}
	waitFor(t, w, last)
	assert.Equal(t, n, w.Index().Len())
}

func TestWatcherStopsWithContext(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(t.Context())
	w, _ := startWatcher(t, ctx, e.hooks)
	require.NoError(t, w.Err(), "no error while running")

	cancel()
	select {
	case <-w.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("watcher did not stop when its context ended")
	}
	require.ErrorIs(t, w.Err(), context.Canceled)
	require.NoError(t, w.WaitReady(t.Context()), "it was ready before it stopped")

	err := w.WaitRevision(t.Context(), 1_000_000)
	require.ErrorIs(t, err, context.Canceled)
	assert.EqualError(t, err, "hook watcher stopped at revision 0, before 1000000: context canceled")
}

func TestWatcherStopsWhenConnectionCloses(t *testing.T) {
	e := newEnv(t)
	nc := e.srv.NewConn(t)
	kv, err := e.srv.JetStream(t, nc).KeyValue(t.Context(), jhjs.BucketJobHooks)
	require.NoError(t, err)
	w, _ := startWatcher(t, t.Context(), kv)

	nc.Close()
	select {
	case <-w.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("watcher did not stop when its connection closed")
	}
	require.ErrorIs(t, w.Err(), hookconfig.ErrWatchClosed)
}

func TestWaitRevisionHonoursContext(t *testing.T) {
	e := newEnv(t)
	w, _ := startWatcher(t, t.Context(), e.hooks)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	require.ErrorIs(t, w.WaitRevision(ctx, 1), context.Canceled)
	require.NoError(t, w.WaitRevision(ctx, 0), "revision 0 is always reached")
}
