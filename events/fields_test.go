package events

import (
	"reflect"
	"strings"
	"testing"
)

// TestChangeFieldsFollowChange: changeFields has Change's members, by JSON
// name (its untagged fields aside), each of Change's type or a jsonKind standing for a string or a map.
func TestChangeFieldsFollowChange(t *testing.T) {
	fields := func(typ reflect.Type) map[string]reflect.Type {
		out := map[string]reflect.Type{}
		for i := range typ.NumField() {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			if name == "" {
				continue // changeFields' own, not a member: pre, post
			}
			out[name] = typ.Field(i).Type
		}
		return out
	}
	change, lean := fields(reflect.TypeFor[Change]()), fields(reflect.TypeFor[changeFields]())
	if len(change) != len(lean) {
		t.Fatalf("Change has %d members, changeFields %d", len(change), len(lean))
	}
	for name, want := range change {
		got, ok := lean[name]
		switch {
		case !ok:
			t.Errorf("changeFields has no %s", name)
		case got == reflect.TypeFor[jsonKind]():
			if want.Kind() != reflect.String && want.Kind() != reflect.Map {
				t.Errorf("%s: a jsonKind stands for a string or a map, not a %s", name, want)
			}
		case got != want:
			t.Errorf("%s: changeFields has a %s, Change a %s", name, got, want)
		}
	}
}
