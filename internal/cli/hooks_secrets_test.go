package cli_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/hookconfig"
	"github.com/jobhooks/jobhooks/internal/cli"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
)

const notifyHook = `{"name":"notify","content_types":["dcim.device"],"job":"notify","events":["create"],
 "params":{"url":"https://example.com/hook","secret":"s3cr3t","headers":{"Authorization":"Bearer abc","Accept":"*/*"}}}`

func TestHooksNeverShowSecrets(t *testing.T) {
	e := newCmdEnv(t)
	e.registerJob("notify", true)
	code, out, errOut := e.hooks(notifyHook, "put", "-", "--json")
	require.Equal(t, cli.ExitOK, code, errOut)
	for _, args := range [][]string{{"get", "notify"}, {"get", "notify", "--json"}, {"list", "--json"}, {"list"}} {
		code, got, errOut := e.hooks("", args...)
		require.Equal(t, cli.ExitOK, code, errOut)
		out += got
	}
	assert.NotContains(t, out, "s3cr3t")
	assert.NotContains(t, out, "Bearer abc")
	assert.Contains(t, out, `{"headers":{"Accept":"*/*","Authorization":"***"},"secret":"***","url":"https://example.com/hook"}`)
	assert.Contains(t, out, `"Authorization": "***"`)
}

// get, edit, put: the "***" the get showed keeps the stored secrets.
func TestHooksPutKeepsRedactedSecrets(t *testing.T) {
	e := newCmdEnv(t)
	e.registerJob("notify", true)
	code, _, errOut := e.hooks(notifyHook, "put", "-")
	require.Equal(t, cli.ExitOK, code, errOut)

	code, out, errOut := e.hooks("", "get", "notify", "--json")
	require.Equal(t, cli.ExitOK, code, errOut)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	delete(got, "revision") // not a hook field
	got["params"].(map[string]any)["url"] = "https://example.com/v2"
	edited, err := json.Marshal(got)
	require.NoError(t, err)
	require.Contains(t, string(edited), `"***"`)

	code, out, errOut = e.hooks(string(edited), "put", "-")
	require.Equal(t, cli.ExitOK, code, errOut)
	assert.Contains(t, out, "hook notify updated")
	stored, err := e.srv.KV(t, jhjs.BucketJobHooks).Get(e.ctx, "notify")
	require.NoError(t, err)
	h, err := hookconfig.DecodeHook(stored.Value())
	require.NoError(t, err)
	assert.JSONEq(t, `{"url":"https://example.com/v2","secret":"s3cr3t","headers":{"Authorization":"Bearer abc","Accept":"*/*"}}`, string(h.Params))

	// A "***" with nothing stored at its path cannot be kept.
	code, _, errOut = e.hooks(strings.Replace(string(edited), `"secret":"***"`, `"secret":"***","api_key":"***"`, 1), "put", "-")
	assert.Equal(t, cli.ExitInvalid, code)
	assert.Contains(t, errOut, `params.api_key: "***" stands for the stored secret, but the stored hook has none there: give the value`)
}

// What `hooks get --json` prints, `hooks put` takes back unchanged, as a
// compare-and-set on the revision it shows.
func TestHooksGetJSONPutsBack(t *testing.T) {
	e := newCmdEnv(t)
	e.registerJob("notify", true)
	code, _, errOut := e.hooks(notifyHook, "put", "-")
	require.Equal(t, cli.ExitOK, code, errOut)
	code, got, errOut := e.hooks("", "get", "notify", "--json")
	require.Equal(t, cli.ExitOK, code, errOut)
	require.Contains(t, got, `"revision": 1`)

	code, out, errOut := e.hooks(got, "put", "-")
	require.Equal(t, cli.ExitOK, code, errOut)
	assert.Contains(t, out, "hook notify updated (revision 2)")
	stored, err := e.srv.KV(t, jhjs.BucketJobHooks).Get(e.ctx, "notify")
	require.NoError(t, err)
	h, err := hookconfig.DecodeHook(stored.Value())
	require.NoError(t, err)
	assert.JSONEq(t, `{"url":"https://example.com/hook","secret":"s3cr3t","headers":{"Authorization":"Bearer abc","Accept":"*/*"}}`, string(h.Params))

	// The same file again is stale now: someone (we) wrote revision 2.
	code, _, errOut = e.hooks(got, "put", "-")
	assert.Equal(t, cli.ExitConflict, code, errOut)

	code, _, errOut = e.hooks(got, "put", "-", "--revision", "2")
	assert.Equal(t, cli.ExitInvalid, code)
	assert.Contains(t, errOut, "the file says revision 1 and --revision says 2: give one")

	code, _, errOut = e.hooks(strings.Replace(got, `"revision": 1`, `"revision": "one"`, 1), "put", "-")
	assert.Equal(t, cli.ExitInvalid, code)
	assert.Contains(t, errOut, `revision "one"`)
}

func TestHooksPutValidatesParams(t *testing.T) {
	e := newCmdEnv(t)
	_, err := hookconfig.NewJobs(e.srv.KV(t, jhjs.BucketJobs)).Put(e.ctx, &hookconfig.Job{Name: "notify", Enabled: true,
		ParamsSchema: json.RawMessage(`{"type":"object","properties":{"url":{"type":"string"}},"required":["url"]}`)})
	require.NoError(t, err)

	code, _, errOut := e.hooks(strings.Replace(notifyHook, `"https://example.com/hook"`, `42`, 1), "put", "-")
	assert.Equal(t, cli.ExitInvalid, code)
	assert.Contains(t, errOut, `error: invalid hook "notify": params.url: got number, want string`)

	code, _, errOut = e.hooks(notifyHook, "put", "-")
	assert.Equal(t, cli.ExitOK, code, errOut)
}
