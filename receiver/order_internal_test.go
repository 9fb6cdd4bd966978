package receiver

import (
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
)

// TestOrderKey: the Jobhooks-Object header names the object when there is
// one (whatever the body says: it is the router's); else the change data
// does, in either content mode.
func TestOrderKey(t *testing.T) {
	t.Parallel()
	binary := nats.Header{"ce-specversion": {"1.0"}}
	body := []byte(`{"action":"update","content_type":"dcim.device","object_id":"7","postchange":{}}`)
	for _, tc := range []struct {
		name   string
		header nats.Header
		data   string
		want   string
	}{
		{"header", nats.Header{"ce-specversion": {"1.0"}, "Jobhooks-Object": {"dcim.site 3"}}, string(body), "dcim.site 3"},
		{"header in another case", nats.Header{"ce-specversion": {"1.0"}, "jobhooks-object": {"dcim.site 3"}}, string(body), "dcim.site 3"},
		{"binary body", binary, string(body), "dcim.device 7"},
		{"structured body", nats.Header{"content-type": {"application/cloudevents+json"}}, `{"specversion":"1.0","data":` + string(body) + `}`, "dcim.device 7"},
		{"an id no header can hold", binary, `{"content_type":"dcim.device","object_id":"a\nb"}`, "dcim.device a\nb"},
		{"no object id", binary, `{"content_type":"dcim.device"}`, ""},
		{"not JSON", binary, `{"content_type":`, ""},
		{"structured without data", nats.Header{}, `{"specversion":"1.0"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, orderKey(tc.header, []byte(tc.data)))
		})
	}
}
