package ingest

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/webhook"
)

// checkMsg fails t unless a request's outcome is a 4xx or a change message
// the router accepts.
func checkMsg(t *testing.T, msg *nats.Msg, status int, err error) {
	t.Helper()
	if err != nil {
		if status < 400 || status > 499 {
			t.Fatalf("refused with status %d: %v", status, err)
		}
		return
	}
	if _, err := events.Decode(msg.Subject, msg.Header, msg.Data); err != nil {
		t.Fatalf("accepted a change the router would dead-letter: %v", err)
	}
	if msg.Header.Get(nats.MsgIdHdr) == "" {
		t.Fatal("no Nats-Msg-Id")
	}
}

func FuzzCloudEventMsg(f *testing.F) {
	data := `{"action":"update","content_type":"dcim.device","prechange":{},"postchange":{"serial":"B"}}`
	f.Add("", "1.0", "id-1", "jobhooks.change.update", "application/json", []byte(data))
	f.Add("", "1.0", "id\n2", "jobhooks.change.update", "", []byte(data))
	f.Add("application/cloudevents+json", "", "", "", "", []byte(`{"specversion":"1.0","id":"x","source":"s","type":"jobhooks.change.update","data":`+data+`}`))
	f.Add("application/cloudevents-batch+json", "", "", "", "", []byte(`[]`))
	f.Fuzz(func(t *testing.T, contentType, specversion, id, typ, dataContentType string, body []byte) {
		r := httptest.NewRequest(http.MethodPost, PathChanges, bytes.NewReader(body))
		for name, v := range map[string]string{"Content-Type": contentType, "Ce-Specversion": specversion, "Ce-Id": id, "Ce-Type": typ, "Ce-Source": "fuzz", "Ce-Datacontenttype": dataContentType} {
			if v != "" {
				r.Header.Set(name, v)
			}
		}
		msg, _, status, err := cloudEventMsg(r, body)
		checkMsg(t, msg, status, err)
	})
}

func FuzzWebhookMsg(f *testing.F) {
	f.Add(true, "", []byte(`{"event":"created","object_type":"dcim.site","data":{"id":1}}`))
	f.Add(false, "dcim.device", []byte(`{"event":"deleted","model":"device","data":{"id":"x"}}`))
	f.Add(false, "", []byte(`{"event":"job_ended","data":{}}`))
	f.Fuzz(func(t *testing.T, netbox bool, contentType string, body []byte) {
		d, source := webhook.Nautobot, SourceNautobot
		if netbox {
			d, source = webhook.NetBox, SourceNetBox
		}
		r := httptest.NewRequest(http.MethodPost, PathNetBox+"?content_type="+url.QueryEscape(contentType), bytes.NewReader(body))
		msg, _, status, err := webhookMsg(d, source, r, body)
		checkMsg(t, msg, status, err)
	})
}
