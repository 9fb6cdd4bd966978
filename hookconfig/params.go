package hookconfig

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// maxCachedSchemas bounds the schema cache: registrations change rarely,
// but a long-lived store must not grow without limit if they churn.
const maxCachedSchemas = 64

// schemaCache holds compiled params schemas keyed by their bytes, so a
// store compiles each job's schema once however many hooks it checks.
type schemaCache struct {
	mu      sync.Mutex
	schemas map[string]*jsonschema.Schema
}

// compile returns the compiled schema of raw. Compile errors are not
// cached: they are rare and the receiver is expected to fix its schema.
func (c *schemaCache) compile(raw []byte) (*jsonschema.Schema, error) {
	c.mu.Lock()
	sch, ok := c.schemas[string(raw)]
	c.mu.Unlock()
	if ok {
		return sch, nil
	}
	sch, err := CompileSchema(raw)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.schemas == nil || len(c.schemas) >= maxCachedSchemas {
		c.schemas = make(map[string]*jsonschema.Schema)
	}
	c.schemas[string(raw)] = sch
	return sch, nil
}

// CompileSchema compiles a JSON Schema document (draft 2020-12 unless it
// says otherwise). References to other documents are refused: a schema
// from the jobs bucket must not make the writer read files or the network.
func CompileSchema(raw []byte) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parse schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(jsonschema.SchemeURLLoader{}) // no file or network loads
	const url = "mem:///params.schema.json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("add schema: %w", err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("compile schema: %w", err)
	}
	return sch, nil
}

// ValidateAgainst validates the JSON document data against sch. Each
// problem is reported as "<root><path>: <message>", e.g.
// "params.url: missing property", joined by "; ".
func ValidateAgainst(sch *jsonschema.Schema, root string, data []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%s: %w", root, err)
	}
	err = sch.Validate(inst)
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	var problems []string
	seen := make(map[string]bool)
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		// A leaf's basic output is its own message, in the library's words.
		msg := e.BasicOutput().Error.String()
		if value, secret := secretAt(inst, e.InstanceLocation); secret && value != "" && strings.Contains(msg, value) {
			msg = hiddenValueMessage(e.ErrorKind)
		}
		p := instancePath(root, inst, e.InstanceLocation) + ": " + msg
		if !seen[p] {
			seen[p] = true
			problems = append(problems, p)
		}
	}
	walk(ve)
	slices.Sort(problems) // the library's order follows map iteration
	return errors.New(strings.Join(problems, "; "))
}

// secretAt reports whether the value at a JSON Pointer into inst is a
// secret: under a secret key (IsSecretKey), or a URL carrying credentials.
// It returns the value when it is a string, so that a message quoting it
// can be told apart.
func secretAt(inst any, tokens []string) (string, bool) {
	cur, secret, inHeaders := inst, false, false
	for _, tok := range tokens {
		switch v := cur.(type) {
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(v) {
				return "", secret
			}
			cur = v[i]
		case map[string]any:
			secret = secret || IsSecretKey(tok, inHeaders)
			inHeaders = isHeaders(tok)
			cur = v[tok]
		default:
			return "", secret
		}
	}
	s, ok := cur.(string)
	if !ok {
		return "", secret
	}
	if _, hasCredentials := redactURLString(s); hasCredentials {
		secret = true
	}
	return s, secret
}

// hiddenValueMessage says which rule a secret value broke without
// quoting it, as the library's own message does.
func hiddenValueMessage(k jsonschema.ErrorKind) string {
	if p, ok := k.(*kind.Pattern); ok {
		return fmt.Sprintf("does not match pattern %q (the value is a secret, not shown)", p.Want)
	}
	return fmt.Sprintf("does not satisfy %q (the value is a secret, not shown)", strings.Join(k.KeywordPath(), "/"))
}

// instancePath writes a JSON Pointer's tokens as a path a user reads:
// .key for object keys (["key"] when not a plain identifier), [i] for
// array indexes. It walks inst to tell the two apart.
func instancePath(root string, inst any, tokens []string) string {
	var b strings.Builder
	b.WriteString(root)
	cur := inst
	for _, tok := range tokens {
		switch v := cur.(type) {
		case []any:
			b.WriteString("[" + tok + "]")
			if i, err := strconv.Atoi(tok); err == nil && i >= 0 && i < len(v) {
				cur = v[i]
			} else {
				cur = nil
			}
		case map[string]any:
			writeKey(&b, tok)
			cur = v[tok]
		default:
			writeKey(&b, tok)
			cur = nil
		}
	}
	return b.String()
}

func writeKey(b *strings.Builder, key string) {
	if isIdentifier(key) {
		b.WriteString("." + key)
		return
	}
	b.WriteString("[" + strconv.Quote(key) + "]")
}

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r == '-' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'):
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
