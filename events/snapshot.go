package events

import (
	"bytes"
	"encoding/json"
	"math"
	"math/big"
	"strconv"
	"strings"
)

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
// Values are compared as JSON values, numbers exactly by value: 2^53+1 and
// 2^53 differ (they are one float64), 1 and 1.0 do not (Python, and so
// Nautobot, compares them equal), nor do 7 and 7.0 built in Go as an int and
// a float64.
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
		if existed && equalJSON(oldValue, newValue) {
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

// equalJSON reports whether a and b are the same JSON value: objects with
// the same members, arrays with the same elements in order, equal strings,
// booleans, null, and numbers equal in value (see numberOf).
func equalJSON(a, b any) bool {
	if an, ok := a.(json.Number); ok {
		if bn, ok := b.(json.Number); ok && an == bn {
			return true // as written, the common case
		}
	}
	a, b = plainJSON(a), plainJSON(b)
	switch a := a.(type) {
	case nil:
		return b == nil
	case bool:
		b, ok := b.(bool)
		return ok && a == b
	case string:
		b, ok := b.(string)
		return ok && a == b
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, av := range a {
			bv, ok := b[k]
			if !ok || !equalJSON(av, bv) {
				return false
			}
		}
		return true
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !equalJSON(a[i], b[i]) {
				return false
			}
		}
		return true
	case decimal:
		b, ok := b.(decimal)
		return ok && a.equal(b)
	}
	return false // not reached: plainJSON returns only the kinds above
}

// plainJSON returns v as one of the kinds equalJSON compares: numbers of any
// Go type as a decimal, and anything that is not a decoded JSON value
// (typed maps and slices, structs, built in Go) as the JSON value it
// encodes to. A value that does not encode stays itself, a kind equalJSON
// finds equal to nothing.
func plainJSON(v any) any {
	switch v := v.(type) {
	case nil, bool, string, map[string]any, []any:
		return v
	case json.Number:
		if d, ok := parseDecimal(string(v)); ok {
			return d
		}
		return unencodable{}
	case float64:
		return floatDecimal(v, 64)
	case float32:
		return floatDecimal(float64(v), 32)
	case int:
		return intDecimal(int64(v))
	case int8:
		return intDecimal(int64(v))
	case int16:
		return intDecimal(int64(v))
	case int32:
		return intDecimal(int64(v))
	case int64:
		return intDecimal(v)
	case uint:
		return uintDecimal(uint64(v))
	case uint8:
		return uintDecimal(uint64(v))
	case uint16:
		return uintDecimal(uint64(v))
	case uint32:
		return uintDecimal(uint64(v))
	case uint64:
		return uintDecimal(v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return unencodable{}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return unencodable{}
	}
	return out
}

// unencodable stands for a value that is not JSON: equal to nothing.
type unencodable struct{}

// decimal is a number in lowest terms, digits × 10^exp: digits has no
// leading or trailing zeros ("" for zero, whatever its sign or exponent).
type decimal struct {
	negative bool
	digits   string
	exp      *big.Int
}

func (d decimal) equal(o decimal) bool {
	if d.digits == "" || o.digits == "" {
		return d.digits == o.digits // zero: -0 and 0 are equal
	}
	return d.negative == o.negative && d.digits == o.digits && d.exp.Cmp(o.exp) == 0
}

// parseDecimal reads a JSON number, -?int(.frac)?([eE][+-]?exp)?, exactly.
func parseDecimal(s string) (decimal, bool) {
	var d decimal
	if strings.HasPrefix(s, "-") {
		d.negative, s = true, s[1:]
	}
	mantissa, expText, hasExp := strings.Cut(strings.ToLower(s), "e")
	intPart, frac, _ := strings.Cut(mantissa, ".")
	if intPart == "" || !allDigits(intPart) || !allDigits(frac) {
		return decimal{}, false
	}
	d.exp = new(big.Int)
	if hasExp {
		if _, ok := d.exp.SetString(strings.TrimPrefix(expText, "+"), 10); !ok || expText == "" {
			return decimal{}, false
		}
	}
	digits := strings.TrimLeft(intPart+frac, "0")
	trimmed := strings.TrimRight(digits, "0")
	d.digits = trimmed
	// value = intPart.frac × 10^exp = digits × 10^(exp - len(frac)),
	// and each trailing zero dropped adds one to the exponent.
	d.exp.Sub(d.exp, big.NewInt(int64(len(frac))))
	d.exp.Add(d.exp, big.NewInt(int64(len(digits)-len(trimmed))))
	return d, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// exactFloat returns n as a float64 when that float64, written shortest, is
// the number n is: a decoded float64 then means exactly what was sent.
func exactFloat(n json.Number) (float64, bool) {
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, false // not a number, or beyond float64's range
	}
	// Up to 15 significant digits survive a float64 both ways, unless the
	// value is so small (subnormal) that it keeps fewer.
	if digits := significantDigits(string(n)); digits <= 15 && (digits == 0 || math.Abs(f) >= 0x1p-1022) {
		return f, true
	}
	d, ok := parseDecimal(string(n))
	if !ok {
		return 0, false
	}
	if fd, ok := floatDecimal(f, 64).(decimal); ok && fd.equal(d) {
		return f, true
	}
	return 0, false
}

// significantDigits counts the digits of a JSON number's mantissa between
// its first and last non-zero digit.
func significantDigits(s string) int {
	first, last, pos := -1, -1, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == 'e' || c == 'E':
			i = len(s)
		case c >= '1' && c <= '9':
			if first < 0 {
				first = pos
			}
			last = pos
			pos++
		case c == '0':
			pos++
		}
	}
	if first < 0 {
		return 0
	}
	return last - first + 1
}

// floatDecimal is the shortest decimal that reads back as f, the number
// it was written as when it was decoded from JSON.
func floatDecimal(f float64, bits int) any {
	d, ok := parseDecimal(strconv.FormatFloat(f, 'g', -1, bits))
	if !ok { // NaN and infinities are not JSON
		return unencodable{}
	}
	return d
}

func intDecimal(i int64) any {
	d, _ := parseDecimal(strconv.FormatInt(i, 10))
	return d
}

func uintDecimal(u uint64) any {
	d, _ := parseDecimal(strconv.FormatUint(u, 10))
	return d
}
