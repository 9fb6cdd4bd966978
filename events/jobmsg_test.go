package events_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
)

func decodedUpdate(t *testing.T) *events.ChangeEvent {
	t.Helper()
	msg, err := events.NewMsg(updateChange(), events.EventOptions{ID: "chg-1", Source: "nautobot://prod"})
	require.NoError(t, err)
	ce, err := events.Decode(msg.Subject, msg.Header, msg.Data)
	require.NoError(t, err)
	return ce
}

func TestJobMessageRoundTrip(t *testing.T) {
	ce := decodedUpdate(t)
	for _, tc := range []struct {
		name    string
		context map[string]any
	}{
		{"without context", nil},
		{"with context", map[string]any{"site": "DC1", "ticket": map[string]any{"id": 42.0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg, err := events.NewJobMsg(ce, "serial-check", "serial-validator", tc.context)
			require.NoError(t, err)
			require.Equal(t, "jobs.serial-validator", msg.Subject)
			require.Equal(t, events.ChangeKey("nautobot://prod", "chg-1")+".serial-check", msg.Header.Get(nats.MsgIdHdr))
			require.Equal(t, "serial-check", msg.Header.Get(events.HeaderHook))
			require.Equal(t, "serial-validator", msg.Header.Get(events.HeaderJob))
			require.Equal(t, []string{"chg-1"}, msg.Header["ce-id"], "the change's own id")
			require.Equal(t, []string{"application/json"}, msg.Header["content-type"])

			got, err := events.DecodeJobMessage(msg.Subject, msg.Header, msg.Data)
			require.NoError(t, err)
			require.Equal(t, "chg-1", got.ID())
			require.Equal(t, "serial-check", got.Hook)
			require.Equal(t, "serial-validator", got.Job)
			require.Equal(t, *updateChange(), got.Change)
			// As JSON: numbers decode as json.Number, not float64.
			want, err := json.Marshal(tc.context)
			require.NoError(t, err)
			have, err := json.Marshal(got.Context)
			require.NoError(t, err)
			require.JSONEq(t, string(want), string(have))
		})
	}
}

func TestDecodeJobMessageInvalid(t *testing.T) {
	msg, err := events.NewJobMsg(decodedUpdate(t), "serial-check", "serial-validator", nil)
	require.NoError(t, err)
	noHook := nats.Header{}
	for k, v := range msg.Header {
		if k != events.HeaderHook {
			noHook[k] = v
		}
	}
	_, err = events.DecodeJobMessage(msg.Subject, noHook, msg.Data)
	require.ErrorIs(t, err, events.ErrInvalidChange)
	require.ErrorContains(t, err, "job message without a Jobhooks-Hook header")

	_, err = events.DecodeJobMessage("jobs.other", msg.Header, msg.Data)
	require.ErrorContains(t, err, `header Jobhooks-Job "serial-validator" does not match subject "jobs.other"`)

	_, err = events.DecodeJobMessage("changes.dcim.device.update", msg.Header, msg.Data)
	require.ErrorIs(t, err, events.ErrInvalidSubject)

	_, err = events.DecodeJobMessage(msg.Subject, msg.Header, []byte(`{"action":"update","content_type":"dcim.device"}`))
	require.ErrorContains(t, err, "an update needs postchange")
}

func TestHeaderHelpers(t *testing.T) {
	h := nats.Header{"JOBHOOKS-HOOK": {"x"}, "Jobhooks-Job": {"y"}}
	require.Equal(t, "x", events.HeaderValue(h, events.HeaderHook), "any case")
	require.Equal(t, "y", events.HeaderValue(h, events.HeaderJob))
	require.Empty(t, events.HeaderValue(h, events.HeaderError))

	require.Equal(t, "a b c", events.HeaderReason("a\nb\r\n  c"), "one line")
	long := events.HeaderReason(string(make([]byte, 5000)) + "x")
	require.LessOrEqual(t, len(long), 1024+len("…"))
}

func TestJobMessagesPerHook(t *testing.T) {
	msgs, err := events.NewJobMessages(decodedUpdate(t), map[string]any{"site": "DC1"})
	require.NoError(t, err)
	a, err := msgs.For("hook-a", "job-a")
	require.NoError(t, err)
	b, err := msgs.For("hook-b", "job-b")
	require.NoError(t, err)
	require.Equal(t, events.ChangeKey("nautobot://prod", "chg-1")+".hook-a", a.Header.Get(nats.MsgIdHdr))
	require.Equal(t, events.ChangeKey("nautobot://prod", "chg-1")+".hook-b", b.Header.Get(nats.MsgIdHdr))
	require.Equal(t, "jobs.job-b", b.Subject)
	require.Equal(t, "hook-a", a.Header.Get(events.HeaderHook), "each message has its own headers")
	require.Equal(t, a.Data, b.Data)
	_, err = msgs.For("hook-c", "Bad.Job")
	require.ErrorIs(t, err, events.ErrInvalidJobName)
}

func TestNewDeadLetterDropsServerDirectives(t *testing.T) {
	orig := nats.Header{
		"ce-id":                {"chg-1"},
		"Nats-Expected-Stream": {"CHANGES"},
		"nats-ttl":             {"1s"},
		"Nats-Msg-Id":          {"chg-1"},
	}
	dl := events.NewDeadLetter("deadletter.changes", orig, []byte("{}"), "bad\nchange", "deadletter.changes.7")
	require.Equal(t, "deadletter.changes", dl.Subject)
	require.Equal(t, "chg-1", dl.Header.Get("ce-id"))
	require.Equal(t, "bad change", dl.Header.Get(events.HeaderError))
	require.Equal(t, "deadletter.changes.7", dl.Header.Get(nats.MsgIdHdr))
	require.Empty(t, dl.Header.Get("Nats-Expected-Stream"))
	require.Empty(t, dl.Header.Get("nats-ttl"))
	require.Len(t, dl.Header, 3)
	require.Equal(t, "CHANGES", orig.Get("Nats-Expected-Stream"), "the original is not modified")
}

func TestDecodeJobMessageChecksTheType(t *testing.T) {
	msg, err := events.NewJobMsg(decodedUpdate(t), "serial-check", "serial-validator", nil)
	require.NoError(t, err)
	msg.Header["ce-type"] = []string{"jobhooks.change.create"}
	_, err = events.DecodeJobMessage(msg.Subject, msg.Header, msg.Data)
	require.ErrorIs(t, err, events.ErrInvalidChange)
	require.ErrorContains(t, err, `type "jobhooks.change.create": want "jobhooks.change.update" for action update`)
}

// TestJobMessagesFromKeepTheHeadersAsTheyArrived: a binary-mode change's
// ce- headers and content type go into its job messages as they arrived,
// not decoded and encoded again; its other headers do not.
func TestJobMessagesFromKeepTheHeadersAsTheyArrived(t *testing.T) {
	header := nats.Header{
		"ce-specversion": {"1.0"}, "Ce-Id": {"chg-1"}, "ce-source": {"nautobot://prod"}, "ce-type": {"jobhooks.change.update"},
		"ce-subject":   {`"edge 01"`},   // a quoted string: encoded again it would be %22edge%2001%22
		"ce-note":      {"caf\u00e9 é"}, // raw UTF-8: encoded again it would be caf%C3%A9
		"content-type": {"application/json"},
		"Nats-Msg-Id":  {"chg-1"}, "Nats-Expected-Stream": {"CHANGES"}, "traceparent": {"00-x"},
	}
	msg, err := events.NewMsg(updateChange(), events.EventOptions{ID: "chg-1", Source: "nautobot://prod"})
	require.NoError(t, err)
	ce, err := events.Decode(msg.Subject, header, msg.Data)
	require.NoError(t, err)
	msgs, err := events.NewJobMessagesFrom(ce, header, map[string]any{"site": "DC1"})
	require.NoError(t, err)
	job, err := msgs.For("serial-check", "serial-validator")
	require.NoError(t, err)

	want := nats.Header{
		events.HeaderHook: {"serial-check"}, events.HeaderJob: {"serial-validator"},
		nats.MsgIdHdr:       {events.ChangeKey("nautobot://prod", "chg-1") + ".serial-check"},
		events.HeaderObject: {"dcim.device " + updateChange().ObjectID},
	}
	for _, k := range []string{"ce-specversion", "Ce-Id", "ce-source", "ce-type", "ce-subject", "ce-note", "content-type"} {
		want[k] = header[k]
	}
	require.Equal(t, want, job.Header)

	got, err := events.DecodeJobMessage(job.Subject, job.Header, job.Data)
	require.NoError(t, err)
	require.Equal(t, "chg-1", got.ID())
	require.Equal(t, "edge 01", got.Event.Subject())
	require.Equal(t, *updateChange(), got.Change)
	require.Equal(t, map[string]any{"site": "DC1"}, got.Context)
}

// TestJobMessagesFromAStructuredChangeAreBinary: a structured-mode change
// (the whole event in the body) becomes binary-mode job messages, its
// attributes encoded once.
func TestJobMessagesFromAStructuredChangeAreBinary(t *testing.T) {
	data := `{"action":"create","content_type":"dcim.device","postchange":{"name":"edge 01"}}`
	body := `{"specversion":"1.0","id":"s1","source":"nautobot://prod","type":"jobhooks.change.create","subject":"edge 01","datacontenttype":"application/json","data":` + data + `}`
	header := nats.Header{"Content-Type": {"application/cloudevents+json; charset=utf-8"}, "ce-specversion": {"1.0"}}
	ce, err := events.Decode("changes.dcim.device.create", header, []byte(body))
	require.NoError(t, err)
	msgs, err := events.NewJobMessagesFrom(ce, header, nil)
	require.NoError(t, err)
	job, err := msgs.For("h", "j")
	require.NoError(t, err)
	require.Equal(t, []string{"s1"}, job.Header["ce-id"])
	require.Equal(t, []string{"edge%2001"}, job.Header["ce-subject"], "percent-encoded as the binding says")
	require.Equal(t, []string{"application/json"}, job.Header["content-type"])
	require.Empty(t, job.Header["Content-Type"], "not the structured content type")
	require.JSONEq(t, data, string(job.Data))
	got, err := events.DecodeJobMessage(job.Subject, job.Header, job.Data)
	require.NoError(t, err)
	require.Equal(t, "edge 01", got.Event.Subject())
}

func TestChangeDeadLetterID(t *testing.T) {
	h := nats.Header{"ce-id": {"a"}}
	require.Equal(t, "deadletter.changes.42", events.ChangeDeadLetterID(42, "changes.dcim.device.create", h, []byte("{}")))
	id := events.ChangeDeadLetterID(0, "changes.dcim.device.create", h, []byte("{}"))
	require.Regexp(t, `^deadletter\.changes\.sha-[0-9a-f]{32}$`, id)
	require.Equal(t, id, events.ChangeDeadLetterID(0, "changes.dcim.device.create", nats.Header{"ce-id": {"a"}}, []byte("{}")), "the same message, the same id")
	for _, other := range []string{
		events.ChangeDeadLetterID(0, "changes.dcim.device.update", h, []byte("{}")),
		events.ChangeDeadLetterID(0, "changes.dcim.device.create", nats.Header{"ce-id": {"b"}}, []byte("{}")),
		events.ChangeDeadLetterID(0, "changes.dcim.device.create", nats.Header{"ce-id": {"a", ""}}, []byte("{}")),
		events.ChangeDeadLetterID(0, "changes.dcim.device.create", h, []byte("{ }")),
	} {
		require.NotEqual(t, id, other)
	}
}

func TestFitDeadLetter(t *testing.T) {
	orig := nats.Header{"ce-id": {"chg-1"}, "ce-note": {strings.Repeat("n", 70000)}, "ce-small": {"s"}}
	dl := events.NewDeadLetter("deadletter.changes", orig, []byte("{}"), "too large", "deadletter.changes.7")
	dl.Header.Set(events.HeaderSubject, "changes.dcim.device.create")
	dl.Header.Set(events.HeaderSequence, "7")
	small := events.NewDeadLetter("deadletter.changes", nats.Header{"ce-id": {"chg-1"}}, []byte("{}"), "bad", "deadletter.changes.8")
	require.Same(t, small, events.FitDeadLetter(small, 1<<20), "one that fits is kept whole")

	fit := events.FitDeadLetter(dl, 1<<20)
	require.Empty(t, fit.Data)
	require.Equal(t, "deadletter.changes", fit.Subject)
	require.Equal(t, "body, ce-note", fit.Header.Get(events.HeaderOmitted))
	for _, k := range []string{"ce-id", "ce-small", events.HeaderError, events.HeaderSubject, events.HeaderSequence, nats.MsgIdHdr} {
		require.Equal(t, dl.Header[k], fit.Header[k], k)
	}
	require.LessOrEqual(t, events.HeaderSize(fit.Header), events.MaxHeaderBytes)
	require.Len(t, dl.Header["ce-note"], 1, "the original is not modified")

	// A smaller payload limit keeps fewer headers, but always the Jobhooks- ones and the id.
	tiny := events.ShrinkDeadLetter(dl, 1100)
	require.Equal(t, "body, ce-id, ce-note, ce-small", tiny.Header.Get(events.HeaderOmitted))
	require.Equal(t, "7", tiny.Header.Get(events.HeaderSequence))
	require.Equal(t, "deadletter.changes.7", tiny.Header.Get(nats.MsgIdHdr))
}

func TestHeaderSize(t *testing.T) {
	h := nats.Header{"a": {"1", " 22 "}, "bb": {"333"}}
	// NATS/1.0\r\n a: 1\r\n a: 22\r\n bb: 333\r\n \r\n
	require.Equal(t, 10+6+7+9+2, events.HeaderSize(h))
	require.Zero(t, events.HeaderSize(nil))
}

// TestObjectKey: the Jobhooks-Object header names the change's object,
// unambiguously (a content type has no space), or is absent when there is
// no object id or a header cannot carry it.
func TestObjectKey(t *testing.T) {
	for _, tc := range []struct {
		name, contentType, objectID, want string
	}{
		{"uuid", "dcim.device", "4f1c2a9e-3b7d", "dcim.device 4f1c2a9e-3b7d"},
		{"spaces and UTF-8 kept", "dcim.site", "dc 1 café", "dcim.site dc 1 café"},
		{"no object id", "dcim.device", "", ""},
		{"line break", "dcim.device", "a\r\nNats-Msg-Id: forged", ""},
		{"tab", "dcim.device", "a\tb", ""},
		{"DEL", "dcim.device", "a\x7f", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, events.ObjectKey(tc.contentType, tc.objectID))
		})
	}
	// In a job message.
	ch := updateChange()
	ch.ObjectID = "a\nb"
	msg, err := events.NewJobMsg(&events.ChangeEvent{Event: *mustEvent(t, ch), Change: *ch}, "h", "j", nil)
	require.NoError(t, err)
	require.NotContains(t, msg.Header, events.HeaderObject)
}

func mustEvent(t *testing.T, ch *events.Change) *event.Event {
	t.Helper()
	ev, err := events.NewEvent(ch, events.EventOptions{ID: "chg-1", Source: "test://"})
	require.NoError(t, err)
	return ev
}
