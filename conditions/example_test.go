package conditions_test

import (
	"fmt"

	"github.com/jobhooks/jobhooks/conditions"
)

func Example() {
	set, err := conditions.Compile([]byte(`{"and": [
		{"attr": "status.value", "value": "active"},
		{"attr": "tags.slug", "value": "core", "op": "contains"}
	]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	device := map[string]any{
		"status": map[string]any{"value": "active", "label": "Active"},
		"tags":   []any{map[string]any{"slug": "edge"}},
	}
	ok, why := set.Eval(conditions.Input{Data: device})
	fmt.Println(ok)
	fmt.Println(why)

	_, err = conditions.Compile([]byte(`{"or": [{"attr": "asn", "value": 65000, "op": "regex"}]}`))
	fmt.Println(err)
	// Output:
	// false
	// conditions.and[1]: tags.slug contains "core": false: tags.slug is ["edge"]
	// conditions.or[0].op: "regex" is not allowed for a number value (a number value allows eq, gt, gte, lt, lte, contains)
}
