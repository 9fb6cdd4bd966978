package events_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/jobhooks/jobhooks/events"
)

// FuzzDecodeHead holds DecodeHead to Decode: it accepts exactly what Decode
// accepts, reads the same identity, content type, action, object id and
// origin, refuses with Decode's reason, and renders the same job messages.
func FuzzDecodeHead(f *testing.F) {
	addDecodeSeeds(f)
	binary := "ce-specversion: 1.0\nce-id: chg-1\nce-source: nautobot://prod\nce-type: jobhooks.change.update"
	for _, data := range []string{
		`{"action":"update","content_type":"dcim.device","object_id":"d1","postchange":"x"}`,
		`{"action":"update","content_type":"dcim.device","postchange":{},"prechange":[]}`,
		`{"action":"update","content_type":"dcim.device","postchange":{},"data":1}`,
		`{"action":"update","content_type":"dcim.device","postchange":{},"data":null,"prechange":null}`,
		`{"action":"update","content_type":"dcim.device","postchange":{},"postchange":null}`,
		`{"action":"update","content_type":"dcim.device","postchange":null,"POSTCHANGE":{}}`,
		`{"action":"update","content_type":"dcim.device","postchange":[],"postchange":{}}`,
		`{"action":"update","content_type":"dcim.device","postchange":{},"user":7,"user":null}`,
		`{"action":"update","content_type":"dcim.device","postchange":{},"prechange":1,"PRECHANGE":null}`,
		`{"action":"update","content_type":"dcim.device","postchange":{},"object_id":"a","object_id":null}`,
		`{"Action":"update","CONTENT_TYPE":"dcim.device","PostChange":{"a":1e400}}`,
		`{"action":"update","content_type":"dcim.device","postchange":{},"user":7}`,
		`{"action":"update","content_type":"dcim.device","postchange":{},"object_repr":null,"request_id":true}`,
		`{"action":"update","content_type":"dcim.device","postchange":{},"object_id":5}`,
		`{"action":"update","content_type":"dcim.device","postchange":{},"time":"2026-11-22T10:00:00+01:00"}`,
		`{"action":"update","content_type":"dcim.device","postchange":{},"time":"yesterday"}`,
		`{"action":"update","content_type":"dcim.device","postchange":{},"time":null}`,
		`{"action":"update","content_type":"dcim.device","postchange":{}} {}`,
		`{"action":"update","content_type":"dcim.device","postchange":{}}` + " \t\r\n",
		`{"action":"update","content_type":"dcim.device","postchange":{"a":"\ud800"}}`,
		`{"action":"update","content_type":"dcim.device","postchange":{`,
		`{"action":"update","content_type":"dcim.device","postchange":{},"context":{"x":1}}`,
		` null `,
		`"update"`,
		`{"action":"create","content_type":"dcim.device","postchange":{}}`,
		`{"action":"update","content_type":"dcim.interface","postchange":{}}`,
	} {
		f.Add(updateSubject, binary, []byte(data))
	}
	f.Add(updateSubject, binary+"\ncontent-type: text/plain", []byte(updateData))
	f.Add(updateSubject, binary+"\nce-datacontenttype: application/vnd.x+json; charset=utf-8", []byte(updateData))
	f.Add(updateSubject, binary+"\nce-hookorigin: serial-validator\nce-causationid: c-0", []byte(updateData))
	f.Add(updateSubject, binary+"\nce-id:", []byte(updateData))
	f.Add(updateSubject, binary+"\nCE-ID: ", []byte(updateData))
	f.Add(updateSubject, binary+"\nce-bad_name: x", []byte(updateData))
	f.Add(updateSubject, binary+"\nce-time: 2026-11-22", []byte(updateData))
	f.Add(updateSubject, binary+"\nce-dataschema: ::", []byte(updateData))
	f.Add(updateSubject, strings.Replace(binary, "nautobot://prod", "a b%20c", 1), []byte(updateData))
	f.Add(updateSubject, strings.Replace(binary, "ce-id: chg-1", "ce-id: "+strings.Repeat("i", 257), 1), []byte(updateData))
	f.Add("changes.dcim.device.update.x", binary, []byte(updateData))
	// What directEvent leaves to the SDK's binding, or must refuse as it would.
	f.Add(updateSubject, binary+"\ncontent-type: application/cloudevents+json\nce-source: ::", []byte(`{"specversion":"1.0","id":"1","source":"s","type":"jobhooks.change.update","data":`+updateData+`}`))
	f.Add(updateSubject, binary+"\ncontent-type: application/cloudevents-batch+json", []byte(updateData))
	f.Add(updateSubject, binary+"\ncontent-type: application/cloudevents+json@x\nce-datacontenttype: application/json", []byte(updateData))
	f.Add(updateSubject, binary+"\nCE-İD: x\nce-\u212a: y", []byte(updateData))
	f.Add(updateSubject, binary+"\nce-: x", []byte(updateData))
	f.Add(updateSubject, strings.Replace(binary, "1.0", "0.3", 1), []byte(updateData))
	f.Add(updateSubject, binary+"\nce-datacontenttype: \ncontent-type: text/plain", []byte(updateData))
	f.Add(updateSubject, binary+"\nce-subject: \nce-data: x\nce-specversion2: x", []byte(updateData))
	f.Add(updateSubject, strings.Replace(binary, "ce-id: chg-1", "ce-id: %20", 1), []byte(updateData))
	f.Add(updateSubject, binary+"\nce-time: 2026-11-22T10:00:00.123456789+05:30\nce-dataschema: https://x/y", []byte(updateData))
	many := binary
	for i := range 40 {
		many += fmt.Sprintf("\nce-x%d: %d", i, i)
	}
	f.Add(updateSubject, many, []byte(updateData))
	f.Fuzz(func(t *testing.T, subject, headerLines string, data []byte) {
		header := parseHeaderLines(headerLines)
		want, wantErr := events.Decode(subject, header, data)
		got, err := events.DecodeHead(subject, header, data)
		switch {
		case wantErr != nil && err != nil:
			if err.Error() != wantErr.Error() {
				t.Fatalf("DecodeHead refused with %q, Decode with %q", err, wantErr)
			}
			return
		case wantErr != nil:
			t.Fatalf("DecodeHead accepted what Decode refuses (%v)", wantErr)
		case err != nil:
			t.Fatalf("DecodeHead refused what Decode accepts: %v", err)
		}
		for _, c := range []struct{ what, got, want string }{
			{"id", got.ID(), want.ID()},
			{"source", got.Source(), want.Event.Source()},
			{"key", got.Key(), want.Key()},
			{"content type", got.ContentType, want.Change.ContentType},
			{"action", string(got.Action), string(want.Change.Action)},
			{"object id", got.ObjectID, want.Change.ObjectID},
			{"hookorigin", got.HookOrigin(), want.HookOrigin()},
			{"causationid", got.CausationID(), want.CausationID()},
		} {
			if c.got != c.want {
				t.Fatalf("%s: DecodeHead read %q, Decode %q", c.what, c.got, c.want)
			}
		}
		change, err := got.Change()
		if err != nil {
			t.Fatalf("Change of an accepted change: %v", err)
		}
		if !reflect.DeepEqual(*change, want.Change) {
			t.Fatalf("Change decoded %+v, Decode %+v", *change, want.Change)
		}
		gotMsgs, err := got.JobMessages(nil)
		if err != nil {
			t.Fatalf("JobMessages: %v", err)
		}
		wantMsgs, err := events.NewJobMessagesFrom(want, header, nil)
		if err != nil {
			t.Fatalf("NewJobMessagesFrom: %v", err)
		}
		gotMsg, err := gotMsgs.For("hook", "job")
		if err != nil {
			t.Fatal(err)
		}
		wantMsg, err := wantMsgs.For("hook", "job")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gotMsg.Header, wantMsg.Header) || string(gotMsg.Data) != string(wantMsg.Data) {
			t.Fatalf("job messages differ:\n%v %q\n%v %q", gotMsg.Header, gotMsg.Data, wantMsg.Header, wantMsg.Data)
		}
	})
}
