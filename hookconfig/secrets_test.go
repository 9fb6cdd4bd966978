package hookconfig_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/hookconfig"
)

func TestRedactParams(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"absent", ``, ``},
		{"empty", `{}`, `{}`},
		{"nothing secret", `{"url":"https://x","retries":3,"ratio":0.10}`, `{"ratio":0.10,"retries":3,"url":"https://x"}`},
		{"secret", `{"secret":"s3"}`, `{"secret":"***"}`},
		{"contains secret, any case", `{"Signing_Secret":"s3","ClientSecretKey":"k"}`, `{"ClientSecretKey":"***","Signing_Secret":"***"}`},
		{"password and token", `{"password":"p","auth_token":"t","TOKEN":"t2"}`, `{"TOKEN":"***","auth_token":"***","password":"***"}`},
		{"api key spellings", `{"api_key":"a","apiKey":"b","x-api-key":"c"}`, `{"apiKey":"***","api_key":"***","x-api-key":"***"}`},
		{"cookie, credential, private key", `{"cookie":"c","credentials":{"user":"u"},"private_key":"pk"}`, `{"cookie":"***","credentials":"***","private_key":"***"}`},
		{"authorization", `{"authorization":"Bearer x"}`, `{"authorization":"***"}`},
		{"nested", `{"auth":{"basic":{"user":"u","password":"p"}}}`, `{"auth":{"basic":{"password":"***","user":"u"}}}`},
		{"inside arrays", `{"targets":[{"url":"a","token":"t"},{"url":"b"}]}`, `{"targets":[{"token":"***","url":"a"},{"url":"b"}]}`},
		{"non-string secrets", `{"secret":{"a":1},"token":42,"password":null}`, `{"password":"***","secret":"***","token":"***"}`},
		{
			"headers",
			`{"headers":{"Authorization":"Bearer x","X-Api-Key":"k","Cookie":"c","Proxy-Authorization":"p","X-Auth-User":"u","Content-Type":"application/json"}}`,
			`{"headers":{"Authorization":"***","Content-Type":"application/json","Cookie":"***","Proxy-Authorization":"***","X-Api-Key":"***","X-Auth-User":"***"}}`,
		},
		{"header words only count in headers", `{"author":"me","key":"k"}`, `{"author":"me","key":"k"}`},
		{"not JSON: redacted whole", `{"secret":`, `"***"`},
		{"URL password", `{"url":"https://bob:hunter2@x.example/hook"}`, `{"url":"https://bob:***@x.example/hook"}`},
		{"URL token as the user", `{"url":"https://tok123@x.example/"}`, `{"url":"https://***@x.example/"}`},
		{"URL query values", `{"url":"https://x.example/h?token=abc&v=1&flag"}`, `{"url":"https://x.example/h?token=***&v=***&flag=***"}`},
		{"URL in an array", `{"targets":["https://a:b@x.example/"]}`, `{"targets":["https://a:***@x.example/"]}`},
		{"URL without credentials", `{"url":"https://x.example/h#frag"}`, `{"url":"https://x.example/h#frag"}`},
		{"not a URL", `{"note":"mail me@example.com? ok"}`, `{"note":"mail me@example.com? ok"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := hookconfig.RedactParams(json.RawMessage(tt.in))
			assert.Equal(t, tt.want, string(got))
		})
	}
}

func TestStorePutKeepsRedactedSecrets(t *testing.T) {
	e := newEnv(t)
	e.registerSchemaJob(t, "wh", webhookSchema)
	h := hook("x", "wh", cts("dcim.device"), create)
	h.Params = json.RawMessage(`{"url":"https://x","headers":{"Authorization":"Bearer s3cret","Accept":"*/*"}}`)
	rev, err := e.store.Put(t.Context(), h, 0)
	require.NoError(t, err)

	tests := []struct {
		name   string
		params string // put back at the current revision
		want   string // stored params; "" when refused
		err    string
	}{
		{
			name:   "get, edit, put: the secret is kept",
			params: `{"url":"https://y","headers":{"Authorization":"***","Accept":"*/*"}}`,
			want:   `{"headers":{"Accept":"*/*","Authorization":"Bearer s3cret"},"url":"https://y"}`,
		},
		{
			name:   "a new value replaces the secret",
			params: `{"url":"https://y","headers":{"Authorization":"Bearer new"}}`,
			want:   `{"url":"https://y","headers":{"Authorization":"Bearer new"}}`,
		},
		{
			name:   "*** with nothing stored is refused",
			params: `{"url":"https://y","headers":{"Authorization":"***","X-Api-Key":"***"}}`,
			err:    `invalid hook "x": params.headers.X-Api-Key: "***" stands for the stored secret, but the stored hook has none there: give the value`,
		},
		{
			name:   "*** at a key that is not secret is a value",
			params: `{"url":"https://y","headers":{"Authorization":"***","Accept":"***"}}`,
			want:   `{"headers":{"Accept":"***","Authorization":"Bearer new"},"url":"https://y"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := hook("x", "wh", cts("dcim.device"), create)
			h.Params = json.RawMessage(tt.params)
			newRev, err := e.store.Put(t.Context(), h, rev)
			if tt.err != "" {
				require.ErrorIs(t, err, hookconfig.ErrInvalidHook)
				assert.EqualError(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			rev = newRev
			got, _, err := e.store.Get(t.Context(), "x")
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(got.Params))
		})
	}

	t.Run("*** on create is refused", func(t *testing.T) {
		h := hook("y", "wh", cts("dcim.site"), create)
		h.Params = json.RawMessage(`{"url":"https://y","token":"***"}`)
		_, err := e.store.Put(t.Context(), h, 0)
		require.ErrorIs(t, err, hookconfig.ErrInvalidHook)
		assert.EqualError(t, err, `invalid hook "y": params.token: "***" stands for the stored secret, but the stored hook has none there: give the value`)
	})
}

func TestStorePutKeepsRedactedURLs(t *testing.T) {
	e := newEnv(t)
	e.registerSchemaJob(t, "wh", webhookSchema)
	h := hook("x", "wh", cts("dcim.device"), create)
	const stored = `{"url":"https://bob:hunter2@x.example/hook?token=abc"}`
	h.Params = json.RawMessage(stored)
	rev, err := e.store.Put(t.Context(), h, 0)
	require.NoError(t, err)
	shown := string(hookconfig.RedactParams(h.Params))
	require.Equal(t, `{"url":"https://bob:***@x.example/hook?token=***"}`, shown)

	h.Params = json.RawMessage(shown)
	rev, err = e.store.Put(t.Context(), h, rev)
	require.NoError(t, err, "put back as shown")
	got, _, err := e.store.Get(t.Context(), "x")
	require.NoError(t, err)
	assert.JSONEq(t, stored, string(got.Params), "the stored URL is kept")

	h.Params = json.RawMessage(`{"url":"https://bob:***@y.example/hook?token=***"}`)
	_, err = e.store.Put(t.Context(), h, rev)
	require.ErrorIs(t, err, hookconfig.ErrInvalidHook)
	assert.Contains(t, err.Error(), `params.url: the URL's credentials are "***", which stands for the stored URL's, but the URL is not the one stored: give the credentials`)
}

// A params schema's message that would quote a secret says what rule it
// broke, not the value.
func TestSchemaErrorsHideSecrets(t *testing.T) {
	sch, err := hookconfig.CompileSchema([]byte(`{"type":"object","properties":{
		"secret":{"type":"string","pattern":"^whsec_"},
		"url":{"type":"string","pattern":"^https://"},
		"headers":{"type":"object","additionalProperties":{"type":"string","maxLength":3}},
		"name":{"type":"string","pattern":"^[a-z]+$"}}}`))
	require.NoError(t, err)
	tests := []struct {
		name, doc, want, hidden string
	}{
		{"secret key", `{"secret":"TopSecretValue123"}`, `params.secret: does not match pattern "^whsec_" (the value is a secret, not shown)`, "TopSecretValue123"},
		{"URL with credentials", `{"url":"ftp://user:hunter2@x/"}`, `params.url: does not match pattern "^https://" (the value is a secret, not shown)`, "hunter2"},
		{"secret header", `{"headers":{"Authorization":"Bearer abcdef"}}`, `params.headers.Authorization: maxLength: got 13, want 3`, "abcdef"},
		{"not a secret: quoted as usual", `{"name":"Edge 1"}`, `params.name: 'Edge 1' does not match pattern '^[a-z]+$'`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := hookconfig.ValidateAgainst(sch, "params", []byte(tt.doc))
			require.Error(t, err)
			assert.Equal(t, tt.want, err.Error())
			if tt.hidden != "" {
				assert.NotContains(t, err.Error(), tt.hidden)
			}
		})
	}
}
