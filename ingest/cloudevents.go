package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/nats-io/nats.go"

	"github.com/jobhooks/jobhooks/events"
)

// serveCloudEvent handles a change CloudEvent in the HTTP binding.
func (h *Handler) serveCloudEvent(w http.ResponseWriter, r *http.Request) {
	body, ok := h.readSigned(w, r)
	if !ok {
		return
	}
	msg, id, status, err := cloudEventMsg(r, body)
	if err != nil {
		h.refuse(w, r, status, err.Error())
		return
	}
	h.publish(w, r, msg, id)
}

// cloudEventMsg reads a change CloudEvent from an HTTP request whose body
// was read already: binary (ce-* headers) or structured
// (application/cloudevents+json) mode, through the CloudEvents SDK. Its data
// follows the rules of changes published on NATS, and its id is the change
// id. It returns the change message and its id, or the 4xx status that
// refuses it and why.
func cloudEventMsg(r *http.Request, body []byte) (*nats.Msg, string, int, error) {
	r.Body = io.NopCloser(bytes.NewReader(body))
	ev, err := binding.ToEvent(r.Context(), cehttp.NewMessageFromHttpRequest(r))
	switch {
	case errors.Is(err, binding.ErrUnknownEncoding):
		return nil, "", http.StatusUnsupportedMediaType, errors.New("not a CloudEvent: send binary mode (ce-specversion, ce-id, ce-source, ce-type headers and the change as application/json) or structured mode (Content-Type: application/cloudevents+json); batches are not accepted")
	case err != nil:
		return nil, "", http.StatusBadRequest, fmt.Errorf("not a valid CloudEvent: %w", err)
	}
	if err := events.ValidateEvent(ev); err != nil {
		return nil, "", http.StatusBadRequest, err
	}
	for _, ext := range []string{events.ExtHookOrigin, events.ExtCausationID} {
		if _, ok := ev.Extensions()[ext]; ok {
			// Only a receiver's job handle marks its own changes; over HTTP
			// the mark would silence a change for every hook.
			return nil, "", http.StatusBadRequest, fmt.Errorf("%w: the %s extension is set only by job hook receivers, never over HTTP", events.ErrInvalidChange, ext)
		}
	}
	ce, err := events.ChangeOfEvent(ev)
	if err != nil {
		return nil, "", http.StatusBadRequest, err
	}
	subject, err := ce.Change.Subject()
	if err != nil {
		return nil, "", http.StatusBadRequest, err
	}
	header, data, err := events.EncodeBinary(ev)
	if err != nil {
		return nil, "", http.StatusBadRequest, err
	}
	header[nats.MsgIdHdr] = []string{events.ChangeKey(ev.Source(), ev.ID())}
	return &nats.Msg{Subject: subject, Header: header, Data: data}, ev.ID(), 0, nil
}
