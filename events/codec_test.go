package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	cejs "github.com/cloudevents/sdk-go/protocol/nats_jetstream/v2"
	"github.com/cloudevents/sdk-go/v2/binding/format"
	ceclient "github.com/cloudevents/sdk-go/v2/client"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/protocol"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
)

const updateData = `{"action":"update","content_type":"dcim.device","object_id":"4f1c2a9e","object_repr":"edge-01",` +
	`"user":"admin","request_id":"49e3e39e-7333-4b9c-a9af-19f0dc1e7dc9","time":"2026-11-22T10:00:00Z",` +
	`"prechange":{"name":"edge-01","serial":"A1"},"postchange":{"name":"edge-01","serial":"B2"}}`

const updateSubject = "changes.dcim.device.update"

func updateChange() *events.Change {
	return &events.Change{
		Action: events.ActionUpdate, ContentType: "dcim.device", ObjectID: "4f1c2a9e", ObjectRepr: "edge-01",
		User: "admin", RequestID: "49e3e39e-7333-4b9c-a9af-19f0dc1e7dc9", Time: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
		PreChange:  map[string]any{"name": "edge-01", "serial": "A1"},
		PostChange: map[string]any{"name": "edge-01", "serial": "B2"},
	}
}

// plainHeaders is a binary-mode message as a person writes it with
// `nats pub --header`: no percent-encoding needed, no content type.
func plainHeaders() nats.Header {
	return nats.Header{
		"ce-specversion": {"1.0"},
		"ce-id":          {"chg-1"},
		"ce-source":      {"nautobot://prod"},
		"ce-type":        {"jobhooks.change.update"},
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	ch := updateChange()
	msg, err := events.NewMsg(ch, events.EventOptions{ID: "chg 1/ü", Source: "nautobot://prod/site", HookOrigin: "serial-validator", CausationID: "chg-0"})
	require.NoError(t, err)

	require.Equal(t, updateSubject, msg.Subject)
	require.Equal(t, events.ChangeKey("nautobot://prod/site", "chg 1/ü"), msg.Header.Get(nats.MsgIdHdr), "Nats-Msg-Id is the change key: source + id, safe in a header")
	require.Equal(t, []string{"chg%201/%C3%BC"}, msg.Header["ce-id"], "values are percent-encoded, names lower-case")
	require.Equal(t, []string{"nautobot://prod/site"}, msg.Header["ce-source"])
	require.Equal(t, []string{"1.0"}, msg.Header["ce-specversion"])
	require.Equal(t, []string{"jobhooks.change.update"}, msg.Header["ce-type"])
	require.Equal(t, []string{"4f1c2a9e"}, msg.Header["ce-subject"])
	require.Equal(t, []string{"application/json"}, msg.Header["content-type"])
	require.Equal(t, []string{"application/json"}, msg.Header["ce-datacontenttype"])
	require.Equal(t, []string{"serial-validator"}, msg.Header["ce-hookorigin"])

	got, err := events.Decode(msg.Subject, msg.Header, msg.Data)
	require.NoError(t, err)
	require.Equal(t, "chg 1/ü", got.ID())
	require.Equal(t, "nautobot://prod/site", got.Event.Source())
	require.Equal(t, "serial-validator", got.HookOrigin())
	require.Equal(t, "chg-0", got.CausationID())
	require.Equal(t, ch.Time, got.Event.Time().UTC())
	require.Equal(t, *ch, got.Change)
}

func TestDecodeBinaryHeaderSpellings(t *testing.T) {
	h := nats.Header{
		"CE-SPECVERSION": {"1.0"},
		"Ce-Id":          {"chg-1"},
		"ce-Source":      {"nautobot%3A%2F%2Fprod"},
		"Ce-Subject":     {`"edge%2001 \"x\""`},
		"Ce-Type":        {"jobhooks.change.update"},
		"Ce-Time":        {"2026-11-22T10:00:00Z"},
		"CE-HOOKORIGIN":  {"serial-validator"},
		"Content-Type":   {"application/json; charset=utf-8"},
		"Nats-Msg-Id":    {"chg-1"},
	}
	got, err := events.Decode(updateSubject, h, []byte(updateData))
	require.NoError(t, err)
	require.Equal(t, "chg-1", got.ID())
	require.Equal(t, "nautobot://prod", got.Event.Source(), "values are percent-decoded")
	require.Equal(t, `edge 01 "x"`, got.Event.Subject(), "a quoted string is unquoted, then percent-decoded")
	require.Equal(t, "serial-validator", got.HookOrigin(), "extension header names are case-insensitive")
	require.Equal(t, "application/json; charset=utf-8", got.Event.DataContentType(), "content-type gives datacontenttype")
	require.Equal(t, *updateChange(), got.Change)
}

func TestDecodeStructured(t *testing.T) {
	ev := event.New()
	ev.SetID("chg-1")
	ev.SetSource("nautobot://prod")
	ev.SetType("jobhooks.change.update")
	require.NoError(t, ev.SetData(event.ApplicationJSON, json.RawMessage(updateData)))
	body, err := format.JSON.Marshal(&ev)
	require.NoError(t, err)

	for _, tc := range []struct {
		name   string
		header nats.Header
	}{
		{"with content type", nats.Header{"content-type": {"application/cloudevents+json"}}},
		{"content type any case with parameters", nats.Header{"Content-Type": {"Application/CloudEvents+JSON; charset=UTF-8"}}},
		{"as the CloudEvents Go SDK writes it, without content type", nats.Header{}},
		{"no header at all", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := events.Decode(updateSubject, tc.header, body)
			require.NoError(t, err)
			require.Equal(t, "chg-1", got.ID())
			require.Equal(t, *updateChange(), got.Change)
		})
	}
}

// TestDecodeFromJetStream publishes changes the ways real producers do (the
// official CloudEvents Go SDK's NATS JetStream sender, headers as the nats
// CLI sends them, jobhooks' own Publisher) and decodes what JetStream
// delivers.
func TestDecodeFromJetStream(t *testing.T) {
	srv := jstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := srv.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "CHANGES", Subjects: []string{"changes.>"}, Duplicates: 2 * time.Minute})
	require.NoError(t, err)

	// 1. The CloudEvents Go SDK's NATS JetStream sender, through its client.
	sender, err := cejs.NewSenderFromConn(srv.Conn, "CHANGES", updateSubject, nil)
	require.NoError(t, err)
	client, err := ceclient.New(sender)
	require.NoError(t, err)
	sdkEvent := event.New()
	sdkEvent.SetID("sdk-1")
	sdkEvent.SetSource("nautobot://prod")
	sdkEvent.SetType("jobhooks.change.update")
	sdkEvent.SetTime(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
	sdkEvent.SetExtension("hookorigin", "serial-validator")
	require.NoError(t, sdkEvent.SetData(event.ApplicationJSON, updateChange()))
	result := client.Send(ctx, sdkEvent)
	require.Truef(t, protocol.IsACK(result), "sdk send: %v", result)

	// 2. Plain headers, as `nats pub --header ce-id:cli-1 ...` sends them.
	cli := &nats.Msg{Subject: updateSubject, Header: plainHeaders(), Data: []byte(updateData)}
	cli.Header.Set("ce-id", "cli-1")
	cli.Header.Set(nats.MsgIdHdr, "cli-1")
	_, err = srv.JS.PublishMsg(ctx, cli)
	require.NoError(t, err)

	// 3. jobhooks' Publisher.
	_, err = events.NewPublisher(srv.JS, "nautobot://prod").Publish(ctx, updateChange(), events.EventOptions{ID: "pub-1"})
	require.NoError(t, err)

	cons, err := srv.JS.OrderedConsumer(ctx, "CHANGES", jetstream.OrderedConsumerConfig{})
	require.NoError(t, err)
	batch, err := cons.FetchNoWait(10)
	require.NoError(t, err)
	var ids []string
	for m := range batch.Messages() {
		got, err := events.Decode(m.Subject(), m.Headers(), m.Data())
		require.NoError(t, err, "message %v", m.Headers())
		require.Equal(t, *updateChange(), got.Change)
		ids = append(ids, got.ID())
		if got.ID() == "sdk-1" {
			require.Equal(t, "serial-validator", got.HookOrigin())
		}
	}
	require.NoError(t, batch.Error())
	require.Equal(t, []string{"sdk-1", "cli-1", "pub-1"}, ids)
}

func TestDecodeInvalid(t *testing.T) {
	with := func(mutate func(nats.Header)) nats.Header {
		h := plainHeaders()
		mutate(h)
		return h
	}
	dataWith := func(from, to string) []byte {
		require.Contains(t, updateData, from)
		return []byte(strings.Replace(updateData, from, to, 1))
	}
	for _, tc := range []struct {
		name    string
		subject string
		header  nats.Header
		data    []byte
		want    string
	}{
		{"not a CloudEvent", updateSubject, nats.Header{"x-foo": {"1"}}, []byte(updateData), "not a CloudEvent: no ce-specversion header and no application/cloudevents+json content type"},
		{"spec version 2.0", updateSubject, with(func(h nats.Header) { h.Set("ce-specversion", "2.0") }), []byte(updateData), `ce-specversion "2.0": want 1.0`},
		{"spec version 0.3", updateSubject, with(func(h nats.Header) { h.Set("ce-specversion", "0.3") }), []byte(updateData), `specversion "0.3": want 1.0`},
		{"no id", updateSubject, with(func(h nats.Header) { h.Del("ce-id") }), []byte(updateData), "id: MUST be a non-empty string"},
		{"no source", updateSubject, with(func(h nats.Header) { h.Del("ce-source") }), []byte(updateData), "source: REQUIRED"},
		{"no type", updateSubject, with(func(h nats.Header) { h.Del("ce-type") }), []byte(updateData), "type: MUST be a non-empty string"},
		{"id too long", updateSubject, with(func(h nats.Header) { h.Set("ce-id", strings.Repeat("x", 257)) }), []byte(updateData), "257 bytes, at most 256 allowed"},
		{"bad percent-encoding", updateSubject, with(func(h nats.Header) { h.Set("ce-source", "a%zz") }), []byte(updateData), "header ce-source: bad percent-encoding"},
		{"not UTF-8", updateSubject, with(func(h nats.Header) { h.Set("ce-source", "a%FF") }), []byte(updateData), "header ce-source: value is not valid UTF-8"},
		{"header twice", updateSubject, with(func(h nats.Header) { h["CE-ID"] = []string{"other"} }), []byte(updateData), "appears more than once"},
		{"bad extension name", updateSubject, with(func(h nats.Header) { h.Set("ce-hook_origin", "x") }), []byte(updateData), "header ce-hook_origin: bad key"},
		{"bad time", updateSubject, with(func(h nats.Header) { h.Set("ce-time", "yesterday") }), []byte(updateData), "header ce-time"},
		{"wrong type", updateSubject, with(func(h nats.Header) { h.Set("ce-type", "org.netbox.device.updated") }), []byte(updateData), `type "org.netbox.device.updated": want "jobhooks.change.update" for action update`},
		{"data not JSON by content type", updateSubject, with(func(h nats.Header) { h.Set("content-type", "text/plain") }), []byte(updateData), `datacontenttype "text/plain": change data must be JSON`},
		{"no data", updateSubject, plainHeaders(), nil, "the event has no data"},
		{"data not JSON", updateSubject, plainHeaders(), []byte("serial=B2"), "data is not a change JSON object"},
		{"data a JSON array", updateSubject, plainHeaders(), []byte(`[1,2]`), "data is not a change JSON object"},
		{"content type differs from subject", updateSubject, plainHeaders(), dataWith(`"dcim.device"`, `"dcim.interface"`), `content_type "dcim.interface" does not match subject`},
		{"action differs from subject", updateSubject, plainHeaders(), dataWith(`"action":"update"`, `"action":"create"`), `action "create" does not match subject`},
		{"update without postchange", updateSubject, plainHeaders(), dataWith(`"postchange":{"name":"edge-01","serial":"B2"}`, `"postchange":null`), "an update needs postchange"},
		{"prechange not an object", updateSubject, plainHeaders(), dataWith(`"prechange":{"name":"edge-01","serial":"A1"}`, `"prechange":"A1"`), "data is not a change JSON object"},
		{"subject without action", "changes.dcim.device", plainHeaders(), []byte(updateData), `invalid subject "changes.dcim.device"`},
		{"batch mode", updateSubject, nats.Header{"content-type": {"application/cloudevents-batch+json"}}, []byte(`[]`), `content type "application/cloudevents-batch+json" is not supported`},
		{"structured, broken JSON", updateSubject, nats.Header{"content-type": {"application/cloudevents+json"}}, []byte(`{"specversion":`), "not a valid CloudEvent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := events.Decode(tc.subject, tc.header, tc.data)
			require.ErrorIs(t, err, events.ErrInvalidChange)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// TestDecodeRefusesInvalidUTF8 pins that change data, which is JSON and so
// UTF-8, is refused when it is not, with the offset of the first bad byte,
// however the change arrives.
func TestDecodeRefusesInvalidUTF8(t *testing.T) {
	serialAt := strings.Index(updateData, `"B2"`) + 1 // the B of "B2"
	for _, tc := range []struct {
		name   string
		bad    string // replaces the B of "B2"
		offset int    // of the first bad byte, from serialAt
	}{
		{"a lone continuation byte", "\x80", 0},
		{"a byte never in UTF-8", "B\xff", 1},
		{"a truncated sequence", "\xe2\x82B", 0},
		{"an overlong encoding", "\xc0\xafB", 0},
		{"an encoded surrogate", "\xed\xa0\x80", 0},
		{"after valid multi-byte text", "Bé€😀\xfe", 1 + len("é€😀")},
	} {
		data := []byte(updateData[:serialAt] + tc.bad + updateData[serialAt+1:])
		want := fmt.Sprintf("data is not valid UTF-8 at byte %d", serialAt+tc.offset)
		t.Run(tc.name+"/binary", func(t *testing.T) {
			_, err := events.Decode(updateSubject, plainHeaders(), data)
			require.ErrorIs(t, err, events.ErrInvalidChange)
			require.EqualError(t, err, "invalid change: "+want)
		})
		t.Run(tc.name+"/event", func(t *testing.T) {
			ev := event.New()
			ev.SetID("chg-1")
			ev.SetSource("nautobot://prod")
			ev.SetType("jobhooks.change.update")
			require.NoError(t, ev.SetData(event.ApplicationJSON, data))
			_, err := events.ChangeOfEvent(&ev)
			require.ErrorIs(t, err, events.ErrInvalidChange)
			require.ErrorContains(t, err, want)
		})
		t.Run(tc.name+"/job message", func(t *testing.T) {
			header := plainHeaders()
			header.Set(events.HeaderHook, "serial-check")
			_, err := events.DecodeJobMessage("jobs.serial-validator", header, data)
			require.ErrorIs(t, err, events.ErrInvalidChange)
			require.ErrorContains(t, err, want)
		})
		t.Run(tc.name+"/structured", func(t *testing.T) {
			prefix := `{"specversion":"1.0","id":"chg-1","source":"nautobot://prod","type":"jobhooks.change.update","data":`
			body := []byte(prefix + string(data) + `}`)
			_, err := events.Decode(updateSubject, nats.Header{"content-type": {events.StructuredContentType}}, body)
			require.ErrorIs(t, err, events.ErrInvalidChange)
			require.ErrorContains(t, err, fmt.Sprintf("is not valid UTF-8 at byte %d", len(prefix)+serialAt+tc.offset))
		})
	}
	t.Run("valid UTF-8, U+FFFD included, is accepted", func(t *testing.T) {
		data := []byte(updateData[:serialAt] + "B\uFFFDé" + updateData[serialAt+1:])
		got, err := events.Decode(updateSubject, plainHeaders(), data)
		require.NoError(t, err)
		require.Equal(t, "B\uFFFDé2", got.Change.PostChange["serial"])
	})
}

// TestDecodeKeepsNumbersAsSent: a number in change data decodes as the
// float64 encoding/json gives when that float64 is the number sent, and as
// a json.Number, digit for digit, when a float64 would change it.
func TestDecodeKeepsNumbersAsSent(t *testing.T) {
	for _, tc := range []struct {
		written string
		want    any
	}{
		{"42", 42.0},
		{"-7", -7.0},
		{"0.1", 0.1},
		{"1.0", 1.0},
		{"1e2", 100.0},
		{"9007199254740992", 9007199254740992.0},
		{"1e21", 1e21},
		{"5e-324", 5e-324},
		{"0.000", 0.0},
		{"100000000000000000000000", 1e23},
		{"9007199254740993", json.Number("9007199254740993")},
		{"18446744073709551617", json.Number("18446744073709551617")},
		{"0.10000000000000001", json.Number("0.10000000000000001")},
		{"3.14159265358979323846", json.Number("3.14159265358979323846")},
		{"1e400", json.Number("1e400")},
		{"1e-400", json.Number("1e-400")},
	} {
		t.Run(tc.written, func(t *testing.T) {
			v := tc.written
			body := `{"action":"update","content_type":"dcim.device","prechange":{"n":` + v + `},` +
				`"postchange":{"n":` + v + `,"cf":{"list":[` + v + `]}},"data":{"n":` + v + `},"context":{"n":` + v + `}}`
			ce, err := events.Decode(updateSubject, plainHeaders(), []byte(body))
			require.NoError(t, err)
			require.Equal(t, tc.want, ce.Change.PreChange["n"], "prechange")
			require.Equal(t, tc.want, ce.Change.PostChange["n"], "postchange")
			require.Equal(t, map[string]any{"list": []any{tc.want}}, ce.Change.PostChange["cf"], "nested")
			require.Equal(t, tc.want, ce.Change.Data["n"], "data")

			header := plainHeaders()
			header.Set(events.HeaderHook, "serial-check")
			jm, err := events.DecodeJobMessage("jobs.serial-validator", header, []byte(body))
			require.NoError(t, err)
			require.Equal(t, tc.want, jm.Change.PostChange["n"], "job message postchange")
			require.Equal(t, tc.want, jm.Context["n"], "job message context")
		})
	}
	t.Run("more data after the object", func(t *testing.T) {
		_, err := events.Decode(updateSubject, plainHeaders(), []byte(updateData+"\n {}"))
		require.ErrorIs(t, err, events.ErrInvalidChange)
		require.ErrorContains(t, err, fmt.Sprintf("data is not a change JSON object: more data after it, at byte %d", len(updateData)+2))
	})
}
