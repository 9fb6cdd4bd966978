package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/webhook"
)

// Paths of the ingest endpoints.
const (
	PathNetBox   = "/ingest/netbox"
	PathNautobot = "/ingest/nautobot"
	PathChanges  = "/changes"
)

// Defaults of Options.
const (
	DefaultMaxBody        = 4 << 20
	DefaultPublishTimeout = 10 * time.Second
	DefaultMaxInFlight    = 64
)

// Sources are the ce-source of the changes made from webhook bodies.
const (
	SourceNetBox   = "jobhooks/ingest/netbox"
	SourceNautobot = "jobhooks/ingest/nautobot"
)

// Options configures a Handler.
type Options struct {
	// Secret, when set, is the key every request must be signed with:
	// X-Hook-Signature, the hex HMAC-SHA512 of the exact body.
	Secret []byte
	// MaxBody is the largest body accepted, in bytes (default 4 MiB).
	MaxBody int64
	// MaxInFlight bounds the requests handled at once, and so the memory
	// their bodies take before their signatures are checked (default 64);
	// beyond it a request gets 503 with Retry-After.
	MaxInFlight int
	// PublishTimeout bounds the wait for JetStream's acknowledgement
	// (default 10s).
	PublishTimeout time.Duration
	// Logger receives refusals and failures; nil means slog.Default().
	Logger *slog.Logger
}

// Handler serves the ingest endpoints. Create it with New and add it to a
// mux with Register.
type Handler struct {
	js       jetstream.JetStream
	opts     Options
	log      *slog.Logger
	inFlight chan struct{}
}

// New returns a Handler storing changes through js.
func New(js jetstream.JetStream, opts Options) *Handler {
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.PublishTimeout <= 0 {
		opts.PublishTimeout = DefaultPublishTimeout
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = DefaultMaxInFlight
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Handler{js: js, opts: opts, log: opts.Logger, inFlight: make(chan struct{}, opts.MaxInFlight)}
}

// Register adds the endpoints to mux: POST /ingest/netbox, POST
// /ingest/nautobot and POST /changes (other methods get 405).
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST "+PathNetBox, h.limit(h.serveWebhook(webhook.NetBox, SourceNetBox)))
	mux.HandleFunc("POST "+PathNautobot, h.limit(h.serveWebhook(webhook.Nautobot, SourceNautobot)))
	mux.HandleFunc("POST "+PathChanges, h.limit(h.serveCloudEvent))
}

// limit answers 503 when MaxInFlight requests are being handled already.
func (h *Handler) limit(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case h.inFlight <- struct{}{}:
			defer func() { <-h.inFlight }()
			next(w, r)
		default:
			w.Header().Set("Retry-After", "1")
			h.refuse(w, r, http.StatusServiceUnavailable, fmt.Sprintf("busy: %d requests in flight; retry", h.opts.MaxInFlight))
		}
	}
}

// Accepted is the body of a 202: where the change is stored.
type Accepted struct {
	ID      string `json:"id"`
	Subject string `json:"subject"`
	// Duplicate is true when JetStream already had a change with this id
	// (the sender's retry): it is stored once.
	Duplicate bool   `json:"duplicate"`
	Stream    string `json:"stream"`
	StreamSeq uint64 `json:"stream_seq"`
}

// serveWebhook handles NetBox's or Nautobot's webhook body.
func (h *Handler) serveWebhook(d webhook.Dialect, source string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, ok := h.readSigned(w, r)
		if !ok {
			return
		}
		msg, id, status, err := webhookMsg(d, source, r, body)
		if err != nil {
			h.refuse(w, r, status, err.Error())
			return
		}
		h.publish(w, r, msg, id)
	}
}

// webhookMsg makes the change message of a webhook request and returns it
// with its change id, or says which 4xx status refuses it and why.
func webhookMsg(d webhook.Dialect, source string, r *http.Request, body []byte) (*nats.Msg, string, int, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !events.IsJSON(ct) {
		return nil, "", http.StatusUnsupportedMediaType, fmt.Errorf("Content-Type %q: send the webhook body as application/json", ct)
	}
	in, err := webhook.Decode(d, body, webhook.DecodeOptions{ContentType: r.URL.Query().Get("content_type")})
	if err != nil {
		if errors.Is(err, webhook.ErrNotObjectChange) {
			return nil, "", http.StatusUnprocessableEntity, err
		}
		return nil, "", http.StatusBadRequest, err
	}
	msg, err := events.NewMsg(&in.Change, events.EventOptions{ID: in.ID, Source: source})
	if err != nil {
		return nil, "", http.StatusBadRequest, err
	}
	return msg, in.ID, 0, nil
}

// readSigned reads the body within the limit and checks its signature
// before anything parses it. It answers the request itself when not ok.
func (h *Handler) readSigned(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			h.refuse(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is over %d bytes (the router's --http-max-body)", tooLarge.Limit))
			return nil, false
		}
		h.refuse(w, r, http.StatusBadRequest, "reading the body: "+err.Error())
		return nil, false
	}
	if len(h.opts.Secret) == 0 {
		return body, true
	}
	signature := r.Header.Get(webhook.HeaderSignature)
	if signature == "" {
		h.refuse(w, r, http.StatusUnauthorized, "no "+webhook.HeaderSignature+" header: this router requires signed requests (the hex HMAC-SHA512 of the body with the shared secret)")
		return nil, false
	}
	if err := webhook.Verify(h.opts.Secret, body, signature); err != nil {
		h.refuse(w, r, http.StatusUnauthorized, webhook.HeaderSignature+" does not match the body: check that the secret is the router's ingest secret")
		return nil, false
	}
	return body, true
}

// publish stores msg and answers 202 once JetStream acknowledged it.
func (h *Handler) publish(w http.ResponseWriter, r *http.Request, msg *nats.Msg, id string) {
	nc := h.js.Conn()
	if !nc.IsConnected() {
		h.unavailable(w, r, id, msg.Subject, errors.New("not connected to NATS"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.PublishTimeout)
	defer cancel()
	ack, err := h.js.PublishMsg(ctx, msg)
	switch {
	case errors.Is(err, nats.ErrMaxPayload):
		h.refuse(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("the change is over the NATS server's max payload (%d bytes)", nc.MaxPayload()),
			"change_id", id, "subject", msg.Subject)
		return
	case err != nil:
		h.unavailable(w, r, id, msg.Subject, err)
		return
	}
	h.log.Debug("change stored", "path", r.URL.Path, "change_id", id, "subject", msg.Subject, "stream_seq", ack.Sequence, "duplicate", ack.Duplicate)
	writeJSON(w, http.StatusAccepted, Accepted{ID: id, Subject: msg.Subject, Duplicate: ack.Duplicate, Stream: ack.Stream, StreamSeq: ack.Sequence})
}

// unavailable answers 503: JetStream did not confirm the change. The sender
// should retry; the change id makes a retry of a change that was in fact
// stored a duplicate.
func (h *Handler) unavailable(w http.ResponseWriter, r *http.Request, id, subject string, err error) {
	h.log.Warn("ingest: change not stored", "path", r.URL.Path, "change_id", id, "subject", subject, "error", err)
	w.Header().Set("Retry-After", "5")
	writeError(w, http.StatusServiceUnavailable, "JetStream did not store the change: "+err.Error()+"; retry later")
}

// refuse answers a 4xx with its reason; attrs say which change, once known.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, status int, reason string, attrs ...any) {
	h.log.Info("ingest: request refused", append([]any{"path", r.URL.Path, "status", status, "remote", r.RemoteAddr, "reason", reason}, attrs...)...)
	writeError(w, status, reason)
}
