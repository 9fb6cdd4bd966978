package cli

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/jetstream/jstest"
	"github.com/jobhooks/jobhooks/router"
)

func TestIngestOptions(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	require.NoError(t, os.WriteFile(secretFile, []byte("s3cret\n"), 0o600))
	emptyFile := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(emptyFile, []byte("\n"), 0o600))

	tests := []struct {
		name       string
		flags      httpFlags
		env        string
		wantSecret string
		wantErr    string
	}{
		{"loopback v4 unsigned", httpFlags{addr: "127.0.0.1:8080"}, "", "", ""},
		{"loopback v6 unsigned", httpFlags{addr: "[::1]:8080"}, "", "", ""},
		{"localhost unsigned", httpFlags{addr: "localhost:8080"}, "", "", ""},
		{"all interfaces unsigned", httpFlags{addr: ":8080"}, "", "", "--http-insecure"},
		{"any v4 unsigned", httpFlags{addr: "0.0.0.0:8080"}, "", "", "listens beyond loopback and no ingest secret is set"},
		{"a host name unsigned", httpFlags{addr: "jobhooks.example.com:8080"}, "", "", "--ingest-secret-file FILE (or JOBHOOKS_INGEST_SECRET)"},
		{"all interfaces insecure", httpFlags{addr: ":8080", insecure: true}, "", "", ""},
		{"secret file, newline trimmed", httpFlags{addr: ":8080", secretFile: secretFile}, "", "s3cret", ""},
		{"secret from the environment", httpFlags{addr: ":8080"}, "from-env", "from-env", ""},
		{"both", httpFlags{addr: ":8080", secretFile: secretFile}, "from-env", "", "give one"},
		{"empty secret file", httpFlags{addr: "127.0.0.1:8080", secretFile: emptyFile}, "", "", "is empty"},
		{"secret from the environment, newline trimmed", httpFlags{addr: ":8080"}, "from-env\n", "from-env", ""},
		{"secret file without --http", httpFlags{secretFile: secretFile}, "", "", "need --http ADDR"},
		{"insecure without --http", httpFlags{insecure: true}, "", "", "need --http ADDR"},
		{"no --http", httpFlags{}, "from-env", "", ""},
		{"missing secret file", httpFlags{addr: "127.0.0.1:8080", secretFile: filepath.Join(dir, "nope")}, "", "", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.flags.maxBody = 1 << 20
			opts, err := tt.flags.ingestOptions(func(name string) string {
				if name == EnvIngestSecret {
					return tt.env
				}
				return ""
			})
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.NotContains(t, err.Error(), "s3cret")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantSecret, string(opts.Secret))
			assert.Equal(t, int64(1<<20), opts.MaxBody)
		})
	}
}

func TestByteSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		str     string
		wantErr bool
	}{
		{"4MiB", 4 << 20, "4MiB", false},
		{"512KiB", 512 << 10, "512KiB", false},
		{"1000", 1000, "1000", false},
		{"2048", 2048, "2KiB", false},
		{"0", 0, "", true},
		{"-1", 0, "", true},
		{"4MB", 0, "", true},
		{"MiB", 0, "", true},
		{"99999999999MiB", 0, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var b byteSize
			err := b.Set(tt.in)
			if tt.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, int64(b))
			assert.Equal(t, tt.str, b.String())
		})
	}
}

func TestHealthHandlers(t *testing.T) {
	s := jstest.Start(t)
	nc := s.NewConn(t)
	r := router.New(s.JetStream(t, nc), router.Options{})
	mux := http.NewServeMux()
	healthHandlers(mux, func() error { return routerReady(nc, r) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}

	code, body := get("/healthz")
	assert.Equal(t, http.StatusOK, code)
	assert.JSONEq(t, `{"status":"ok"}`, body)
	code, body = get("/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code, "the router has not loaded its tables")
	assert.JSONEq(t, `{"status":"not ready","reason":"loading the hook and job tables"}`, body)

	nc.Close()
	code, body = get("/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, body, "not connected to NATS (CLOSED)")
	code, _ = get("/healthz")
	assert.Equal(t, http.StatusOK, code, "the process is still up")
}
