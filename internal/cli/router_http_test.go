package cli_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha512"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/internal/cli"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
)

var listeningAddr = regexp.MustCompile(`"HTTP server listening" addr=(\S+)`)

// startRouterHTTP runs the router command with --http on a free loopback
// port and returns its base URL, its log and a function that stops it and
// returns its exit code.
func startRouterHTTP(t *testing.T, args ...string) (string, *jstest.LogBuffer, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var out jstest.LogBuffer
	log := &jstest.LogBuffer{}
	code := make(chan int, 1)
	go func() {
		code <- cli.Router(ctx, append([]string{"--http", "127.0.0.1:0"}, args...), strings.NewReader(""), &out, log)
	}()
	var base string
	require.Eventually(t, func() bool {
		m := listeningAddr.FindStringSubmatch(log.String())
		if m != nil {
			base = "http://" + m[1]
		}
		return m != nil
	}, 30*time.Second, 5*time.Millisecond, "router log:\n%s", log.String())
	return base, log, func() int {
		cancel()
		select {
		case c := <-code:
			return c
		case <-time.After(30 * time.Second):
			t.Fatalf("router did not stop; log:\n%s", log.String())
			return 0
		}
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestRouterServesSignedIngestAndHealth(t *testing.T) {
	srv := jstest.Start(t)
	const secret = "shared-with-netbox"
	t.Setenv(cli.EnvIngestSecret, secret)
	base, log, stop := startRouterHTTP(t, "--nats-url", srv.URL)

	status, body := get(t, base+"/healthz")
	assert.Equal(t, http.StatusOK, status)
	assert.JSONEq(t, `{"status":"ok"}`, body)
	require.Eventually(t, func() bool { s, _ := get(t, base+"/readyz"); return s == http.StatusOK }, 30*time.Second, 10*time.Millisecond)

	change, err := os.ReadFile("../../webhook/testdata/netbox-4.6-site-created.json")
	require.NoError(t, err)
	postNetBox := func(signature string) int {
		req, err := http.NewRequest(http.MethodPost, base+"/ingest/netbox", bytes.NewReader(change))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		if signature != "" {
			req.Header.Set("X-Hook-Signature", signature)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	mac := hmac.New(sha512.New, []byte(secret))
	mac.Write(change)
	assert.Equal(t, http.StatusUnauthorized, postNetBox(""))
	assert.Equal(t, http.StatusAccepted, postNetBox(hex.EncodeToString(mac.Sum(nil))))

	stream, err := srv.JS.Stream(context.Background(), jhjs.StreamChanges)
	require.NoError(t, err)
	info, err := stream.Info(context.Background())
	require.NoError(t, err)
	assert.Equal(t, uint64(1), info.State.Msgs)

	require.Equal(t, cli.ExitOK, stop(), log.String())
	assert.Contains(t, log.String(), "signed=true")
	assert.NotContains(t, log.String(), secret, "the secret is never logged")
}

func TestRouterRefusesUnsignedIngestBeyondLoopback(t *testing.T) {
	t.Setenv(cli.EnvIngestSecret, "")
	var out, log bytes.Buffer
	code := cli.Router(context.Background(), []string{"--http", ":0", "--nats-url", "nats://127.0.0.1:1"}, strings.NewReader(""), &out, &log)
	assert.Equal(t, cli.ExitUsage, code)
	assert.Contains(t, log.String(), "--http-insecure")
	assert.NotContains(t, log.String(), "connect", "refused before connecting to anything")
}
