package events

import (
	"strings"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
)

// maxReasonLen bounds the reasons written into headers such as
// Jobhooks-Error, so that a huge error cannot bloat every dead letter.
const maxReasonLen = 1024

// HeaderValue reads a header whatever the case of its name: nats.Header.Get
// is case-sensitive, but the CloudEvents binding and HTTP-minded producers
// are not.
func HeaderValue(h nats.Header, name string) string {
	if v := h.Get(name); v != "" {
		return v
	}
	for k, v := range h {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// HeaderReason makes an error text fit for a header value: one line (a
// header cannot hold a line break), at most 1 KB.
func HeaderReason(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxReasonLen {
		cut := maxReasonLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut-- // never split a character
		}
		s = s[:cut] + "…"
	}
	return s
}
