package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"mime"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/binding/format"
	"github.com/cloudevents/sdk-go/v2/binding/spec"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
	"github.com/nats-io/nats.go"
)

// Header names and values of the CloudEvents NATS binding and the contract.
const (
	// HeaderPrefix starts every binary-mode attribute header: ce-id, ce-source, ...
	HeaderPrefix = "ce-"
	// HeaderContentType carries the data's media type in binary mode and
	// application/cloudevents+json in structured mode.
	HeaderContentType = "content-type"
	// StructuredContentType marks a structured-mode message.
	StructuredContentType = "application/cloudevents+json"
	// ExtHookOrigin names the job whose receiver made a change; changes that
	// carry it are stored but never routed (loop prevention).
	ExtHookOrigin = "hookorigin"
	// ExtCausationID is the id of the change that ran that job (the
	// CloudEvents correlation extension's causationid).
	ExtCausationID = "causationid"
	// TypePrefix starts every change event's type: jobhooks.change.<action>.
	TypePrefix = "jobhooks.change."
)

// specs resolves ce- prefixed header names to CloudEvents attributes.
var specs = spec.WithPrefix(HeaderPrefix)

// headerSpecVersion is specs.PrefixedSpecVersionName(), which concatenates
// on every call.
const headerSpecVersion = HeaderPrefix + "specversion"

// ChangeEvent is a decoded, validated change event: the CloudEvent as it
// arrived and its data as a Change.
type ChangeEvent struct {
	Event  event.Event
	Change Change
}

// ID returns the change id, the CloudEvent id.
func (e *ChangeEvent) ID() string { return e.Event.ID() }

// HookOrigin returns the job whose receiver made this change, or "".
func (e *ChangeEvent) HookOrigin() string { return stringExtension(&e.Event, ExtHookOrigin) }

// CausationID returns the id of the change that ran the job which made this
// change, or "".
func (e *ChangeEvent) CausationID() string { return stringExtension(&e.Event, ExtCausationID) }

func stringExtension(ev *event.Event, name string) string {
	v, ok := ev.Extensions()[name]
	if !ok {
		return ""
	}
	s, err := types.ToString(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return s
}

// Decode reads a change event from a NATS message on subject: a CloudEvent in
// binary mode (ce- headers, data in the body) or structured mode
// (application/cloudevents+json), with JSON data that is a valid Change for
// that subject. Every error wraps ErrInvalidChange and says what is wrong.
//
// Header names are matched case-insensitively and values are unquoted and
// percent-decoded, as the CloudEvents NATS binding requires. A message with
// no ce-specversion header and no content type whose body is a JSON event is
// read as structured too: the CloudEvents Go SDK writes structured messages
// without a content-type header.
func Decode(subject string, header nats.Header, data []byte) (*ChangeEvent, error) {
	ev, err := DecodeEvent(header, data)
	if err != nil {
		return nil, err
	}
	return ChangeFromEvent(subject, ev)
}

// DecodeEvent reads and validates the CloudEvent of a NATS message without
// interpreting its data.
func DecodeEvent(header nats.Header, data []byte) (*event.Event, error) {
	ev, _, err := decodeEvent(header, data)
	return ev, err
}

// decodeEvent is DecodeEvent, and says how the event arrived: in binary
// or structured mode.
func decodeEvent(header nats.Header, data []byte) (*event.Event, binding.Encoding, error) {
	msg, err := newNATSMessage(header, data)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrInvalidChange, err)
	}
	ev, err := binding.ToEvent(context.Background(), msg)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: not a valid CloudEvent: %w", ErrInvalidChange, err)
	}
	if err := ValidateEvent(ev); err != nil {
		return nil, 0, err
	}
	return ev, msg.encoding, nil
}

// ValidateEvent checks the attributes of a change's CloudEvent, however it
// arrived: a valid CloudEvent 1.0 with an acceptable change id.
func ValidateEvent(ev *event.Event) error {
	if err := ev.Validate(); err != nil {
		return fmt.Errorf("%w: not a valid CloudEvent: %w", ErrInvalidChange, inOrder(err))
	}
	if ev.SpecVersion() != event.CloudEventsVersionV1 {
		return fmt.Errorf("%w: specversion %q: want 1.0", ErrInvalidChange, ev.SpecVersion())
	}
	if err := ValidateChangeID(ev.ID()); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidChange, err)
	}
	return nil
}

// attributeErrors is an event.ValidationError that says its attributes in
// name order: the SDK says them in map order, and the reason a change is
// dead-lettered for should not change from one delivery to the next.
type attributeErrors struct{ event.ValidationError }

func (e attributeErrors) Error() string {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(e.ValidationError)) {
		b.WriteString(name + ": " + e.ValidationError[name].Error() + "\n") // as the SDK writes them
	}
	return b.String()
}

func (e attributeErrors) Unwrap() error { return e.ValidationError }

// inOrder returns err, with its attributes in name order when it is an
// event.ValidationError.
func inOrder(err error) error {
	if ve, ok := err.(event.ValidationError); ok {
		return attributeErrors{ve}
	}
	return err
}

// ChangeOfEvent decodes a CloudEvent's data as a valid Change, for events
// that arrive without a subject (HTTP): the change's own content type and
// action give its subject, ChangeEvent.Change.Subject.
func ChangeOfEvent(ev *event.Event) (*ChangeEvent, error) {
	ce := &ChangeEvent{Event: *ev}
	if err := decodeData(ev, &ce.Change); err != nil {
		return nil, err
	}
	if err := ce.Change.Validate(); err != nil {
		return nil, err
	}
	if err := checkType(ev, ce.Change.Action); err != nil {
		return nil, err
	}
	return ce, nil
}

// ChangeFromEvent checks a CloudEvent's type and decodes its data as a
// Change valid for subject.
func ChangeFromEvent(subject string, ev *event.Event) (*ChangeEvent, error) {
	if _, _, err := ParseChangeSubject(subject); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidChange, err)
	}
	ce := &ChangeEvent{Event: *ev}
	if err := decodeData(ev, &ce.Change); err != nil {
		return nil, err
	}
	if err := ce.Change.ValidateFor(subject); err != nil {
		return nil, err
	}
	if err := checkType(ev, ce.Change.Action); err != nil {
		return nil, err
	}
	return ce, nil
}

// decodeData unmarshals a change event's data, which must be JSON, into v:
// numbers are float64 where that is exact, json.Number where it is not.
func decodeData(ev *event.Event, v any) error {
	if err := checkDataContentType(ev.DataContentType()); err != nil {
		return err
	}
	if err := decodeJSONData(ev.Data(), v); err != nil {
		return err
	}
	exactNumbers(reflect.ValueOf(v))
	return nil
}

// checkDataContentType fails unless a change's datacontenttype, ct, is
// JSON or not given.
func checkDataContentType(ct string) error {
	if ct != "" && !IsJSON(ct) {
		return fmt.Errorf("%w: datacontenttype %q: change data must be JSON", ErrInvalidChange, ct)
	}
	return nil
}

// decodeJSONData unmarshals data, which must be one UTF-8 JSON value and
// nothing after it, into v, with json.Number for numbers.
func decodeJSONData(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return fmt.Errorf("%w: the event has no data; a change needs a JSON object with action, content_type and postchange/prechange", ErrInvalidChange)
	}
	if err := checkUTF8(data); err != nil {
		return fmt.Errorf("%w: data %w", ErrInvalidChange, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = errors.New("unexpected end of JSON input")
		}
		return fmt.Errorf("%w: data is not a change JSON object: %w", ErrInvalidChange, err)
	}
	end := dec.InputOffset()
	if _, err := dec.Token(); err != io.EOF {
		end += int64(len(data[end:]) - len(bytes.TrimLeft(data[end:], " \t\r\n")))
		return fmt.Errorf("%w: data is not a change JSON object: more data after it, at byte %d", ErrInvalidChange, end)
	}
	return nil
}

// exactNumbers makes the numbers in the maps of v (a pointer to a Change,
// or to a struct embedding one, decoded with UseNumber) float64 where a
// float64 holds them as written, as encoding/json would, and leaves them
// json.Number where it does not: integers beyond 2^53, decimals with more
// digits than a float64 keeps, values beyond its range. So a job reads the
// number that was sent, and Snapshots tells 2^53+1 from 2^53.
func exactNumbers(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			exactNumbers(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				exactNumbers(v.Field(i))
			}
		}
	case reflect.Map:
		if m, ok := v.Interface().(map[string]any); ok {
			exactNumbersIn(m)
		}
	}
}

// exactNumbersIn returns v with its numbers made float64 where that is
// exact; maps and slices are changed in place.
func exactNumbersIn(v any) any {
	switch v := v.(type) {
	case json.Number:
		if f, ok := exactFloat(v); ok {
			return f
		}
	case map[string]any:
		for k, e := range v {
			v[k] = exactNumbersIn(e)
		}
	case []any:
		for i, e := range v {
			v[i] = exactNumbersIn(e)
		}
	}
	return v
}

// checkUTF8 fails when b is not UTF-8, as JSON must be (RFC 8259 §8.1),
// with the offset of the first byte that is not: encoding/json would
// otherwise replace such bytes with U+FFFD and accept them.
func checkUTF8(b []byte) error {
	if utf8.Valid(b) {
		return nil
	}
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return fmt.Errorf("is not valid UTF-8 at byte %d", i)
		}
		i += size
	}
	return errors.New("is not valid UTF-8") // not reached: utf8.Valid found a bad byte
}

// checkType checks the event type of a (valid) change with action.
func checkType(ev *event.Event, action Action) error {
	if t, ok := strings.CutPrefix(ev.Type(), TypePrefix); !ok || t != string(action) {
		return fmt.Errorf("%w: type %q: want %q for action %s", ErrInvalidChange, ev.Type(), TypePrefix+string(action), action)
	}
	return nil
}

// IsJSON reports whether a media type is JSON: application/json, text/json
// or any +json type.
func IsJSON(contentType string) bool {
	if contentType == "application/json" {
		return true // as the parse below says, without its allocations: every change is checked
	}
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mediaType == "application/json" || mediaType == "text/json" || strings.HasSuffix(mediaType, "+json")
}

// natsMessage reads a NATS message as a CloudEvents binding message.
type natsMessage struct {
	encoding binding.Encoding
	version  spec.Version
	headers  map[string]string // lower-case name -> decoded value
	data     []byte
}

func newNATSMessage(header nats.Header, data []byte) (*natsMessage, error) {
	m := &natsMessage{data: data, headers: make(map[string]string, len(header))}
	if err := m.readHeaders(maps.All(header)); err != nil {
		// Say the first bad header in name order, not in map order: the
		// reason a change is refused should not change from one delivery
		// to the next.
		clear(m.headers)
		return nil, m.readHeaders(inNameOrder(header))
	}
	if mediaType := mediaTypeOf(m.headers[HeaderContentType]); strings.HasPrefix(mediaType, "application/cloudevents") {
		if mediaType != StructuredContentType {
			return nil, fmt.Errorf("content type %q is not supported: send one event per message, binary or %s", mediaType, StructuredContentType)
		}
		return m.structured()
	}
	specVersion, ok := m.headers[headerSpecVersion]
	if !ok {
		if m.headers[HeaderContentType] == "" && looksStructured(data) {
			return m.structured()
		}
		return nil, fmt.Errorf("not a CloudEvent: no ce-specversion header and no %s content type", StructuredContentType)
	}
	if m.version = specs.Version(specVersion); m.version == nil {
		return nil, fmt.Errorf("ce-specversion %q: want 1.0", specVersion)
	}
	m.encoding = binding.EncodingBinary
	return m, nil
}

// mediaTypeOf returns the media type of content type ct, "" when ct is not
// one: mime.ParseMediaType's, without its allocations for the types
// changes come with.
func mediaTypeOf(ct string) string {
	switch ct {
	case "", "application/json", StructuredContentType:
		return ct
	}
	mediaType, _, _ := mime.ParseMediaType(ct)
	return mediaType
}

// readHeaders reads the ce- headers and content-type of header, decoded,
// into m.headers.
func (m *natsMessage) readHeaders(header iter.Seq2[string, []string]) error {
	for name, values := range header {
		if len(values) == 0 || !isAttributeHeader(name) && !strings.EqualFold(name, HeaderPrefix) {
			continue
		}
		lower := strings.ToLower(name) // allocates only when name is not lower-case
		// Another spelling of a name seen already is a duplicate too, even
		// when the value seen was empty: which comes first depends on map
		// order, and the outcome must not.
		if _, seen := m.headers[lower]; len(values) > 1 || seen {
			return fmt.Errorf("header %s appears more than once", lower)
		}
		value, err := decodeHeaderValue(values[0])
		if err != nil {
			return fmt.Errorf("header %s: %w", lower, err)
		}
		m.headers[lower] = value
	}
	return nil
}

// eachAttribute calls set with each attribute header of binary-mode m but
// ce-specversion: its attribute (nil for an extension), its name without
// the ce- prefix and its value. When set fails, it says the first failure
// in name order, not in map order, as newNATSMessage does.
func (m *natsMessage) eachAttribute(set func(attr spec.Attribute, name, value string) error) error {
	if err := m.attributes(maps.All(m.headers), set); err != nil {
		return m.attributes(inNameOrder(m.headers), set)
	}
	return nil
}

// inNameOrder yields the entries of m sorted by name.
func inNameOrder[V any](m map[string]V) iter.Seq2[string, V] {
	return func(yield func(string, V) bool) {
		for _, name := range slices.Sorted(maps.Keys(m)) {
			if !yield(name, m[name]) {
				return
			}
		}
	}
}

func (m *natsMessage) attributes(headers iter.Seq2[string, string], set func(attr spec.Attribute, name, value string) error) error {
	for name, value := range headers {
		if name == headerSpecVersion || name == HeaderContentType {
			continue
		}
		if err := set(m.version.Attribute(name), strings.TrimPrefix(name, HeaderPrefix), value); err != nil {
			return fmt.Errorf("header %s: %w", name, err)
		}
	}
	return nil
}

// structured makes m a structured-mode message, whose body is a JSON event
// and so must be UTF-8: the SDK's JSON reader would accept invalid bytes.
func (m *natsMessage) structured() (*natsMessage, error) {
	if err := checkUTF8(m.data); err != nil {
		return nil, fmt.Errorf("the structured event %w", err)
	}
	m.encoding = binding.EncodingStructured
	return m, nil
}

// looksStructured reports whether data is a JSON object with a specversion.
func looksStructured(data []byte) bool {
	var probe struct {
		SpecVersion *string `json:"specversion"`
	}
	return json.Unmarshal(data, &probe) == nil && probe.SpecVersion != nil
}

func (m *natsMessage) ReadEncoding() binding.Encoding { return m.encoding }

func (m *natsMessage) ReadStructured(ctx context.Context, w binding.StructuredWriter) error {
	if m.encoding != binding.EncodingStructured {
		return binding.ErrNotStructured
	}
	return w.SetStructuredEvent(ctx, format.JSON, bytes.NewReader(m.data))
}

func (m *natsMessage) ReadBinary(ctx context.Context, w binding.BinaryWriter) error {
	if m.encoding != binding.EncodingBinary {
		return binding.ErrNotBinary
	}
	// The spec version goes first: it selects the attribute set.
	if err := w.SetAttribute(m.version.AttributeFromKind(spec.SpecVersion), m.version.String()); err != nil {
		return err
	}
	err := m.eachAttribute(func(attr spec.Attribute, name, value string) error {
		if attr != nil {
			return w.SetAttribute(attr, value)
		}
		return w.SetExtension(name, value)
	})
	if err != nil {
		return err
	}
	if _, set := m.headers[HeaderPrefix+"datacontenttype"]; !set && m.headers[HeaderContentType] != "" {
		if err := w.SetAttribute(m.version.AttributeFromKind(spec.DataContentType), m.headers[HeaderContentType]); err != nil {
			return fmt.Errorf("header %s: %w", HeaderContentType, err)
		}
	}
	if len(m.data) > 0 {
		return w.SetData(bytes.NewReader(m.data))
	}
	return nil
}

// GetAttribute and GetExtension make natsMessage a
// binding.MessageMetadataReader, which the SDK's binary path requires.
func (m *natsMessage) GetAttribute(kind spec.Kind) (spec.Attribute, any) {
	if m.version == nil {
		return nil, nil
	}
	attr := m.version.AttributeFromKind(kind)
	if attr == nil {
		return nil, nil
	}
	if v, ok := m.headers[attr.PrefixedName()]; ok {
		return attr, v
	}
	return attr, nil
}

func (m *natsMessage) GetExtension(name string) any {
	if v, ok := m.headers[HeaderPrefix+strings.ToLower(name)]; ok {
		return v
	}
	return nil
}

func (m *natsMessage) Finish(error) error { return nil }

// decodeHeaderValue undoes the binding's encoding of a header value: an
// RFC 7230 quoted string is unquoted, then %XY sequences are decoded once;
// the result must be UTF-8.
func decodeHeaderValue(v string) (string, error) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		var b strings.Builder
		inner := v[1 : len(v)-1]
		for i := 0; i < len(inner); i++ {
			if inner[i] == '\\' && i+1 < len(inner) {
				i++
			}
			b.WriteByte(inner[i])
		}
		v = b.String()
	}
	if strings.IndexByte(v, '%') >= 0 {
		decoded, err := url.PathUnescape(v)
		if err != nil {
			return "", fmt.Errorf("bad percent-encoding: %w", err)
		}
		v = decoded
	}
	if !utf8.ValidString(v) {
		return "", fmt.Errorf("value is not valid UTF-8")
	}
	return v, nil
}

// encodeHeaderValue percent-encodes what the binding says must be: space,
// '"', '%' and every byte outside printable ASCII.
func encodeHeaderValue(v string) string {
	const hex = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(v); i++ {
		if needsEscape(v[i]) {
			n++
		}
	}
	if n == 0 {
		return v
	}
	b := make([]byte, 0, len(v)+2*n)
	for i := 0; i < len(v); i++ {
		c := v[i]
		if needsEscape(c) {
			b = append(b, '%', hex[c>>4], hex[c&15])
		} else {
			b = append(b, c)
		}
	}
	return string(b)
}

func needsEscape(c byte) bool { return c <= 0x20 || c >= 0x7F || c == '"' || c == '%' }

// EncodeBinary renders ev in binary mode, as the binding describes: one
// lower-case ce- header per attribute and extension, values percent-encoded,
// the data as the body. The data content type is written both as
// ce-datacontenttype (read by the CloudEvents Go SDK) and as content-type
// (read by binding-conformant readers).
func EncodeBinary(ev *event.Event) (nats.Header, []byte, error) {
	if err := ev.Validate(); err != nil {
		return nil, nil, fmt.Errorf("encode CloudEvent: %w", err)
	}
	return encodeValidBinary(ev)
}

// encodeValidBinary is EncodeBinary for an event already validated, as
// every decoded one is: the router encodes one per routed change.
func encodeValidBinary(ev *event.Event) (nats.Header, []byte, error) {
	w := headerWriter{header: make(nats.Header, 8)}
	if err := binding.ToMessage(ev).ReadBinary(context.Background(), &w); err != nil {
		return nil, nil, fmt.Errorf("encode CloudEvent: %w", err)
	}
	if ct := ev.DataContentType(); ct != "" {
		w.header[HeaderContentType] = []string{ct}
	}
	return w.header, ev.Data(), nil
}

// headerWriter collects attributes into NATS headers.
type headerWriter struct{ header nats.Header }

func (w *headerWriter) Start(context.Context) error { return nil }
func (w *headerWriter) End(context.Context) error   { return nil }
func (w *headerWriter) SetData(io.Reader) error     { return nil }

func (w *headerWriter) SetAttribute(attr spec.Attribute, value any) error {
	return w.SetExtension(attr.Name(), value)
}

func (w *headerWriter) SetExtension(name string, value any) error {
	s, err := types.Format(value)
	if err != nil {
		return fmt.Errorf("attribute %s: %w", name, err)
	}
	// Direct map assignment keeps the lower-case name; Header.Set would too,
	// but spelling it out documents that names are not canonicalised.
	w.header[HeaderPrefix+strings.ToLower(name)] = []string{encodeHeaderValue(s)}
	return nil
}
