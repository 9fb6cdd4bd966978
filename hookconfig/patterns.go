package hookconfig

import (
	"fmt"
	"strings"

	"github.com/jobhooks/jobhooks/events"
)

// Content-type patterns a hook may list in content_types besides exact
// content types.
const (
	// AllContentTypes matches the changes of every content type.
	AllContentTypes = "*"
	// appPatternSuffix ends an app pattern, "<app_label>.*": every model of
	// the app.
	appPatternSuffix = ".*"
)

// patternKind is what a content_types entry is.
type patternKind uint8

const (
	patternExact patternKind = iota // dcim.device
	patternApp                      // dcim.*
	patternAll                      // *
)

// classify returns the kind of a valid content_types entry and its app
// label ("" for *).
func classify(ct string) (patternKind, string) {
	switch {
	case ct == AllContentTypes:
		return patternAll, ""
	case strings.HasSuffix(ct, appPatternSuffix):
		return patternApp, ct[:len(ct)-len(appPatternSuffix)]
	}
	app, _, _ := strings.Cut(ct, ".")
	return patternExact, app
}

// validateContentType checks one content_types entry: a content type
// (dcim.device), an app pattern (dcim.*) or *.
func validateContentType(ct string) error {
	if ct == AllContentTypes {
		return nil
	}
	if !strings.Contains(ct, "*") {
		return events.ValidateContentType(ct)
	}
	app, ok := strings.CutSuffix(ct, appPatternSuffix)
	// app.x is a valid content type exactly when app is a valid app label.
	if !ok || events.ValidateContentType(app+".x") != nil {
		return fmt.Errorf("%w %q: a pattern is <app_label>.* (every model of the app, e.g. dcim.*) or * (every content type); * stands for a whole model name only", events.ErrInvalidContentType, ct)
	}
	return nil
}

// validateContentTypes checks every entry, that none is listed twice and
// that none is covered by a pattern of the same list (dcim.device with
// dcim.*, anything with *): a redundant entry is a sign the hook is not what
// its writer meant. The first problem is reported in list order; maps, not
// scans, because the watcher validates whatever is stored.
func validateContentTypes(cts []string) error {
	all := -1
	apps := make(map[string]int)
	seen := make(map[string]int, len(cts))
	for i, ct := range cts {
		if err := validateContentType(ct); err != nil {
			return fmt.Errorf("content_types[%d]: %w", i, err)
		}
		if j, dup := seen[ct]; dup {
			return fmt.Errorf("content_types[%d]: %q is already content_types[%d]", i, ct, j)
		}
		seen[ct] = i
		switch kind, app := classify(ct); kind {
		case patternAll:
			all = i
		case patternApp:
			apps[app] = i
		}
	}
	for i, ct := range cts {
		kind, app := classify(ct)
		if all >= 0 && kind != patternAll {
			return fmt.Errorf("content_types[%d]: %q is already covered by content_types[%d] %q", i, ct, all, AllContentTypes)
		}
		if j, ok := apps[app]; ok && kind == patternExact {
			return fmt.Errorf("content_types[%d]: %q is already covered by content_types[%d] %q", i, ct, j, cts[j])
		}
	}
	return nil
}

// matchContentType reports whether the content_types entry p selects the
// changes of contentType.
func matchContentType(p, contentType string) bool {
	switch kind, app := classify(p); kind {
	case patternAll:
		return true
	case patternApp:
		return len(contentType) > len(app) && contentType[len(app)] == '.' && strings.HasPrefix(contentType, app)
	}
	return p == contentType
}

// overlap reports whether two content_types entries select a change in
// common: Nautobot's "same content type", extended to patterns.
func overlap(a, b string) bool {
	ka, appA := classify(a)
	kb, appB := classify(b)
	switch {
	case ka == patternAll || kb == patternAll:
		return true
	case ka == patternExact && kb == patternExact:
		return a == b
	}
	return appA == appB // at least one app pattern
}
