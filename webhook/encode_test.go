package webhook_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/webhook"
)

// The example of NetBox's docs/integrations/webhooks.md (a site created),
// as Go's encoding/json writes it: NetBox's keys, in NetBox's order.
func TestNewPayloadMatchesNetBoxExample(t *testing.T) {
	ch := &events.Change{
		Action: events.ActionCreate, ContentType: "dcim.site", ObjectID: "4", ObjectRepr: "Site 1",
		User: "jstretch", RequestID: "17af32f0-852a-46ca-a7d4-33ecd0c13de6",
		Time:       time.Date(2026, 3, 6, 15, 11, 23, 503186000, time.UTC),
		Data:       map[string]any{"id": 4, "url": "/api/dcim/sites/4/", "display_url": "/dcim/sites/4/", "display": "Site 1"},
		PostChange: map[string]any{"created": "2026-03-06T15:11:23.484Z", "owner": nil, "status": "active"},
	}
	body, err := webhook.Encode(webhook.NewPayload(ch, nil, time.Time{}))
	require.NoError(t, err)
	assert.Equal(t, `{"event":"created","timestamp":"2026-03-06T15:11:23.503186+00:00","object_type":"dcim.site",`+
		`"username":"jstretch","request_id":"17af32f0-852a-46ca-a7d4-33ecd0c13de6",`+
		`"data":{"display":"Site 1","display_url":"/dcim/sites/4/","id":4,"url":"/api/dcim/sites/4/"},`+
		`"snapshots":{"prechange":null,"postchange":{"created":"2026-03-06T15:11:23.484Z","owner":null,"status":"active"}}}`,
		string(body))
}

func TestNewPayloadFallbacks(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.FixedZone("CET", 3600))
	del := &events.Change{Action: events.ActionDelete, ContentType: "dcim.device", PreChange: map[string]any{"name": "x"}}
	body, err := webhook.Encode(webhook.NewPayload(del, map[string]any{"site": "ams"}, at))
	require.NoError(t, err)
	assert.Equal(t, `{"event":"deleted","timestamp":"2026-01-02T02:04:05.000006+00:00","object_type":"dcim.device",`+
		`"username":null,"request_id":null,"data":{"name":"x"},`+
		`"snapshots":{"prechange":{"name":"x"},"postchange":null},"context":{"site":"ams"}}`, string(body),
		"data falls back to prechange, the time to at; context kept when non-empty")

	upd := &events.Change{Action: events.ActionUpdate, ContentType: "dcim.device",
		PreChange: map[string]any{"name": "a"}, PostChange: map[string]any{"name": "b"}}
	p := webhook.NewPayload(upd, map[string]any{}, at)
	assert.Equal(t, "updated", p.Event)
	assert.Equal(t, map[string]any{"name": "b"}, p.Data, "data falls back to postchange")
	assert.Nil(t, p.Context, "an empty context is omitted")
}
