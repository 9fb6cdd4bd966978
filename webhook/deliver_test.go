package webhook_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/webhook"
)

func client() *http.Client { return &http.Client{CheckRedirect: webhook.NoRedirects} }

func TestDeliverClassifiesStatuses(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   webhook.Outcome
	}{
		{200, webhook.Delivered}, {204, webhook.Delivered},
		{302, webhook.Permanent}, {400, webhook.Permanent}, {401, webhook.Permanent}, {404, webhook.Permanent},
		{408, webhook.Retry}, {429, webhook.Retry}, {500, webhook.Retry}, {503, webhook.Retry},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", "/elsewhere")
			w.WriteHeader(tc.status)
			_, _ = w.Write([]byte("answer"))
		}))
		a := webhook.Deliver(t.Context(), client(), webhook.Delivery{Method: "POST", URL: srv.URL, Body: []byte("{}"), Timeout: 5 * time.Second})
		srv.Close()
		assert.Equal(t, tc.want, a.Outcome, "status %d", tc.status)
		assert.Equal(t, tc.status, a.StatusCode)
		assert.Equal(t, tc.want == webhook.Delivered, a.Err() == nil)
		assert.NotEmpty(t, a.Duration)
	}
}

func TestDeliverRecordsTheRequestAndResponse(t *testing.T) {
	var got *http.Request
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		b, _ := io.ReadAll(r.Body)
		body = string(b)
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(503)
		// 1023 ASCII bytes, then a 3-byte rune the 1 KiB cut splits.
		_, _ = w.Write([]byte(strings.Repeat("x", 1023) + "€ and more"))
	}))
	defer srv.Close()
	a := webhook.Deliver(t.Context(), client(), webhook.Delivery{Method: "PUT", URL: srv.URL + "/hook?token=s3cret",
		Header: http.Header{"X-Custom": {"v"}}, Body: []byte(`{"a":1}`), Timeout: 5 * time.Second})
	assert.Equal(t, webhook.Retry, a.Outcome)
	assert.Equal(t, 7*time.Second, a.RetryAfter)
	assert.Equal(t, strings.Repeat("x", 1023), a.Response, "the first KiB, the split rune dropped")
	assert.Equal(t, srv.URL+"/hook?…", a.URL)
	assert.Equal(t, "PUT", got.Method)
	assert.Equal(t, "v", got.Header.Get("X-Custom"))
	assert.Equal(t, "s3cret", got.URL.Query().Get("token"))
	assert.Equal(t, `{"a":1}`, body)
	assert.Equal(t, "PUT "+srv.URL+"/hook?… → 503 in "+a.Duration, a.Summary())
	assert.NotContains(t, a.Err().Error(), "s3cret")
}

func TestDeliverTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	start := time.Now()
	a := webhook.Deliver(t.Context(), client(), webhook.Delivery{Method: "POST", URL: srv.URL, Timeout: 100 * time.Millisecond})
	assert.Equal(t, webhook.Retry, a.Outcome)
	assert.Equal(t, "timed out after 100ms", a.Error)
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestDeliverNetworkErrorIsRetriedAndRedacted(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // nothing listens there now
	a := webhook.Deliver(t.Context(), client(), webhook.Delivery{Method: "POST",
		URL: "http://user:pa55@" + addr + "/x?key=s3cret", Timeout: 5 * time.Second})
	assert.Equal(t, webhook.Retry, a.Outcome)
	assert.Zero(t, a.StatusCode)
	assert.NotEmpty(t, a.Error)
	for _, s := range []string{a.Error, a.Summary(), a.Err().Error(), a.URL} {
		assert.NotContains(t, s, "s3cret")
		assert.NotContains(t, s, "pa55")
	}
	assert.Equal(t, "http://"+addr+"/x?…", a.URL)
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	assert.Equal(t, time.Second, webhook.ParseRetryAfter("1", now))
	assert.Equal(t, 120*time.Second, webhook.ParseRetryAfter(" 120 ", now))
	assert.Equal(t, 30*time.Second, webhook.ParseRetryAfter("Wed, 02 Dec 2026 10:00:30 GMT", now))
	assert.Zero(t, webhook.ParseRetryAfter("Wed, 02 Dec 2026 09:00:00 GMT", now), "a past date")
	assert.Zero(t, webhook.ParseRetryAfter("", now))
	assert.Zero(t, webhook.ParseRetryAfter("-3", now))
	assert.Zero(t, webhook.ParseRetryAfter("soon", now))
}

func TestRedactURL(t *testing.T) {
	assert.Equal(t, "https://example.com/hooks/1", webhook.RedactURL("https://u:p@example.com/hooks/1#frag"))
	assert.Equal(t, "https://example.com/?…", webhook.RedactURL("https://example.com/?api_key=x"))
	assert.Equal(t, "(invalid URL)", webhook.RedactURL("http://[::1"))
}
