package hookconfig

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Redacted replaces secret params values in what the CLI shows. Putting a
// hook back with Redacted at a secret key keeps the stored value there.
const Redacted = "***"

// secretWords mark a params key as secret when its name, lower-cased,
// contains one of them.
var secretWords = []string{
	"secret", "password", "passwd", "token", "authorization",
	"api_key", "apikey", "api-key", "cookie", "credential", "private_key", "private-key",
}

// secretHeaderWords mark a header name (a key inside a "headers" object)
// as secret: header names carry credentials in more shapes than keys do
// (X-Auth-User, X-Hook-Signature, Session-Id).
var secretHeaderWords = []string{"auth", "key", "cookie", "signature", "session"}

// IsSecretKey reports whether a params key holds a secret. inHeaders says
// the key is a header name, inside a "headers" object.
func IsSecretKey(key string, inHeaders bool) bool {
	k := strings.ToLower(key)
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	if inHeaders {
		for _, w := range secretHeaderWords {
			if strings.Contains(k, w) {
				return true
			}
		}
	}
	return false
}

// RedactParams returns params with the value of every secret key (see
// IsSecretKey), at any depth, replaced by Redacted. Params that are not
// valid JSON are redacted whole: nothing can tell where their secrets are.
func RedactParams(params json.RawMessage) json.RawMessage {
	if len(params) == 0 {
		return params
	}
	v, err := decodeAny(params)
	if err != nil {
		return json.RawMessage(`"` + Redacted + `"`)
	}
	out, err := json.Marshal(redact(v, false))
	if err != nil {
		return json.RawMessage(`"` + Redacted + `"`)
	}
	return out
}

func redact(v any, inHeaders bool) any {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			if IsSecretKey(k, inHeaders) {
				v[k] = Redacted
				continue
			}
			v[k] = redact(child, isHeaders(k))
		}
	case []any:
		for i, child := range v {
			v[i] = redact(child, inHeaders)
		}
	}
	return v
}

func isHeaders(key string) bool { return strings.EqualFold(key, "headers") }

// restoreRedacted replaces each Redacted value at a secret key of params
// with the value at the same path in stored (the hook's current params),
// so that a hook read with `hooks get`, edited and put back keeps its
// secrets. A Redacted value with nothing stored at its path is an error.
// Params without any Redacted secret are returned as they are.
func restoreRedacted(params, stored json.RawMessage) (json.RawMessage, error) {
	if len(params) == 0 || !bytes.Contains(params, []byte(`"`+Redacted+`"`)) {
		return params, nil
	}
	v, err := decodeAny(params)
	if err != nil {
		return nil, err
	}
	var old any
	if len(stored) > 0 {
		if old, err = decodeAny(stored); err != nil {
			old = nil
		}
	}
	changed := false
	var problems []string
	var walk func(v, old any, path string, inHeaders bool)
	walk = func(v, old any, path string, inHeaders bool) {
		switch v := v.(type) {
		case map[string]any:
			oldObj, _ := old.(map[string]any)
			for k, child := range v {
				var b strings.Builder
				b.WriteString(path)
				writeKey(&b, k)
				p := b.String()
				oldChild, had := oldObj[k]
				if s, ok := child.(string); ok && s == Redacted && IsSecretKey(k, inHeaders) {
					if !had {
						problems = append(problems, fmt.Sprintf("%s: %q stands for the stored secret, but the stored hook has none there: give the value", p, Redacted))
						continue
					}
					v[k] = oldChild
					changed = true
					continue
				}
				walk(child, oldChild, p, isHeaders(k))
			}
		case []any:
			oldArr, _ := old.([]any)
			for i, child := range v {
				var oldChild any
				if i < len(oldArr) {
					oldChild = oldArr[i]
				}
				walk(child, oldChild, fmt.Sprintf("%s[%d]", path, i), inHeaders)
			}
		}
	}
	walk(v, old, "params", false)
	if len(problems) > 0 {
		slices.Sort(problems) // map order is random
		return nil, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	if !changed {
		return params, nil
	}
	return json.Marshal(v)
}

func decodeAny(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // keep numbers exactly as written
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}
