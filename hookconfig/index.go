package hookconfig

import (
	"cmp"
	"slices"
	"strings"

	"github.com/jobhooks/jobhooks/events"
)

// Index is an immutable routing table of hooks: which enabled hooks run for
// a (content type, action). It is built once, with every answer computed
// up front, so lookups are at most three map accesses and allocate
// nothing; a changed configuration means a new Index.
//
// Content-type patterns are answered from three tables, tried in turn:
// exact content types (whose answers include the app patterns and * hooks
// that also apply), app patterns (dcim.*, including * hooks), and *. Every
// answer is sorted by hook name, whichever entry selected the hook. The
// price is memory: an exact route repeats the pattern hooks of its app and
// action, so an index holds, per route, as many entries as hooks it runs.
//
// An Index shares its hooks and slices with its callers: they must not be
// modified (use Hook.Clone for a copy to change).
type Index struct {
	byName map[string]*Hook
	sorted []*Hook // every hook, by name
	routes map[route][]*Hook
	apps   map[route][]*Hook // route.contentType is the app label
	all    map[events.Action][]*Hook
}

// route is the key hooks are looked up by.
type route struct {
	contentType string
	action      events.Action
}

// NewIndex builds an index of hooks. Nil hooks are skipped; of two hooks
// with one name, the later one is kept. The hooks are expected to be valid
// (Validate): the index does not check them, except that a hook whose
// conditions were not compiled (ConditionSet nil with Conditions set) is
// compiled into a copy, and left out of the routes if they do not compile:
// a hook never routes with its conditions ignored.
func NewIndex(hooks []*Hook) *Index {
	byName := make(map[string]*Hook, len(hooks))
	for _, h := range hooks {
		if h != nil {
			byName[h.Name] = h
		}
	}
	sorted := make([]*Hook, 0, len(byName))
	for name, h := range byName {
		if len(h.Conditions) > 0 && h.ConditionSet() == nil {
			h = h.Clone()
			_ = h.compileConditions() // if it fails, ConditionSet stays nil: not routed
			byName[name] = h
		}
		sorted = append(sorted, h)
	}
	slices.SortFunc(sorted, func(a, b *Hook) int { return cmp.Compare(a.Name, b.Name) })

	routes := make(map[route][]*Hook)
	apps := make(map[route][]*Hook)
	all := make(map[events.Action][]*Hook)
	for _, h := range sorted { // in name order, so every table's slices are too
		if !h.Enabled || len(h.Conditions) > 0 && h.ConditionSet() == nil {
			continue
		}
		for _, ct := range h.ContentTypes {
			kind, app := classify(ct)
			for _, a := range h.Events {
				switch kind {
				case patternExact:
					routes[route{ct, a}] = appendOnce(routes[route{ct, a}], h)
				case patternApp:
					apps[route{app, a}] = appendOnce(apps[route{app, a}], h)
				case patternAll:
					all[a] = appendOnce(all[a], h)
				}
			}
		}
	}
	// Fold the wider tables into the narrower ones, so that a lookup
	// stops at the first table that has its key.
	if len(all) > 0 {
		for k, hs := range apps {
			apps[k] = mergeByName(hs, all[k.action])
		}
	}
	if len(apps) > 0 || len(all) > 0 {
		for k, hs := range routes {
			app, _, _ := strings.Cut(k.contentType, ".")
			wider, ok := apps[route{app, k.action}]
			if !ok {
				wider = all[k.action]
			}
			routes[k] = mergeByName(hs, wider)
		}
	}
	// Full slice expressions: a caller's append must copy, not write into
	// a shared backing array.
	for k, hs := range routes {
		routes[k] = hs[:len(hs):len(hs)]
	}
	for k, hs := range apps {
		apps[k] = hs[:len(hs):len(hs)]
	}
	for k, hs := range all {
		all[k] = hs[:len(hs):len(hs)]
	}
	return &Index{byName: byName, sorted: sorted[:len(sorted):len(sorted)], routes: routes, apps: apps, all: all}
}

// appendOnce appends h unless it was the last appended: hooks are added in
// name order, so a hook listing overlapping entries (which Validate
// refuses) still appears once.
func appendOnce(hs []*Hook, h *Hook) []*Hook {
	if len(hs) > 0 && hs[len(hs)-1] == h {
		return hs
	}
	return append(hs, h)
}

// mergeByName merges two lists sorted by name into a new one, each hook
// once.
func mergeByName(a, b []*Hook) []*Hook {
	if len(b) == 0 {
		return a
	}
	out := make([]*Hook, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		switch c := cmp.Compare(a[0].Name, b[0].Name); {
		case c < 0:
			out, a = append(out, a[0]), a[1:]
		case c > 0:
			out, b = append(out, b[0]), b[1:]
		default:
			out, a, b = append(out, a[0]), a[1:], b[1:]
		}
	}
	out = append(out, a...)
	return append(out, b...)
}

// Lookup returns the enabled hooks for a change of contentType with action,
// those of its exact content type and of the patterns that select it,
// sorted by name; nil if there are none.
func (x *Index) Lookup(contentType string, action events.Action) []*Hook {
	if hs, ok := x.routes[route{contentType, action}]; ok {
		return hs
	}
	if len(x.apps) > 0 {
		app, _, _ := strings.Cut(contentType, ".")
		if hs, ok := x.apps[route{app, action}]; ok {
			return hs
		}
	}
	return x.all[action]
}

// Len returns the number of hooks, enabled or not.
func (x *Index) Len() int { return len(x.sorted) }

// Hooks returns every hook, enabled or not, sorted by name.
func (x *Index) Hooks() []*Hook { return x.sorted }

// Get returns the hook name, enabled or not.
func (x *Index) Get(name string) (*Hook, bool) {
	h, ok := x.byName[name]
	return h, ok
}
