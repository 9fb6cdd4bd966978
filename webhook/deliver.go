package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxResponse is how much of a response body an Attempt keeps.
const MaxResponse = 1 << 10

// Outcome classifies a delivery attempt.
type Outcome string

// Outcomes of an attempt.
const (
	// Delivered: the endpoint answered 2xx.
	Delivered Outcome = "delivered"
	// Retry: 408, 429, 5xx, a network error or a timeout; another attempt
	// may succeed.
	Retry Outcome = "retry"
	// Permanent: any other status (4xx, a 3xx, which is not followed); the
	// same request will fail again.
	Permanent Outcome = "permanent"
)

// Delivery is one HTTP request to deliver.
type Delivery struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
	// Timeout bounds the whole exchange, body included; 0: none beyond ctx.
	Timeout time.Duration
}

// Attempt is the record of one delivery attempt, as kept in the job
// result. It never holds request headers or the URL's userinfo and query,
// which may carry secrets.
type Attempt struct {
	Time       time.Time `json:"time"`
	Method     string    `json:"method"`
	URL        string    `json:"url"` // redacted (see RedactURL)
	StatusCode int       `json:"status_code,omitempty"`
	Duration   string    `json:"duration"`
	Response   string    `json:"response,omitempty"` // the first MaxResponse bytes, valid UTF-8
	Error      string    `json:"error,omitempty"`
	Outcome    Outcome   `json:"outcome"`
	// RetryAfter is the endpoint's Retry-After, 0 when it sent none.
	RetryAfter time.Duration `json:"-"`
	took       time.Duration
}

// Took returns how long the attempt took.
func (a *Attempt) Took() time.Duration { return a.took }

// Summary is a one-line description: "POST https://host/x → 503 in 12ms".
func (a *Attempt) Summary() string {
	if a.StatusCode == 0 {
		return fmt.Sprintf("%s %s → error in %s: %s", a.Method, a.URL, a.Duration, a.Error)
	}
	return fmt.Sprintf("%s %s → %d in %s", a.Method, a.URL, a.StatusCode, a.Duration)
}

// Err returns nil for a delivered attempt, else an error describing it
// (redacted like the record).
func (a *Attempt) Err() error {
	switch {
	case a.Outcome == Delivered:
		return nil
	case a.StatusCode == 0:
		return fmt.Errorf("%s %s: %s", a.Method, a.URL, a.Error)
	default:
		return fmt.Errorf("%s %s: HTTP %d", a.Method, a.URL, a.StatusCode)
	}
}

// NoRedirects makes a client return 3xx responses instead of following
// them: a redirect would resend the signed body somewhere else.
func NoRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Deliver sends req once with client (its CheckRedirect should be
// NoRedirects) and classifies the answer.
func Deliver(ctx context.Context, client *http.Client, req Delivery) Attempt {
	a := Attempt{Time: time.Now().UTC(), Method: req.Method, URL: RedactURL(req.URL)}
	start := time.Now()
	a.Outcome, a.StatusCode, a.Response, a.RetryAfter, a.Error = send(ctx, client, req, a.URL)
	a.took = time.Since(start)
	a.Duration = a.took.Round(time.Millisecond).String()
	if a.took < time.Millisecond {
		a.Duration = a.took.Round(time.Microsecond).String()
	}
	return a
}

func send(ctx context.Context, client *http.Client, req Delivery, redacted string) (o Outcome, code int, response string, after time.Duration, errText string) {
	if req.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, req.Timeout, errTimeout)
		defer cancel()
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, req.URL, bytes.NewReader(req.Body))
	if err != nil {
		// A URL that does not parse will never parse: permanent.
		return Permanent, 0, "", 0, "invalid request: " + redactErr(err, req.URL, redacted)
	}
	hr.Header = req.Header.Clone()
	if hr.Header == nil {
		hr.Header = http.Header{}
	}
	resp, err := client.Do(hr)
	if err != nil {
		if errors.Is(context.Cause(ctx), errTimeout) {
			return Retry, 0, "", 0, fmt.Sprintf("timed out after %s", req.Timeout)
		}
		return Retry, 0, "", 0, redactErr(err, req.URL, redacted)
	}
	defer resp.Body.Close()
	// The status decides; a body cut short keeps what arrived.
	head, _ := io.ReadAll(io.LimitReader(resp.Body, MaxResponse))
	// Drain a little more so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	response = validUTF8(head)
	return Classify(resp.StatusCode), resp.StatusCode, response, ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()), ""
}

var errTimeout = errors.New("webhook request timed out")

// Classify returns the outcome of an HTTP status.
func Classify(status int) Outcome {
	switch {
	case status >= 200 && status < 300:
		return Delivered
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests, status >= 500:
		return Retry
	default:
		return Permanent
	}
}

// ParseRetryAfter returns the delay a Retry-After value asks for: delay
// seconds or an HTTP date (relative to now); 0 when absent, invalid or past.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(min(s, int64(24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// RedactURL returns u without userinfo, query and fragment, which may hold
// credentials; a removed query shows as "?…". A URL that does not parse is
// reduced to its scheme and host, or to "(invalid URL)".
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(invalid URL)"
	}
	query := p.RawQuery != "" || p.ForceQuery
	p.User, p.RawQuery, p.ForceQuery, p.Fragment, p.RawFragment = nil, "", false, "", ""
	s := p.String()
	if query {
		s += "?…"
	}
	return s
}

// redactErr returns err's text with the URL replaced by its redacted form
// (net/http's errors quote the URL).
func redactErr(err error, raw, redacted string) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Sprintf("%s %q: %s", ue.Op, redacted, redactText(ue.Err.Error(), raw, redacted))
	}
	return redactText(err.Error(), raw, redacted)
}

func redactText(s, raw, redacted string) string {
	if raw == "" {
		return s
	}
	return strings.ReplaceAll(s, raw, redacted)
}

// validUTF8 returns b as a string: a rune the cut split is dropped, any
// other invalid bytes are replaced by U+FFFD.
func validUTF8(b []byte) string {
	for i := 1; i < utf8.UTFMax && i <= len(b); i++ {
		if c := b[len(b)-i]; utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-i:]) {
				b = b[:len(b)-i]
			}
			break
		}
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}
