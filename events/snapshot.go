package events

import "reflect"

// Snapshots is a change's before-and-after view, the shape of Nautobot's
// ObjectChange.get_snapshots().
type Snapshots struct {
	PreChange   map[string]any `json:"prechange"`
	PostChange  map[string]any `json:"postchange"`
	Differences Differences    `json:"differences"`
}

// Differences lists the top-level keys that changed: Added holds their new
// values, Removed their old ones. A nil map means "not applicable" (Removed
// on create, Added on delete), as in Nautobot.
type Differences struct {
	Added   map[string]any `json:"added"`
	Removed map[string]any `json:"removed"`
}

// ignoredKeys are top-level keys whose change alone is not a difference.
var ignoredKeys = map[string]bool{"last_updated": true}

// Snapshots computes the change's snapshots:
//   - create: Added is the whole postchange, Removed is nil;
//   - delete: Removed is the whole prechange, Added is nil;
//   - update: the top-level keys whose values differ (nested values compared
//     whole, last_updated ignored): Added maps them to their new values,
//     Removed to their old ones. A key that disappeared is in Removed only,
//     a key that appeared is in Added only (Nautobot drops the first);
//   - update without prechange: Added is the whole postchange, Removed nil.
//
// The maps share values with the change; treat them as read-only.
func (c *Change) Snapshots() Snapshots {
	s := Snapshots{PreChange: c.PreChange, PostChange: c.PostChange}
	switch {
	case c.Action == ActionCreate || (c.PreChange == nil && c.PostChange != nil):
		s.PreChange = nil
		s.Differences.Added = c.PostChange
	case c.PostChange == nil:
		s.Differences.Removed = c.PreChange
	default:
		s.Differences = diff(c.PreChange, c.PostChange)
	}
	return s
}

func diff(before, after map[string]any) Differences {
	d := Differences{Added: map[string]any{}, Removed: map[string]any{}}
	for k, newValue := range after {
		if ignoredKeys[k] {
			continue
		}
		oldValue, existed := before[k]
		if existed && reflect.DeepEqual(oldValue, newValue) {
			continue
		}
		d.Added[k] = newValue
		if existed {
			d.Removed[k] = oldValue
		}
	}
	for k, oldValue := range before {
		if _, kept := after[k]; !kept && !ignoredKeys[k] {
			d.Removed[k] = oldValue
		}
	}
	return d
}
