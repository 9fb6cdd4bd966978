package events

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"maps"
	"net/textproto"
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

// MaxHeaderBytes is the most header bytes JetStream stores with a message.
const MaxHeaderBytes = 65535

// HeaderSize returns the size of h as NATS sends it (NATS/1.0, a line per
// value, an empty line), which counts towards the maximum payload.
func HeaderSize(h nats.Header) int {
	if len(h) == 0 {
		return 0
	}
	n := len("NATS/1.0\r\n") + len("\r\n")
	for k, vs := range h {
		for _, v := range vs {
			n += headerLineSize(k, v)
		}
	}
	return n
}

func headerLineSize(name, value string) int {
	return len(name) + len(": ") + len(textproto.TrimString(value)) + len("\r\n")
}

// FitDeadLetter returns dl if it can be stored: its headers and body within
// maxPayload, its headers within MaxHeaderBytes. If not, it returns
// ShrinkDeadLetter(dl, maxPayload).
func FitDeadLetter(dl *nats.Msg, maxPayload int) *nats.Msg {
	if hs := HeaderSize(dl.Header); hs <= MaxHeaderBytes && hs+len(dl.Data) <= maxPayload {
		return dl
	}
	return ShrinkDeadLetter(dl, maxPayload)
}

// ShrinkDeadLetter returns a dead letter small enough to store when dl is
// not: no body, dl's Jobhooks-* headers and Nats-Msg-Id, as many of its other
// headers as fit (the smallest first), and Jobhooks-Omitted saying what it
// leaves out: "body", then the names of the headers left out, sorted. The
// message it stands for is found by the headers it keeps (for a change:
// Jobhooks-Sequence, its sequence in CHANGES).
func ShrinkDeadLetter(dl *nats.Msg, maxPayload int) *nats.Msg {
	budget := min(MaxHeaderBytes, maxPayload)
	h := make(nats.Header, len(dl.Header)+1)
	used := len("NATS/1.0\r\n") + len("\r\n") +
		headerLineSize(HeaderOmitted, strings.Repeat("x", maxReasonLen+len("…"))) // room for the longest Jobhooks-Omitted
	var others []string
	for k, vs := range dl.Header {
		if !hasPrefixFold(k, "Jobhooks-") && !strings.EqualFold(k, nats.MsgIdHdr) {
			others = append(others, k)
			continue
		}
		h[k] = vs
		for _, v := range vs {
			used += headerLineSize(k, v)
		}
	}
	size := func(k string) int {
		n := 0
		for _, v := range dl.Header[k] {
			n += headerLineSize(k, v)
		}
		return n
	}
	slices.SortFunc(others, func(a, b string) int {
		if c := size(a) - size(b); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	var omitted []string
	for _, k := range others {
		if n := size(k); used+n <= budget {
			h[k] = dl.Header[k]
			used += n
		} else {
			omitted = append(omitted, k)
		}
	}
	slices.Sort(omitted)
	h.Set(HeaderOmitted, HeaderReason(strings.Join(append([]string{"body"}, omitted...), ", ")))
	return &nats.Msg{Subject: dl.Subject, Header: h}
}
