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
