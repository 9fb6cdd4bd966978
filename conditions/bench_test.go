package conditions

import "testing"

// BenchmarkEval evaluates typical conditions against the ~1.4 KB device of
// testdata/device.json (NetBox's REST shape) with its snapshots.
func BenchmarkEval(b *testing.B) {
	in := inputFor(b, update)
	for _, bc := range []struct{ name, cond string }{
		{"eq-string", `{"attr": "status.value", "value": "active"}`},
		{"eq-string-false", `{"attr": "status.value", "value": "offline"}`},
		{"regex", `{"attr": "serial", "value": "JPE\\d{8}", "op": "regex"}`},
		{"tags-contains", `{"attr": "tags.slug", "value": "edge", "op": "contains"}`},
		{"and-or-4", `{"and": [{"attr": "site.slug", "value": ["dc1", "dc2"], "op": "in"},
			{"or": [{"attr": "role.slug", "value": "spine"}, {"attr": "asn", "value": 65000, "op": "gt"}]},
			{"attr": "custom_fields.decommission", "value": true, "negate": true}]}`},
		{"changed", `{"attr": "serial", "op": "changed"}`},
		{"snapshot-path", `{"attr": "snapshots.prechange.status", "value": "planned"}`},
	} {
		s, err := Compile([]byte(bc.cond))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.Eval(in)
			}
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	raw := []byte(`{"and": [{"attr": "site.slug", "value": ["dc1", "dc2"], "op": "in"},
		{"or": [{"attr": "role.slug", "value": "spine"}, {"attr": "serial", "value": "JPE\\d{8}", "op": "regex"}]},
		{"attr": "custom_fields.decommission", "value": true, "negate": true}]}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(raw); err != nil {
			b.Fatal(err)
		}
	}
}
