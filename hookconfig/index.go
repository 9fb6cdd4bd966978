package hookconfig

import (
	"cmp"
	"slices"

	"github.com/jobhooks/jobhooks/events"
)

// Index is an immutable routing table of hooks: which enabled hooks run for
// a (content type, action). It is built once, with every answer computed
// up front, so lookups are one map access and allocate nothing; a changed
// configuration means a new Index.
//
// An Index shares its hooks and slices with its callers: they must not be
// modified (use Hook.Clone for a copy to change).
type Index struct {
	byName map[string]*Hook
	sorted []*Hook // every hook, by name
	routes map[route][]*Hook
}

// route is the key hooks are looked up by.
type route struct {
	contentType string
	action      events.Action
}

// NewIndex builds an index of hooks. Nil hooks are skipped; of two hooks
// with one name, the later one is kept. The hooks are expected to be valid
// (Validate): the index does not check them.
func NewIndex(hooks []*Hook) *Index {
	byName := make(map[string]*Hook, len(hooks))
	for _, h := range hooks {
		if h != nil {
			byName[h.Name] = h
		}
	}
	sorted := make([]*Hook, 0, len(byName))
	for _, h := range byName {
		sorted = append(sorted, h)
	}
	slices.SortFunc(sorted, func(a, b *Hook) int { return cmp.Compare(a.Name, b.Name) })

	routes := make(map[route][]*Hook)
	for _, h := range sorted { // in name order, so every route's slice is too
		if !h.Enabled {
			continue
		}
		for _, ct := range h.ContentTypes {
			for _, a := range h.Events {
				k := route{ct, a}
				routes[k] = append(routes[k], h)
			}
		}
	}
	for k, hs := range routes {
		// Full slice expression: a caller's append must copy, not write
		// into a shared backing array.
		routes[k] = hs[:len(hs):len(hs)]
	}
	return &Index{byName: byName, sorted: sorted[:len(sorted):len(sorted)], routes: routes}
}

// Lookup returns the enabled hooks for a change of contentType with action,
// sorted by name; nil if there are none.
func (x *Index) Lookup(contentType string, action events.Action) []*Hook {
	return x.routes[route{contentType, action}]
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
