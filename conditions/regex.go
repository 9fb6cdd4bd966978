package conditions

import (
	"fmt"
	"regexp"
	"strings"
)

// compileRegex compiles a regex value anchored at the start only, as
// Python's re.match is (not at the end, and not at each line with (?m)).
// Go's RE2 lacks what needs backtracking; those constructs get a message
// that says so instead of RE2's terse one.
func compileRegex(pattern string) (*regexp.Regexp, error) {
	if q := openMinQuantifier(pattern); q != "" {
		return nil, &problem{msg: fmt.Sprintf("regex %q uses %s, which Python reads as %s but Go's RE2 as literal text; write %s (or \\{ for a literal brace)", pattern, q, "{0"+q[1:], "{0"+q[1:]), is: ErrRegex}
	}
	if _, err := regexp.Compile(pattern); err != nil {
		return nil, &problem{msg: regexMessage(pattern, err), is: ErrRegex}
	}
	// The group keeps an alternation (a|b) anchored as a whole; Go scopes
	// inline flags such as (?i) to it, which is what they mean here.
	return regexp.MustCompile(`\A(?:` + pattern + `)`), nil
}

func regexMessage(pattern string, err error) string {
	unsupported := func(what string) string {
		return fmt.Sprintf("regex %q uses %s, which Go's RE2 regex engine does not support (it has no backtracking); rewrite it without", pattern, what)
	}
	for _, c := range []struct{ syntax, what string }{
		{"(?=", "a lookahead (?=...)"},
		{"(?!", "a negative lookahead (?!...)"},
		{"(?<=", "a lookbehind (?<=...)"},
		{"(?<!", "a negative lookbehind (?<!...)"},
		{"(?>", "an atomic group (?>...)"},
		{"(?(", "a conditional group (?(...)...)"},
	} {
		if strings.Contains(pattern, c.syntax) {
			return unsupported(c.what)
		}
	}
	msg := err.Error()
	if strings.Contains(msg, "invalid escape sequence: `\\") {
		esc := msg[strings.LastIndex(msg, "`\\")+1 : len(msg)-1]
		if len(esc) == 2 && esc[1] >= '1' && esc[1] <= '9' {
			return unsupported("a backreference " + esc)
		}
		if esc == `\Z` {
			return fmt.Sprintf("regex %q: Go's RE2 has no \\Z; use \\z (end of text)", pattern)
		}
	}
	return fmt.Sprintf("regex %q does not compile: %s", pattern, strings.TrimPrefix(msg, "error parsing regexp: "))
}

// openMinQuantifier returns the first {,n} or {,} in pattern outside a
// character class and not escaped, or "". Python reads it as the
// quantifier {0,n} ({,} as *); RE2 reads it as literal text, so the same
// pattern would silently mean something else.
func openMinQuantifier(pattern string) string {
	inClass := false
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; {
		case c == '\\':
			if strings.HasPrefix(pattern[i:], `\Q`) { // RE2's literal text, up to \E
				end := strings.Index(pattern[i+2:], `\E`)
				if end < 0 {
					return ""
				}
				i += 2 + end + 1
				continue
			}
			i++ // the escaped character
		case inClass:
			if c == '[' && i+1 < len(pattern) && pattern[i+1] == ':' { // [:alpha:]
				if end := strings.Index(pattern[i+2:], ":]"); end >= 0 {
					i += 2 + end + 1
				}
			} else if c == ']' {
				inClass = false
			}
		case c == '[':
			inClass = true
			if i+1 < len(pattern) && pattern[i+1] == '^' {
				i++
			}
			if i+1 < len(pattern) && pattern[i+1] == ']' { // a leading ] is literal
				i++
			}
		case c == '{' && strings.HasPrefix(pattern[i:], "{,"):
			j := i + 2
			for j < len(pattern) && pattern[j] >= '0' && pattern[j] <= '9' {
				j++
			}
			if j < len(pattern) && pattern[j] == '}' {
				return pattern[i : j+1]
			}
		}
	}
	return ""
}
