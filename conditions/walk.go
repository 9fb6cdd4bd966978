package conditions

// walkStatus is how a path walk ended: reason is zero when it resolved,
// else ReasonMissingKey or ReasonNotAnObject at keys[at]. mapped says the
// walk stopped on a list whose items all have the last key (see walk).
type walkStatus struct {
	reason Reason
	at     int
	mapped bool
}

func (s walkStatus) failed() bool { return s.reason != ReasonNone }

// walk reduces keys over v as NetBox's walk_path does: an object yields
// its key; a list yields the key of each of its items (each must be an
// object with it); a null, or a missing key, stops the walk as missing; any
// other value cannot be walked. On failure the value returned is the one
// the walk could not descend. emptyListAbsent makes an empty list missing
// rather than an empty result, as the snapshot operators need.
//
// With lazyLast, a list met at the last key is checked but not mapped: the
// list itself is returned with mapped set, and the caller reads each
// item's key through a mappedList, so tags.slug costs no allocation.
func walk(v any, keys []string, emptyListAbsent, lazyLast bool) (any, walkStatus) {
	for i, k := range keys {
		switch x := v.(type) {
		case nil:
			return nil, walkStatus{reason: ReasonMissingKey, at: i}
		case map[string]any:
			e, ok := x[k]
			if !ok {
				return v, walkStatus{reason: ReasonMissingKey, at: i}
			}
			v = e
		case []any:
			if len(x) == 0 && emptyListAbsent {
				return v, walkStatus{reason: ReasonMissingKey, at: i}
			}
			for _, item := range x {
				switch m := item.(type) {
				case nil:
					return v, walkStatus{reason: ReasonMissingKey, at: i}
				case map[string]any:
					if _, ok := m[k]; !ok {
						return v, walkStatus{reason: ReasonMissingKey, at: i}
					}
				default:
					return v, walkStatus{reason: ReasonNotAnObject, at: i}
				}
			}
			if lazyLast && i == len(keys)-1 {
				return v, walkStatus{mapped: true}
			}
			v = mappedList{x, k}.materialize()
		default:
			return v, walkStatus{reason: ReasonNotAnObject, at: i}
		}
	}
	return v, walkStatus{}
}

// mappedList is key read from each item of items, all objects that have
// it (walk checked), without building that list.
type mappedList struct {
	items []any
	key   string
}

func (l mappedList) at(i int) any { return l.items[i].(map[string]any)[l.key] }

func (l mappedList) materialize() []any {
	out := make([]any, len(l.items))
	for i := range l.items {
		out[i] = l.at(i)
	}
	return out
}

// equalList is pyEqual(list, l).
func (l mappedList) equalList(list []any) bool {
	if len(list) != len(l.items) {
		return false
	}
	for i, e := range list {
		if !pyEqual(e, l.at(i)) {
			return false
		}
	}
	return true
}
