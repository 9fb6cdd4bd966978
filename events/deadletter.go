package events

import (
	"strings"

	"github.com/nats-io/nats.go"
)

// NewDeadLetter builds the dead letter of a message that cannot be
// processed: on subject, the message's headers and body, Jobhooks-Error =
// reason (one line) and Nats-Msg-Id = msgID, so that dead-lettering the same
// message twice stores it once.
//
// The message's own Nats-* headers are dropped: they are directives to the
// server (Nats-Expected-Stream, Nats-Expected-Last-Sequence, Nats-TTL,
// Nats-Rollup, ...) that would make storing the dead letter fail, every
// time, or act on the dead-letter stream.
func NewDeadLetter(subject string, header nats.Header, data []byte, reason, msgID string) *nats.Msg {
	h := make(nats.Header, len(header)+2)
	for k, v := range header {
		if !strings.HasPrefix(strings.ToLower(k), "nats-") {
			h[k] = append([]string(nil), v...)
		}
	}
	h.Set(HeaderError, HeaderReason(reason))
	h.Set(nats.MsgIdHdr, msgID)
	return &nats.Msg{Subject: subject, Header: h, Data: data}
}
