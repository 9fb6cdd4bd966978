package builtin

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"text/template"
	"time"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/receiver"
	"github.com/jobhooks/jobhooks/webhook"
)

// DefaultWebhookTimeout bounds one delivery when the hook's params do not.
const DefaultWebhookTimeout = 10 * time.Second

// WebhookParamsSchema is the JSON Schema of the webhook job's params.
const WebhookParamsSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "webhook job params",
  "type": "object",
  "required": ["url"],
  "additionalProperties": false,
  "properties": {
    "url": {"type": "string", "pattern": "^https?://", "description": "where to deliver; a Go text/template"},
    "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE"], "default": "POST"},
    "headers": {"type": "object", "additionalProperties": {"type": "string"}, "description": "extra headers; values are Go text/templates"},
    "body_template": {"type": "string", "description": "a Go text/template; empty: NetBox's JSON payload"},
    "secret": {"type": "string", "description": "signs the body: X-Hook-Signature, hex HMAC-SHA512"},
    "timeout": {"type": "string", "pattern": "^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$", "default": "10s"},
    "verify_tls": {"type": "boolean", "default": true},
    "ca_file": {"type": "string", "description": "PEM file of the CAs to trust instead of the system's"},
    "standard_webhooks_secret": {"type": "string", "pattern": "^whsec_", "description": "adds Standard Webhooks headers (webhook-id, webhook-timestamp, webhook-signature)"}
  }
}`

// webhookParams are a webhook hook's params.
type webhookParams struct {
	URL                    string            `json:"url"`
	Method                 string            `json:"method"`
	Headers                map[string]string `json:"headers"`
	BodyTemplate           string            `json:"body_template"`
	Secret                 string            `json:"secret"`
	Timeout                string            `json:"timeout"`
	VerifyTLS              *bool             `json:"verify_tls"`
	CAFile                 string            `json:"ca_file"`
	StandardWebhooksSecret string            `json:"standard_webhooks_secret"`
}

// webhookConfig is the params, parsed.
type webhookConfig struct {
	method    string
	url       *template.Template
	headers   map[string]*template.Template
	body      *template.Template // nil: NetBox's payload
	secret    []byte
	stdKey    []byte
	timeout   time.Duration
	tlsConfig *tls.Config
}

var webhookMethods = map[string]bool{"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true}

// templateFuncs are available to every template: json encodes a value, as
// a body template usually needs.
var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
}

// parseWebhookParams checks and parses params. Its errors never quote a
// value (a header value or secret may be one), only names what is wrong.
func parseWebhookParams(raw json.RawMessage) (*webhookConfig, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil, errors.New(`the webhook job needs params with a "url"`)
	}
	var p webhookParams
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("webhook params: %w", err)
	}
	c := &webhookConfig{method: p.Method, headers: map[string]*template.Template{}, timeout: DefaultWebhookTimeout}
	if c.method == "" {
		c.method = http.MethodPost
	}
	if !webhookMethods[c.method] {
		return nil, fmt.Errorf("method %q: want GET, POST, PUT, PATCH or DELETE", c.method)
	}
	if !strings.HasPrefix(p.URL, "http://") && !strings.HasPrefix(p.URL, "https://") {
		return nil, errors.New(`url must start with http:// or https://`)
	}
	var err error
	if c.url, err = template.New("url").Funcs(templateFuncs).Parse(p.URL); err != nil {
		return nil, fmt.Errorf("url template: %w", err)
	}
	for name, v := range p.Headers {
		if name == "" || strings.ContainsAny(name, " :\r\n\t") {
			return nil, fmt.Errorf("header name %q is not valid", name)
		}
		if c.headers[name], err = template.New("header " + name).Funcs(templateFuncs).Parse(v); err != nil {
			return nil, fmt.Errorf("template of header %s: %w", name, err)
		}
	}
	if p.BodyTemplate != "" {
		if c.body, err = template.New("body_template").Funcs(templateFuncs).Parse(p.BodyTemplate); err != nil {
			return nil, fmt.Errorf("body_template: %w", err)
		}
	}
	if p.Secret != "" {
		c.secret = []byte(p.Secret)
	}
	if p.StandardWebhooksSecret != "" {
		if c.stdKey, err = webhook.ParseStandardSecret(p.StandardWebhooksSecret); err != nil {
			// ParseStandardSecret's error does not quote the secret.
			return nil, fmt.Errorf("standard_webhooks_secret: %w", err)
		}
	}
	if p.Timeout != "" {
		if c.timeout, err = time.ParseDuration(p.Timeout); err != nil {
			return nil, fmt.Errorf("timeout: %w", err)
		}
		if c.timeout <= 0 {
			return nil, fmt.Errorf("timeout %s: want more than 0", p.Timeout)
		}
	}
	verify := p.VerifyTLS == nil || *p.VerifyTLS
	switch {
	case !verify && p.CAFile != "":
		// NetBox refuses the same: a CA file means verifying.
		return nil, errors.New("ca_file needs verify_tls")
	case !verify:
		c.tlsConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the hook asked for it
	case p.CAFile != "":
		pem, err := os.ReadFile(p.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificate in it", p.CAFile)
		}
		c.tlsConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return c, nil
}

// CheckWebhookParams is the webhook job's JobInfo.CheckParams: what the
// schema cannot check (templates parse, the timeout, the CA file, the
// whsec_ secret decodes).
func CheckWebhookParams(raw json.RawMessage) error {
	_, err := parseWebhookParams(raw)
	return err
}

// WebhookData is what the url, header and body templates see: NetBox's
// payload fields, plus the change's differences.
type WebhookData struct {
	Event       string
	Timestamp   string
	ObjectType  string
	Username    string
	RequestID   string
	Data        map[string]any
	Snapshots   *webhook.Snapshots
	Context     map[string]any
	Differences events.Differences
}

// Webhook is the webhook job: it delivers the change to params.url, by
// default with NetBox's payload, signed as NetBox signs it.
type Webhook struct {
	// Client sends the requests; nil: one per attempt, built from the
	// params' TLS settings. Its redirects should not be followed
	// (webhook.NoRedirects).
	Client *http.Client
}

// ReceiveJobHook delivers one attempt and records it in the job's log.
func (w Webhook) ReceiveJobHook(ctx context.Context, job *receiver.Job, ch *receiver.Change, action events.Action, object map[string]any) error {
	cfg, err := parseWebhookParams(ch.Params)
	if err != nil {
		return receiver.Permanent(fmt.Errorf("invalid params: %w", err))
	}
	p := webhook.NewPayload(&ch.Change, ch.Context, ch.Event.Time())
	data := WebhookData{Event: p.Event, Timestamp: p.Timestamp, ObjectType: p.ObjectType, Username: ch.User,
		RequestID: ch.RequestID, Data: p.Data, Snapshots: p.Snapshots, Context: p.Context,
		Differences: ch.Snapshots().Differences}

	req := webhook.Delivery{Method: cfg.method, Header: http.Header{}, Timeout: cfg.timeout}
	if req.URL, err = render(cfg.url, data); err != nil {
		return receiver.Permanent(err)
	}
	if cfg.body != nil {
		s, err := render(cfg.body, data)
		if err != nil {
			return receiver.Permanent(err)
		}
		req.Body = []byte(s)
	} else if req.Body, err = webhook.Encode(p); err != nil {
		return receiver.Permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "jobhooks-webhook")
	for name, t := range cfg.headers {
		v, err := render(t, data)
		if err != nil {
			return receiver.Permanent(err)
		}
		if strings.ContainsAny(v, "\r\n") {
			// Never quote v: it may be a credential.
			return receiver.Permanent(fmt.Errorf("header %s: the rendered value has a line break", name))
		}
		req.Header.Set(name, v)
	}
	if cfg.secret != nil {
		req.Header.Set(webhook.HeaderSignature, webhook.Sign(cfg.secret, req.Body))
	}
	if cfg.stdKey != nil {
		// The result key is stable across retries and replays, so the
		// endpoint can de-duplicate by webhook-id.
		id := receiver.ResultKey(ch.Hook, ch.Key)
		ts := time.Now().Unix()
		req.Header.Set(webhook.HeaderWebhookID, id)
		req.Header.Set(webhook.HeaderWebhookTimestamp, fmt.Sprint(ts))
		req.Header.Set(webhook.HeaderWebhookSignature, webhook.StandardSignature(cfg.stdKey, id, ts, req.Body))
	}

	client := w.Client
	if client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if cfg.tlsConfig != nil {
			tr.TLSClientConfig = cfg.tlsConfig
		}
		defer tr.CloseIdleConnections()
		client = &http.Client{Transport: tr, CheckRedirect: webhook.NoRedirects}
	}
	a := webhook.Deliver(ctx, client, req)
	err = a.Err()
	switch a.Outcome {
	case webhook.Delivered:
		job.Log(receiver.LevelSuccess, a.Summary(), a, ch.Object())
		return nil
	case webhook.Retry:
		job.Log(receiver.LevelWarning, a.Summary(), a, ch.Object())
		if a.RetryAfter > 0 {
			return receiver.RetryAfter(err, a.RetryAfter)
		}
		return err
	default:
		// Not LevelFailure: that would ack the message; a permanent error
		// dead-letters it, to replay once the endpoint is fixed.
		job.Log(receiver.LevelError, a.Summary(), a, ch.Object())
		return receiver.Permanent(err)
	}
}

// render executes t; its error names the template, never its output.
func render(t *template.Template, data WebhookData) (string, error) {
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("render %s: %w", t.Name(), err)
	}
	return b.String(), nil
}
