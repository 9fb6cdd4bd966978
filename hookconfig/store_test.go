package hookconfig_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/hookconfig"
)

const (
	create = events.ActionCreate
	update = events.ActionUpdate
	del    = events.ActionDelete
)

func TestStorePutValidation(t *testing.T) {
	// Most cases run against: job serial-validator registered and enabled,
	// job webhook registered and enabled, job old-job registered and
	// disabled, and hook "other-hook" running serial-validator on
	// dcim.device create and update.
	const sv = "serial-validator"
	standard := func(t *testing.T, e *env) uint64 {
		e.registerJob(t, sv, true)
		e.registerJob(t, "webhook", true)
		e.registerJob(t, "old-job", false)
		_, err := e.store.Put(t.Context(), hook("other-hook", sv, cts("dcim.device", "dcim.interface"), create, update), 0)
		require.NoError(t, err)
		return 0
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, e *env) (expected uint64)
		hook  *hookconfig.Hook
		raw   string // decoded with DecodeHook instead of hook
		err   error
		want  string // the error text; "" for success
	}{
		{
			name: "invalid name", hook: hook("serial check", sv, cts("ipam.prefix"), create),
			err:  hookconfig.ErrInvalidHook,
			want: `invalid hook: name: invalid hook name "serial check": ` + wantHookName,
		},
		{
			name: "invalid content type", hook: hook("x", sv, cts("ipam.prefix", "dcim.Device"), create),
			err:  hookconfig.ErrInvalidHook,
			want: `invalid hook "x": content_types[1]: invalid content type "dcim.Device": ` + wantContentType,
		},
		{
			name: "no content types", hook: hook("x", sv, nil, create),
			err:  hookconfig.ErrInvalidHook,
			want: `invalid hook "x": content_types: at least one content type is required (e.g. ["dcim.device"])`,
		},
		{
			name: "invalid job", hook: hook("x", "Serial Validator", cts("ipam.prefix"), create),
			err:  hookconfig.ErrInvalidHook,
			want: `invalid hook "x": job: invalid job name "Serial Validator": ` + wantJobName,
		},
		{
			name: "no events", hook: hook("x", sv, cts("ipam.prefix")),
			err:  hookconfig.ErrInvalidHook,
			want: `invalid hook "x": events: at least one event is required: create, update and/or delete`,
		},
		{
			name: "invalid event", hook: hook("x", sv, cts("ipam.prefix"), "created"),
			err:  hookconfig.ErrInvalidHook,
			want: `invalid hook "x": events[0]: invalid action "created": want create, update or delete`,
		},
		{
			name: "params not an object",
			hook: func() *hookconfig.Hook {
				h := hook("x", sv, cts("ipam.prefix"), create)
				h.Params = json.RawMessage(`"https://example.com"`)
				return h
			}(),
			err:  hookconfig.ErrInvalidHook,
			want: `invalid hook "x": params: want a JSON object (or null), got a string`,
		},
		{
			name: "unknown field",
			raw:  `{"name": "x", "content_types": ["ipam.prefix"], "job": "serial-validator", "events": ["create"], "type_create": true}`,
			err:  hookconfig.ErrInvalidHook,
			want: `invalid hook "x": unknown field "type_create" ` + wantFields,
		},
		{
			name: "job not registered", hook: hook("x", "ghost", cts("ipam.prefix"), create),
			err:  hookconfig.ErrJobNotEnabled,
			want: `hook "x": job "ghost" is not registered (start its receiver first)`,
		},
		{
			name: "job disabled", hook: hook("x", "old-job", cts("ipam.prefix"), create),
			err:  hookconfig.ErrJobNotEnabled,
			want: `hook "x": job "old-job" is registered but disabled (receiver jobs enable old-job)`,
		},
		{
			name: "job registration invalid",
			setup: func(t *testing.T, e *env) uint64 {
				standard(t, e)
				_, err := e.jobsKV.Put(t.Context(), "mangled", []byte(`{"name": "other"}`))
				require.NoError(t, err)
				return 0
			},
			hook: hook("x", "mangled", cts("ipam.prefix"), create),
			err:  hookconfig.ErrJobNotEnabled,
			want: `hook "x": job "mangled": invalid job registration: name "other" does not match its key "mangled"`,
		},
		{
			name: "a disabled hook may name an unregistered job",
			hook: func() *hookconfig.Hook {
				h := hook("x", "ghost", cts("ipam.prefix"), create)
				h.Enabled = false
				return h
			}(),
		},
		{
			name: "a disabled hook may name a disabled job",
			raw:  `{"name": "x", "content_types": ["ipam.prefix"], "job": "old-job", "enabled": false, "events": ["create"]}`,
		},
		{
			name: "conflict: same job, content type and event",
			hook: hook("new-hook", sv, cts("ipam.prefix", "dcim.device"), del, update),
			err:  hookconfig.ErrConflict,
			want: `hook "new-hook": a job hook already exists for update on dcim.device to job serial-validator: "other-hook"`,
		},
		{
			name: "conflict with a disabled hook",
			setup: func(t *testing.T, e *env) uint64 {
				standard(t, e)
				h := hook("sleeping", "webhook", cts("ipam.prefix"), del)
				h.Enabled = false
				_, err := e.store.Put(t.Context(), h, 0)
				require.NoError(t, err)
				return 0
			},
			hook: hook("awake", "webhook", cts("ipam.prefix"), del),
			err:  hookconfig.ErrConflict,
			want: `hook "awake": a job hook already exists for delete on ipam.prefix to job webhook: "sleeping"`,
		},
		{
			name: "a disabled hook conflicts too",
			hook: func() *hookconfig.Hook {
				h := hook("x", sv, cts("dcim.interface"), create)
				h.Enabled = false
				return h
			}(),
			err:  hookconfig.ErrConflict,
			want: `hook "x": a job hook already exists for create on dcim.interface to job serial-validator: "other-hook"`,
		},
		{
			name: "disjoint events are allowed",
			hook: hook("deletes", sv, cts("dcim.device"), del),
		},
		{
			name: "a different job is allowed",
			hook: hook("x", "webhook", cts("dcim.device"), create, update, del),
		},
		{
			name: "a different content type is allowed",
			hook: hook("x", sv, cts("dcim.site"), create, update, del),
		},
		{
			name: "invalid stored hooks are left out of the conflict check",
			setup: func(t *testing.T, e *env) uint64 {
				standard(t, e)
				// Would conflict, but is not a valid hook (unknown field).
				_, err := e.hooks.Put(t.Context(), "broken", []byte(`{"name": "broken", "content_types": ["ipam.prefix"], "job": "serial-validator", "events": ["create"], "x": 1}`))
				require.NoError(t, err)
				return 0
			},
			hook: hook("x", sv, cts("ipam.prefix"), create),
		},
		{
			name: "updating a hook does not conflict with itself",
			setup: func(t *testing.T, e *env) uint64 {
				standard(t, e)
				_, rev, err := e.store.Get(t.Context(), "other-hook")
				require.NoError(t, err)
				return rev
			},
			hook: hook("other-hook", sv, cts("dcim.device"), create, update, del),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			setup := tt.setup
			if setup == nil {
				setup = standard
			}
			expected := setup(t, e)

			h := tt.hook
			var err error
			if tt.raw != "" {
				h, err = hookconfig.DecodeHook([]byte(tt.raw))
			}
			var rev uint64
			if err == nil {
				rev, err = e.store.Put(t.Context(), h, expected)
			}
			if tt.want == "" {
				require.NoError(t, err)
				got, gotRev, err := e.store.Get(t.Context(), h.Name)
				require.NoError(t, err)
				assert.Equal(t, h, got)
				assert.Equal(t, rev, gotRev)
				return
			}
			require.ErrorIs(t, err, tt.err)
			assert.EqualError(t, err, tt.want)
			assert.Zero(t, rev)
			if h != nil && h.Name != "other-hook" && events.ValidateHookName(h.Name) == nil {
				_, _, err := e.store.Get(t.Context(), h.Name)
				assert.ErrorIs(t, err, hookconfig.ErrNotFound, "a rejected hook must not be written")
			}
		})
	}
}

func TestStorePutNil(t *testing.T) {
	e := newEnv(t)
	_, err := e.store.Put(t.Context(), nil, 0)
	require.ErrorIs(t, err, hookconfig.ErrInvalidHook)
	assert.EqualError(t, err, "invalid hook: no hook")
}

func TestStoreCreateTwice(t *testing.T) {
	e := newEnv(t)
	e.registerJob(t, "j", true)
	rev, err := e.store.Put(t.Context(), hook("x", "j", cts("dcim.device"), create), 0)
	require.NoError(t, err)
	require.NotZero(t, rev)

	_, err = e.store.Put(t.Context(), hook("x", "j", cts("dcim.device"), create), 0)
	require.ErrorIs(t, err, hookconfig.ErrExists)
	assert.EqualError(t, err, `hook "x" already exists (to change it, update it at its current revision)`)

	// Once deleted, the name can be created again.
	require.NoError(t, e.store.Delete(t.Context(), "x", 0))
	_, err = e.store.Put(t.Context(), hook("x", "j", cts("dcim.device"), del), 0)
	require.NoError(t, err)
	h, _, err := e.store.Get(t.Context(), "x")
	require.NoError(t, err)
	assert.Equal(t, []events.Action{del}, h.Events)
}

// Two operators read the same revision and both edit: the second write
// must fail instead of silently undoing the first.
func TestStoreLostUpdate(t *testing.T) {
	e := newEnv(t)
	e.registerJob(t, "j", true)
	created, err := e.store.Put(t.Context(), hook("x", "j", cts("dcim.device"), create), 0)
	require.NoError(t, err)

	alice, aliceRev, err := e.store.Get(t.Context(), "x")
	require.NoError(t, err)
	bob, bobRev, err := e.store.Get(t.Context(), "x")
	require.NoError(t, err)
	require.Equal(t, created, aliceRev)
	require.Equal(t, created, bobRev)

	alice.Events = append(alice.Events, update)
	aliceWrote, err := e.store.Put(t.Context(), alice, aliceRev)
	require.NoError(t, err)

	bob.ContentTypes = append(bob.ContentTypes, "dcim.interface")
	_, err = e.store.Put(t.Context(), bob, bobRev)
	require.ErrorIs(t, err, hookconfig.ErrRevisionMismatch)
	assert.EqualError(t, err, fmt.Sprintf(`hook "x" was changed by someone else since revision %d (now at revision %d): re-read it and retry`, bobRev, aliceWrote))

	got, rev, err := e.store.Get(t.Context(), "x")
	require.NoError(t, err)
	assert.Equal(t, alice, got)
	assert.Equal(t, aliceWrote, rev)
}

func TestStoreUpdateMissing(t *testing.T) {
	e := newEnv(t)
	e.registerJob(t, "j", true)
	_, err := e.store.Put(t.Context(), hook("x", "j", cts("dcim.device"), create), 7)
	require.ErrorIs(t, err, hookconfig.ErrRevisionMismatch)
	require.ErrorIs(t, err, hookconfig.ErrNotFound)
	assert.EqualError(t, err, `hook "x" not found (expected revision 7): it was deleted, or never created`)
}

func TestStoreModifyConcurrent(t *testing.T) {
	const writers, perWriter = 8, 5
	e := newEnv(t)
	e.registerJob(t, "j", true)
	h := hook("counter", "j", cts("dcim.device"), create)
	h.Params = json.RawMessage(`{"count":0}`)
	_, err := e.store.Put(t.Context(), h, 0)
	require.NoError(t, err)

	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter)
	for range writers {
		wg.Go(func() {
			for range perWriter {
				_, _, err := e.store.Modify(t.Context(), "counter", func(h *hookconfig.Hook) error {
					var p struct{ Count int }
					if err := json.Unmarshal(h.Params, &p); err != nil {
						return err
					}
					h.Params = json.RawMessage(fmt.Sprintf(`{"count":%d}`, p.Count+1))
					return nil
				})
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	got, _, err := e.store.Get(t.Context(), "counter")
	require.NoError(t, err)
	assert.JSONEq(t, fmt.Sprintf(`{"count":%d}`, writers*perWriter), string(got.Params), "an update was lost")
}

func TestStoreModify(t *testing.T) {
	e := newEnv(t)
	e.registerJob(t, "j", true)
	e.registerJob(t, "off", false)
	_, err := e.store.Put(t.Context(), hook("x", "j", cts("dcim.device"), create), 0)
	require.NoError(t, err)
	disabled := hook("y", "off", cts("dcim.device"), create)
	disabled.Enabled = false
	_, err = e.store.Put(t.Context(), disabled, 0)
	require.NoError(t, err)

	disable := func(h *hookconfig.Hook) error { h.Enabled = false; return nil }
	enable := func(h *hookconfig.Hook) error { h.Enabled = true; return nil }

	t.Run("disable", func(t *testing.T) {
		h, rev, err := e.store.Modify(t.Context(), "x", disable)
		require.NoError(t, err)
		assert.False(t, h.Enabled)
		got, gotRev, err := e.store.Get(t.Context(), "x")
		require.NoError(t, err)
		assert.Equal(t, h, got)
		assert.Equal(t, rev, gotRev)
	})
	t.Run("enable goes through validation", func(t *testing.T) {
		_, _, err := e.store.Modify(t.Context(), "y", enable)
		require.ErrorIs(t, err, hookconfig.ErrJobNotEnabled)
		assert.EqualError(t, err, `hook "y": job "off" is registered but disabled (receiver jobs enable off)`)
	})
	t.Run("the name cannot change", func(t *testing.T) {
		_, _, err := e.store.Modify(t.Context(), "x", func(h *hookconfig.Hook) error { h.Name = "z"; return nil })
		require.ErrorIs(t, err, hookconfig.ErrInvalidHook)
		assert.EqualError(t, err, `invalid hook "x": modify: the name cannot change (to "z"); put a new hook and delete this one`)
	})
	t.Run("fn fails", func(t *testing.T) {
		_, _, err := e.store.Modify(t.Context(), "x", func(*hookconfig.Hook) error { return context.Canceled })
		require.ErrorIs(t, err, context.Canceled)
		assert.EqualError(t, err, `modify hook "x": context canceled`)
	})
	t.Run("missing", func(t *testing.T) {
		_, _, err := e.store.Modify(t.Context(), "nope", enable)
		require.ErrorIs(t, err, hookconfig.ErrNotFound)
		assert.EqualError(t, err, `hook "nope" not found`)
	})
}

func TestStoreDelete(t *testing.T) {
	e := newEnv(t)
	e.registerJob(t, "j", true)
	first, err := e.store.Put(t.Context(), hook("x", "j", cts("dcim.device"), create), 0)
	require.NoError(t, err)
	_, current, err := e.store.Modify(t.Context(), "x", func(h *hookconfig.Hook) error { h.Events = append(h.Events, del); return nil })
	require.NoError(t, err)

	err = e.store.Delete(t.Context(), "x", first)
	require.ErrorIs(t, err, hookconfig.ErrRevisionMismatch)
	assert.EqualError(t, err, fmt.Sprintf(`hook "x" was changed by someone else since revision %d (now at revision %d): re-read it and retry`, first, current))
	_, _, err = e.store.Get(t.Context(), "x")
	require.NoError(t, err, "a failed delete must leave the hook")

	require.NoError(t, e.store.Delete(t.Context(), "x", current))
	_, _, err = e.store.Get(t.Context(), "x")
	require.ErrorIs(t, err, hookconfig.ErrNotFound)
	assert.EqualError(t, err, `hook "x" not found`)

	err = e.store.Delete(t.Context(), "x", 0)
	require.ErrorIs(t, err, hookconfig.ErrNotFound)
	assert.EqualError(t, err, `hook "x" not found`)

	// The delete is a marker, not a purge: the history is still there.
	history, err := e.hooks.History(t.Context(), "x")
	require.NoError(t, err)
	assert.Len(t, history, 3)
}

func TestStoreDeleteUnconditional(t *testing.T) {
	e := newEnv(t)
	e.registerJob(t, "j", true)
	_, err := e.store.Put(t.Context(), hook("x", "j", cts("dcim.device"), create), 0)
	require.NoError(t, err)
	require.NoError(t, e.store.Delete(t.Context(), "x", 0))
	_, _, err = e.store.Get(t.Context(), "x")
	require.ErrorIs(t, err, hookconfig.ErrNotFound)
}

func TestStoreDeleteInvalidValue(t *testing.T) {
	e := newEnv(t)
	_, err := e.hooks.Put(t.Context(), "junk", []byte(`not json`))
	require.NoError(t, err)
	require.NoError(t, e.store.Delete(t.Context(), "junk", 0), "an invalid value must be deletable")
}

func TestStoreGetInvalidValue(t *testing.T) {
	e := newEnv(t)
	rev, err := e.hooks.Put(t.Context(), "x", []byte(`{"name": "y", "content_types": ["dcim.device"], "job": "j", "events": ["create"]}`))
	require.NoError(t, err)
	h, gotRev, err := e.store.Get(t.Context(), "x")
	require.ErrorIs(t, err, hookconfig.ErrInvalidHook)
	assert.EqualError(t, err, `invalid hook "x": name "y" does not match its key "x"`)
	assert.Nil(t, h)
	assert.Equal(t, rev, gotRev)

	_, _, err = e.store.Get(t.Context(), "no such hook")
	require.ErrorIs(t, err, events.ErrInvalidHookName)
}

func TestStoreList(t *testing.T) {
	e := newEnv(t)
	list, err := e.store.List(t.Context())
	require.NoError(t, err)
	assert.Empty(t, list)

	e.registerJob(t, "j", true)
	bRev, err := e.store.Put(t.Context(), hook("b", "j", cts("dcim.device"), create), 0)
	require.NoError(t, err)
	aRev, err := e.store.Put(t.Context(), hook("a", "j", cts("dcim.device"), update), 0)
	require.NoError(t, err)
	badRev, err := e.hooks.Put(t.Context(), "bad", []byte(`{"name": "bad", "content_types": ["dcim.device"], "job": "j", "events": ["create"], "enabled": "yes"}`))
	require.NoError(t, err)
	_, err = e.store.Put(t.Context(), hook("gone", "j", cts("dcim.site"), create), 0)
	require.NoError(t, err)
	require.NoError(t, e.store.Delete(t.Context(), "gone", 0))

	list, err = e.store.List(t.Context())
	require.NoError(t, err)
	require.Len(t, list, 3)
	assert.Equal(t, hookconfig.Entry{Name: "a", Hook: hook("a", "j", cts("dcim.device"), update), Revision: aRev}, list[0])
	assert.Equal(t, "b", list[1].Name)
	assert.Equal(t, bRev, list[1].Revision)
	assert.NoError(t, list[1].Err)
	assert.Equal(t, "bad", list[2].Name)
	assert.Equal(t, badRev, list[2].Revision)
	assert.Nil(t, list[2].Hook)
	require.ErrorIs(t, list[2].Err, hookconfig.ErrInvalidHook)
	assert.EqualError(t, list[2].Err, `invalid hook "bad": enabled: json: cannot unmarshal string into Go value of type bool`)
}
