package hookconfig

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
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
	out, err := marshalParams(redact(v, false))
	if err != nil {
		return json.RawMessage(`"` + Redacted + `"`)
	}
	return out
}

// marshalParams encodes params without HTML escaping, so that a URL's "&"
// reads as written.
func marshalParams(v any) (json.RawMessage, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
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
	case string:
		if r, ok := redactURLString(v); ok {
			return r
		}
	}
	return v
}

// redactURLString redacts the credentials of an absolute URL: the
// userinfo (https://user:password@host, or a token as the user) and every
// query value (?token=...) become Redacted. ok is false when s is not
// such a URL or carries no credentials.
func redactURLString(s string) (string, bool) {
	if !strings.Contains(s, "://") || (!strings.Contains(s, "@") && !strings.Contains(s, "?")) {
		return "", false
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.User == nil && u.RawQuery == "") {
		return "", false
	}
	if u.RawQuery != "" {
		pairs := strings.Split(u.RawQuery, "&")
		for i, pair := range pairs {
			key, _, _ := strings.Cut(pair, "=")
			pairs[i] = key + "=" + Redacted
		}
		u.RawQuery = strings.Join(pairs, "&")
	}
	userinfo := ""
	if u.User != nil {
		// Written by hand: url.URL escapes the "*" of Redacted in userinfo.
		userinfo = Redacted + "@"
		if _, hasPassword := u.User.Password(); hasPassword {
			userinfo = url.User(u.User.Username()).String() + ":" + Redacted + "@"
		}
		u.User = nil
	}
	prefix := u.Scheme + "://"
	return prefix + userinfo + strings.TrimPrefix(u.String(), prefix), true
}

func isHeaders(key string) bool { return strings.EqualFold(key, "headers") }

// restoreRedacted replaces each Redacted value at a secret key of params
// with the value at the same path in stored (the hook's current params),
// so that a hook read with `hooks get`, edited and put back keeps its
// secrets. A Redacted value with nothing stored at its path is an error.
// Params without any Redacted secret are returned as they are.
func restoreRedacted(params, stored json.RawMessage) (json.RawMessage, error) {
	if len(params) == 0 || !bytes.Contains(params, []byte(Redacted)) {
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
				if s, ok := child.(string); ok && strings.Contains(s, Redacted) {
					// A URL shown with its credentials redacted, put back as
					// shown, keeps the stored URL.
					if oldURL, ok := oldChild.(string); ok {
						if r, ok := redactURLString(oldURL); ok && r == s {
							v[k] = oldURL
							changed = true
							continue
						}
					}
					if r, ok := redactURLString(s); ok && r == s {
						problems = append(problems, fmt.Sprintf("%s: the URL's credentials are %q, which stands for the stored URL's, but the URL is not the one stored: give the credentials", p, Redacted))
						continue
					}
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
	return marshalParams(v)
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
