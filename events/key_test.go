package events_test

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/jobhooks/jobhooks/events"
)

func TestChangeKey(t *testing.T) {
	safe := regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	tests := []struct {
		name                  string
		source1, id1          string
		source2, id2          string
		wantSame              bool
		readablePrefixOfFirst string
	}{
		{"same source and id", "netbox://prod", "chg-1", "netbox://prod", "chg-1", true, "chg-1_"},
		{"same id, other source", "netbox://prod", "chg-1", "netbox://lab", "chg-1", false, "chg-1_"},
		{"CR/LF against a space", "s", "a\nb", "s", "a b", false, "sha-"},
		{"CR against LF", "s", "a\rb", "s", "a\nb", false, "sha-"},
		{"source/id boundary", "ab", "c", "a", "bc", false, "c_"},
		{"an id that looks like a key", "s", "chg-1", "s", "chg-1_0123456789abcdef", false, "chg-1_"},
		{"underscore is not plain", "s", "a_b", "s", "a-b", false, "sha-"},
		{"dots are not plain", "s", "a.b", "s", "a-b", false, "sha-"},
		{"long ids are hashed", "s", string(make([]byte, 129)), "s", string(make([]byte, 130)), false, "sha-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := events.ChangeKey(tt.source1, tt.id1), events.ChangeKey(tt.source2, tt.id2)
			assert.Equal(t, tt.wantSame, a == b, "%q vs %q", a, b)
			assert.Regexp(t, safe, a)
			assert.Regexp(t, safe, b)
			assert.Regexp(t, "^"+regexp.QuoteMeta(tt.readablePrefixOfFirst), a)
			assert.LessOrEqual(t, len(a), 128+17)
		})
	}
}
