package conditions

// walkStatus is how a path walk ended: reason is zero when it resolved,
// else ReasonMissingKey or ReasonNotAnObject at keys[at].
type walkStatus struct {
	reason Reason
	at     int
}

func (s walkStatus) failed() bool { return s.reason != ReasonNone }

// walk reduces keys over v as NetBox's walk_path does: an object yields
// its key; a list yields the key of each of its items (each must be an
// object with it); a null, or a missing key, stops the walk as missing; any
// other value cannot be walked. On failure the value returned is the one
// the walk could not descend. emptyListAbsent makes an empty list missing
// rather than an empty result, as the snapshot operators need.
func walk(v any, keys []string, emptyListAbsent bool) (any, walkStatus) {
	for i, k := range keys {
		switch x := v.(type) {
		case nil:
			return nil, walkStatus{ReasonMissingKey, i}
		case map[string]any:
			e, ok := x[k]
			if !ok {
				return x, walkStatus{ReasonMissingKey, i}
			}
			v = e
		case []any:
			if len(x) == 0 && emptyListAbsent {
				return x, walkStatus{ReasonMissingKey, i}
			}
			mapped := make([]any, len(x))
			for j, item := range x {
				switch m := item.(type) {
				case nil:
					return x, walkStatus{ReasonMissingKey, i}
				case map[string]any:
					e, ok := m[k]
					if !ok {
						return x, walkStatus{ReasonMissingKey, i}
					}
					mapped[j] = e
				default:
					return x, walkStatus{ReasonNotAnObject, i}
				}
			}
			v = mapped
		default:
			return v, walkStatus{ReasonNotAnObject, i}
		}
	}
	return v, walkStatus{}
}
