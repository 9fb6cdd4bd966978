package events_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"

	"github.com/jobhooks/jobhooks/events"
)

func TestHeaderReason(t *testing.T) {
	tests := []struct {
		name, in string
		check    func(t *testing.T, got string)
	}{
		{"one line", "a\nb\t c", func(t *testing.T, got string) { assert.Equal(t, "a b c", got) }},
		{"short is kept", "boom", func(t *testing.T, got string) { assert.Equal(t, "boom", got) }},
		{"long is cut", strings.Repeat("x", 5000), func(t *testing.T, got string) {
			assert.Less(t, len(got), 1100)
			assert.True(t, strings.HasSuffix(got, "…"))
		}},
		{"a cut never splits a character", strings.Repeat("x", 1023) + strings.Repeat("ü", 100), func(t *testing.T, got string) {
			assert.True(t, utf8.ValidString(got), "%q", got[len(got)-8:])
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.check(t, events.HeaderReason(tt.in)) })
	}
}
