package conditions

import (
	"encoding/json"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// maxIntDigits bounds the integers compared exactly, as Python's own limit
// on converting long digit strings (sys.int_info.default_max_str_digits)
// does; it keeps a hostile number from costing more than microseconds.
const maxIntDigits = 4300

// number is a JSON number with Python's meaning: a literal with a fraction
// or an exponent is a float (float64, rounded, ±Inf beyond its range), one
// without is an exact integer. Integers float64 holds exactly are kept as
// float64; big holds the others.
type number struct {
	f   float64
	big *big.Int
}

// toNumber reads v as a number the way Python's comparisons do: booleans
// are the integers 0 and 1. It reports false for anything else.
func toNumber(v any) (number, bool) {
	switch x := v.(type) {
	case float64:
		return number{f: x}, true
	case bool:
		if x {
			return number{f: 1}, true
		}
		return number{}, true
	case json.Number:
		return parseNumber(string(x))
	case int:
		return intNumber(int64(x)), true
	case int64:
		return intNumber(x), true
	case int32:
		return number{f: float64(x)}, true
	case float32:
		return number{f: float64(x)}, true
	}
	return number{}, false
}

func intNumber(i int64) number {
	if i >= -1<<53 && i <= 1<<53 {
		return number{f: float64(i)}
	}
	return number{big: big.NewInt(i)}
}

func parseNumber(s string) (number, bool) {
	if strings.ContainsAny(s, ".eE") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil && !isRange(err) {
			return number{}, false
		}
		return number{f: f}, true
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return intNumber(i), true
	}
	if len(s) > maxIntDigits+1 {
		return number{}, false
	}
	b, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return number{}, false
	}
	return number{big: b}, true
}

func isRange(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// cmpNumbers orders a and b exactly, as Python compares an int with a
// float: by their mathematical values. It reports false when either is NaN.
func cmpNumbers(a, b number) (int, bool) {
	if a.big == nil && b.big == nil {
		switch {
		case math.IsNaN(a.f) || math.IsNaN(b.f):
			return 0, false
		case a.f < b.f:
			return -1, true
		case a.f > b.f:
			return 1, true
		}
		return 0, true
	}
	fa, ok := a.bigFloat()
	if !ok {
		return 0, false
	}
	fb, ok := b.bigFloat()
	if !ok {
		return 0, false
	}
	return fa.Cmp(fb), true
}

func (n number) bigFloat() (*big.Float, bool) {
	if n.big != nil {
		return new(big.Float).SetInt(n.big), true
	}
	if math.IsNaN(n.f) {
		return nil, false
	}
	return new(big.Float).SetFloat64(n.f), true // exact; ±Inf is kept
}

// pyEqual is Python's == on decoded JSON: numbers (and booleans) by value,
// so 1 == 1.0 and true == 1; strings by content; lists and objects deeply.
// Values of different kinds are never equal.
func pyEqual(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !pyEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !pyEqual(xv, yv) {
				return false
			}
		}
		return true
	}
	na, ok := toNumber(a)
	if !ok {
		return false
	}
	nb, ok := toNumber(b)
	if !ok {
		return false
	}
	c, ok := cmpNumbers(na, nb)
	return ok && c == 0
}

// normalize returns a compiled value with its numbers as Eval compares
// them: float64 where exact, json.Number kept for integers beyond float64
// (toNumber reads them exactly), floats rounded as Python rounds them. It
// copies lists and objects, so CompileValue never changes its argument.
func normalize(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, ok := parseNumber(string(x)); ok && n.big == nil {
			return n.f
		}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	}
	return v
}

// kindOf is the value type a decoded JSON value has for Condition.TYPES;
// objects have none.
func kindOf(v any) (kind, bool) {
	switch v.(type) {
	case nil:
		return kindNull, true
	case string:
		return kindString, true
	case bool:
		return kindBool, true
	case []any:
		return kindList, true
	}
	if _, ok := toNumber(v); ok {
		return kindNumber, true
	}
	return 0, false
}

// typeName names a value's JSON type for messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case []any:
		return "list"
	case map[string]any:
		return "object"
	}
	if _, ok := toNumber(v); ok {
		return "number"
	}
	return "value"
}

// aTypeName is typeName with its article: "a string", "an object", "null".
func aTypeName(v any) string {
	switch t := typeName(v); t {
	case "null":
		return t
	case "object":
		return "an object"
	default:
		return "a " + t
	}
}
