package receiver

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
)

// Limits that keep every result record within the server's message size,
// whatever a job logs or a change carries.
const (
	// maxLogEntries bounds the entries of a record, and those a Job keeps
	// in memory during an attempt.
	maxLogEntries = 500
	// maxLogMessage bounds an entry's message, and a record's error.
	maxLogMessage = 8 << 10
	// maxObjectField bounds each field of an entry's object reference
	// (content type, id, repr).
	maxObjectField = 1 << 10
	// maxLogData bounds an entry's data, encoded: larger data is replaced
	// by {"truncated": true, "bytes": N}.
	maxLogData = 16 << 10
	// defaultMaxPayload is the server's default max payload, used when the
	// connection's is not known.
	defaultMaxPayload = 1 << 20
	// payloadHeadroom is left of the max payload for a record's headers
	// (the KV revision check).
	payloadHeadroom = 1 << 10
)

// clip cuts s to at most n bytes, on a rune boundary, marking a cut with
// "…".
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.ToValidUTF8(s[:cut], "") + "…"
}

// capRef returns obj with each field capped; nil for nil.
func capRef(obj *ObjectRef) *ObjectRef {
	if obj == nil {
		return nil
	}
	return &ObjectRef{
		ContentType: clip(obj.ContentType, maxObjectField),
		ID:          clip(obj.ID, maxObjectField),
		Repr:        clip(obj.Repr, maxObjectField),
	}
}

// capData returns data encoded, or what replaces it when it is too large or
// cannot be encoded; nil for nil.
func capData(data any) any {
	if data == nil {
		return nil
	}
	b, err := json.Marshal(data)
	switch {
	case err != nil:
		return map[string]any{"unencodable": clip(err.Error(), maxObjectField)}
	case len(b) > maxLogData:
		return map[string]any{"truncated": true, "bytes": len(b)}
	}
	return json.RawMessage(b)
}

// capEntry returns e with every field capped.
func capEntry(e LogEntry) LogEntry {
	e.Message = clip(e.Message, maxLogMessage)
	e.Object = capRef(e.Object)
	e.Data = capData(e.Data)
	return e
}

// droppedMarker is the entry that stands for n entries cut from a log.
func droppedMarker(e LogEntry, n int) LogEntry {
	return LogEntry{Time: e.Time, Level: LevelWarning,
		Message: fmt.Sprintf("%d earlier log entries dropped (a result keeps the newest %d, within the server's max payload)", n, maxLogEntries)}
}

// droppedBy returns how many entries e stands for: the count of a marker,
// else 1.
func droppedBy(e LogEntry) int {
	var n int
	if e.Level == LevelWarning && e.Object == nil {
		if _, err := fmt.Sscanf(e.Message, "%d earlier log entries dropped", &n); err == nil && n > 0 {
			return n
		}
	}
	return 1
}

// encodeResult encodes r within limit bytes: every field of every entry
// capped, then the oldest entries cut (at most maxLogEntries are kept) until
// it fits, and a marker in their place saying how many. r is not changed.
// A record that cannot fit even without its logs is an error wrapping
// nats.ErrMaxPayload.
func encodeResult(r *Result, limit int) ([]byte, []LogEntry, error) {
	rec := *r
	rec.Error = clip(rec.Error, maxLogMessage)
	logs := make([]LogEntry, len(r.Logs))
	for i, e := range r.Logs {
		logs[i] = capEntry(e)
	}
	encode := func(kept []LogEntry) ([]byte, error) {
		rec.Logs = kept
		data, err := json.Marshal(&rec)
		if err != nil {
			return nil, fmt.Errorf("encode job result %s: %w", r.Key(), err)
		}
		return data, nil
	}
	if len(logs) <= maxLogEntries { // most records fit whole: one encoding
		data, err := encode(logs)
		switch {
		case err != nil:
			return nil, nil, err
		case len(data) <= limit:
			return data, logs, nil
		}
	}
	sizes := make([]int, len(logs))
	total := 0
	for i := range logs {
		b, err := json.Marshal(logs[i])
		if err != nil { // capData encodes what it keeps: cannot happen
			return nil, nil, fmt.Errorf("encode a log entry of job result %s: %w", r.Key(), err)
		}
		sizes[i] = len(b) + 1 // and a comma
		total += sizes[i]
	}
	empty, err := encode([]LogEntry{})
	if err != nil {
		return nil, nil, err
	}
	const markerSize = 256 // a marker, encoded, is shorter
	// Cut the oldest entries until the rest, and a marker, fit.
	start, dropped := 0, 0
	over := func() bool {
		n, size := len(logs)-start, len(empty)+total
		if start > 0 {
			n, size = n+1, size+markerSize
		}
		return size > limit || n > maxLogEntries
	}
	for start < len(logs) && over() {
		dropped += droppedBy(logs[start])
		total -= sizes[start]
		start++
	}
	for {
		kept := logs[start:]
		if start > 0 {
			kept = append([]LogEntry{droppedMarker(logs[start-1], dropped)}, kept...)
		}
		data, err := encode(kept)
		if err != nil {
			return nil, nil, err
		}
		if len(data) <= limit {
			return data, kept, nil
		}
		if start == len(logs) {
			return nil, nil, fmt.Errorf("job result %s: %d bytes without its logs, over the limit of %d: %w",
				r.Key(), len(empty), limit, nats.ErrMaxPayload)
		}
		dropped += droppedBy(logs[start])
		start++
	}
}
