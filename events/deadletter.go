package events

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"maps"
	"slices"
	"strconv"
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

// ChangeDeadLetterID returns the message id of a change's dead letter, so
// that dead-lettering one change twice (it was delivered again) stores it
// once and two changes never share one: deadletter.changes.<seq> from the
// change's sequence in CHANGES, or, when that is unknown (0),
// deadletter.changes.sha-<first 32 hex digits of a SHA-256 over the
// subject, the headers and the body>.
func ChangeDeadLetterID(seq uint64, subject string, header nats.Header, data []byte) string {
	if seq > 0 {
		return DeadLetterChanges + "." + strconv.FormatUint(seq, 10)
	}
	h := sha256.New()
	length := func(n int) {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(n))
		h.Write(b[:])
	}
	field := func(s string) {
		length(len(s))
		h.Write([]byte(s))
	}
	field(subject)
	length(len(header))
	for _, k := range slices.Sorted(maps.Keys(header)) {
		field(k)
		length(len(header[k]))
		for _, v := range header[k] {
			field(v)
		}
	}
	length(len(data))
	h.Write(data)
	var sum [sha256.Size]byte
	return DeadLetterChanges + ".sha-" + hex.EncodeToString(h.Sum(sum[:0]))[:32]
}
