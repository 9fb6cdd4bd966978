package webhook

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

func TestDecodeDocumentedBodies(t *testing.T) {
	tests := []struct {
		file     string
		dialect  Dialect
		want     events.Change
		serialKV [2]string // prechange and postchange serial, when the body has one
	}{
		{
			file: "netbox-4.6-site-created.json", dialect: NetBox,
			want: events.Change{Action: events.ActionCreate, ContentType: "dcim.site", ObjectID: "4", ObjectRepr: "Site 1",
				User: "jstretch", RequestID: "17af32f0-852a-46ca-a7d4-33ecd0c13de6",
				Time: time.Date(2026, 3, 6, 15, 11, 23, 503186000, time.UTC)},
		},
		{
			file: "netbox-4.3-device-updated.json", dialect: NetBox,
			want: events.Change{Action: events.ActionUpdate, ContentType: "dcim.device", ObjectID: "17", ObjectRepr: "edge-01",
				User: "admin", RequestID: "5b0c9e3a-0f6e-4c59-9d1b-7a4e3f1c2d88",
				Time: time.Date(2025, 6, 2, 9, 41, 7, 118254000, time.UTC)},
			serialKV: [2]string{"A1", "B2"},
		},
		{
			file: "nautobot-2-device-updated.json", dialect: Nautobot,
			want: events.Change{Action: events.ActionUpdate, ContentType: "dcim.device", ObjectID: "7f3e8a2c-1d4b-4e6f-9a8c-2b5d7e9f1a3c",
				ObjectRepr: "core-sw-01", User: "netops", RequestID: "c3a1f2e4-7d6b-4c9a-8e2f-1b3d5a7c9e0f",
				Time: time.Date(2026, 11, 30, 8, 12, 45, 331927000, time.UTC)},
			serialKV: [2]string{"FDO2233X0AA", "FDO2233X0AB"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body := readTestdata(t, tt.file)
			in, err := Decode(tt.dialect, body, DecodeOptions{})
			require.NoError(t, err)
			got := in.Change
			assert.Equal(t, tt.want.Action, got.Action)
			assert.Equal(t, tt.want.ContentType, got.ContentType)
			assert.Equal(t, tt.want.ObjectID, got.ObjectID)
			assert.Equal(t, tt.want.ObjectRepr, got.ObjectRepr)
			assert.Equal(t, tt.want.User, got.User)
			assert.Equal(t, tt.want.RequestID, got.RequestID)
			assert.True(t, tt.want.Time.Equal(got.Time), "time %v, want %v", got.Time, tt.want.Time)
			require.NoError(t, got.Validate())

			var raw struct {
				Data      map[string]any `json:"data"`
				Snapshots struct {
					PreChange  map[string]any `json:"prechange"`
					PostChange map[string]any `json:"postchange"`
				} `json:"snapshots"`
			}
			require.NoError(t, json.Unmarshal(body, &raw))
			assert.Equal(t, roundTrip(t, raw.Data), roundTrip(t, got.Data), "data is kept")
			assert.Equal(t, roundTrip(t, raw.Snapshots.PostChange), roundTrip(t, got.PostChange), "postchange from snapshots")
			assert.Equal(t, roundTrip(t, raw.Snapshots.PreChange), roundTrip(t, got.PreChange), "prechange from snapshots")
			if tt.serialKV[0] != "" {
				assert.Equal(t, tt.serialKV[0], got.PreChange["serial"])
				assert.Equal(t, tt.serialKV[1], got.PostChange["serial"])
			}
			assert.Equal(t, ChangeID(tt.dialect, body, DecodeOptions{}), in.ID)
			assert.NoError(t, events.ValidateChangeID(in.ID))
		})
	}
}

// roundTrip renders v as JSON and back, so that numbers compare equal
// whether they were decoded as float64 or json.Number.
func roundTrip(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var out any
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}

func TestDecodeKeepsNumbersAsSent(t *testing.T) {
	body := []byte(`{"event":"created","object_type":"dcim.site","data":{"id":12345678901234567890,"latitude":52.370216000000001},"snapshots":{"prechange":null,"postchange":{"id":12345678901234567890}}}`)
	in, err := Decode(NetBox, body, DecodeOptions{})
	require.NoError(t, err)
	assert.Equal(t, "12345678901234567890", in.Change.ObjectID)
	b, err := json.Marshal(in.Change.Data)
	require.NoError(t, err)
	assert.JSONEq(t, `{"id":12345678901234567890,"latitude":52.370216000000001}`, string(b))
	assert.Contains(t, string(b), "52.370216000000001")
}

func TestChangeID(t *testing.T) {
	a := readTestdata(t, "netbox-4.6-site-created.json")
	id := func(d Dialect, body string, ct string) string {
		return ChangeID(d, []byte(body), DecodeOptions{ContentType: ct})
	}
	base := `{"event":"created","timestamp":"2026-03-06T15:11:23.503186+00:00","object_type":"dcim.site","data":{"id":1}`
	tests := []struct {
		name string
		a, b string
		same bool
	}{
		{"a retry: the same body", base + `}`, base + `}`, true},
		{"another context (NetBox reruns its callbacks per attempt)", base + `,"context":{"n":1}}`, base + `,"context":{"n":2}}`, true},
		{"with and without context", base + `}`, base + `,"context":{"owner":"net"}}`, true},
		{"whitespace between members", base + `}`, strings.Replace(base, `,"object_type"`, `, "object_type"`, 1) + `}`, true},
		{"another timestamp", base + `}`, strings.Replace(base, "503186", "503187", 1) + `}`, false},
		{"another object", base + `}`, strings.Replace(base, `"id":1`, `"id":2`, 1) + `}`, false},
		{"a nested context is data", base[:len(base)-1] + `,"context":1}}`, base[:len(base)-1] + `,"context":2}}`, false},
		{"a member moved into another", `{"a":"x","b":""}`, `{"a":"","b":"x"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, y := id(NetBox, tt.a, ""), id(NetBox, tt.b, "")
			if tt.same {
				assert.Equal(t, x, y)
			} else {
				assert.NotEqual(t, x, y)
			}
		})
	}
	assert.NotEqual(t, id(NetBox, string(a), ""), id(Nautobot, string(a), ""), "the dialect is part of the id")
	assert.NotEqual(t, id(Nautobot, string(a), "dcim.site"), id(Nautobot, string(a), "dcim.region"), "so is the content type the URL names")
	assert.NotEqual(t, id(NetBox, "not json", ""), id(NetBox, "not json!", ""), "a body that is not an object is hashed whole")
	assert.Regexp(t, `^netbox-[0-9a-f]{32}$`, id(NetBox, string(a), ""))
}

func TestDecodeContentType(t *testing.T) {
	tests := []struct {
		name    string
		dialect Dialect
		body    string
		opts    DecodeOptions
		want    string
		wantErr string
	}{
		{"netbox object_type", NetBox, `{"event":"created","object_type":"ipam.prefix","data":{"id":1}}`, DecodeOptions{}, "ipam.prefix", ""},
		{"netbox object_type wins over the query", NetBox, `{"event":"created","object_type":"ipam.prefix","data":{"id":1}}`, DecodeOptions{ContentType: "dcim.site"}, "ipam.prefix", ""},
		{"netbox model with a relative url", NetBox, `{"event":"created","model":"prefix","data":{"url":"/api/ipam/prefixes/1/"}}`, DecodeOptions{}, "ipam.prefix", ""},
		{"netbox model with an absolute url", NetBox, `{"event":"created","model":"site","data":{"url":"https://netbox.example.com/api/dcim/sites/1/"}}`, DecodeOptions{}, "dcim.site", ""},
		{"model is lowercased", NetBox, `{"event":"created","model":"Site","data":{"url":"/api/dcim/sites/1/"}}`, DecodeOptions{}, "dcim.site", ""},
		{"netbox ignores data.object_type", NetBox, `{"event":"created","model":"imageattachment","data":{"object_type":"dcim.site","url":"/api/extras/image-attachments/1/"}}`, DecodeOptions{}, "extras.imageattachment", ""},
		{"netbox plugin url needs the query", NetBox, `{"event":"created","model":"widget","data":{"url":"/api/plugins/widgets/widgets/1/"}}`, DecodeOptions{ContentType: "netbox_widgets.widget"}, "netbox_widgets.widget", ""},
		{"nautobot data.object_type", Nautobot, `{"event":"created","model":"device","data":{"object_type":"dcim.device","url":"http://n/api/other/devices/1/"}}`, DecodeOptions{}, "dcim.device", ""},
		{"nautobot data.url", Nautobot, `{"event":"created","model":"device","data":{"url":"http://n/api/dcim/devices/1/"}}`, DecodeOptions{}, "dcim.device", ""},
		{"nautobot query", Nautobot, `{"event":"created","model":"device","data":{"id":"x"}}`, DecodeOptions{ContentType: "dcim.device"}, "dcim.device", ""},
		{"no model at all, query", Nautobot, `{"event":"created","data":{"id":"x"}}`, DecodeOptions{ContentType: "dcim.device"}, "dcim.device", ""},
		{"nothing names the app", Nautobot, `{"event":"created","model":"device","data":{"id":"x"}}`, DecodeOptions{}, "", `model "device" has no app label: data.url is missing; add ?content_type=<app_label>.device`},
		{"nothing names the type", NetBox, `{"event":"created","data":{"id":1}}`, DecodeOptions{}, "", `neither "object_type" nor "model"`},
		{"url without api", Nautobot, `{"event":"created","model":"device","data":{"url":"http://n/dcim/devices/1/"}}`, DecodeOptions{}, "", `has no /api/<app_label>/ part`},
		{"plugin url without query", NetBox, `{"event":"created","model":"widget","data":{"url":"/api/plugins/widgets/widgets/1/"}}`, DecodeOptions{}, "", `plugin's URL`},
		{"model disagrees with the query", Nautobot, `{"event":"created","model":"device","data":{"id":"x"}}`, DecodeOptions{ContentType: "dcim.site"}, "", `model "device" does not match content_type "dcim.site"`},
		{"model disagrees with object_type", NetBox, `{"event":"created","object_type":"dcim.site","model":"device","data":{}}`, DecodeOptions{}, "", `model "device" does not match object_type "dcim.site"`},
		{"bad object_type", NetBox, `{"event":"created","object_type":"site","data":{}}`, DecodeOptions{}, "", `object_type:`},
		{"bad query", Nautobot, `{"event":"created","data":{}}`, DecodeOptions{ContentType: "DCIM device"}, "", `content_type:`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := Decode(tt.dialect, []byte(tt.body), tt.opts)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.ErrorIs(t, err, ErrMalformed)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, in.Change.ContentType)
		})
	}
}

func TestDecodeRefuses(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		is      error
		wantErr string
	}{
		{"empty", ``, ErrMalformed, "the body is empty"},
		{"not an object", `[1,2]`, ErrMalformed, "not a JSON object"},
		{"truncated", `{"event":"created"`, ErrMalformed, "invalid JSON"},
		{"trailing data", `{"event":"created","object_type":"dcim.site","data":{}} {}`, ErrMalformed, "data after the JSON object"},
		{"no event", `{"object_type":"dcim.site","data":{}}`, ErrMalformed, `no "event"`},
		{"event not a string", `{"event":1,"object_type":"dcim.site","data":{}}`, ErrMalformed, `"event" is a JSON number, want a string`},
		{"data not an object", `{"event":"created","object_type":"dcim.site","data":"x"}`, ErrMalformed, `"data" is a JSON string, want an object`},
		{"snapshots not an object", `{"event":"created","object_type":"dcim.site","data":{},"snapshots":[]}`, ErrMalformed, `"snapshots" is a JSON array, want an object`},
		{"no data", `{"event":"created","object_type":"dcim.site"}`, ErrMalformed, `no "data" object`},
		{"null data", `{"event":"created","object_type":"dcim.site","data":null}`, ErrMalformed, `no "data" object`},
		{"bad timestamp", `{"event":"created","timestamp":"yesterday","object_type":"dcim.site","data":{}}`, ErrMalformed, `timestamp: "yesterday" is not an ISO 8601 time`},
		{"delete with a postchange", `{"event":"deleted","object_type":"dcim.site","data":{},"snapshots":{"prechange":{},"postchange":{"a":1}}}`, ErrMalformed, "a delete must have postchange null"},
		{"update without postchange", `{"event":"updated","object_type":"dcim.site","data":{},"snapshots":{"prechange":{"a":1},"postchange":null}}`, ErrMalformed, "an update needs postchange"},
		{"job started", `{"event":"job_started","timestamp":"2026-03-06T15:11:23.503186+00:00","object_type":"core.job","data":{}}`, ErrNotObjectChange, `event "job_started"`},
		{"job ended", `{"event":"job_ended","object_type":"core.job","data":{"log":[]}}`, ErrNotObjectChange, `event "job_ended"`},
		{"unknown event", `{"event":"object_archived","object_type":"dcim.site","data":{}}`, ErrNotObjectChange, `event "object_archived": only created, updated and deleted`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(NetBox, []byte(tt.body), DecodeOptions{})
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.is)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestDecodeFallbacks(t *testing.T) {
	t.Run("no snapshots: data is the postchange", func(t *testing.T) {
		in, err := Decode(NetBox, []byte(`{"event":"created","object_type":"dcim.site","data":{"id":1,"name":"ams1"}}`), DecodeOptions{})
		require.NoError(t, err)
		assert.Nil(t, in.Change.PreChange)
		assert.Equal(t, "ams1", in.Change.PostChange["name"])
		assert.Equal(t, "ams1", in.Change.ObjectRepr, "repr from name without display")
		assert.True(t, in.Change.Time.IsZero(), "no timestamp, no time")
	})
	t.Run("no snapshots on a delete: data is the prechange", func(t *testing.T) {
		in, err := Decode(NetBox, []byte(`{"event":"deleted","object_type":"dcim.site","data":{"id":1,"display":"ams1"}}`), DecodeOptions{})
		require.NoError(t, err)
		assert.Nil(t, in.Change.PostChange)
		assert.Equal(t, "ams1", in.Change.PreChange["display"])
	})
	t.Run("NetBox 4.7: user and request id from request", func(t *testing.T) {
		in, err := Decode(NetBox, []byte(`{"event":"created","object_type":"dcim.site","data":{"id":1},"request":{"id":"r-1","method":"POST","path":"/","user":"ops"}}`), DecodeOptions{})
		require.NoError(t, err)
		assert.Equal(t, "ops", in.Change.User)
		assert.Equal(t, "r-1", in.Change.RequestID)
	})
	t.Run("old NetBox str(datetime)", func(t *testing.T) {
		in, err := Decode(NetBox, []byte(`{"event":"create","timestamp":"2023-01-02 03:04:05.123456+00:00","object_type":"dcim.site","data":{}}`), DecodeOptions{})
		require.NoError(t, err)
		assert.Equal(t, time.Date(2023, 1, 2, 3, 4, 5, 123456000, time.UTC), in.Change.Time)
		assert.Equal(t, events.ActionCreate, in.Change.Action)
	})
}

// The body NetBox receives back from the webhook job decodes to the change
// it was made from: one wire format, both ways.
func TestDecodeEncodedPayload(t *testing.T) {
	ch := events.Change{Action: events.ActionUpdate, ContentType: "dcim.device", ObjectID: "9", ObjectRepr: "edge-9",
		User: "ops", RequestID: "r-9", Time: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC),
		PreChange: map[string]any{"serial": "A"}, PostChange: map[string]any{"serial": "B"},
		Data: map[string]any{"id": 9.0, "display": "edge-9", "serial": "B"}}
	body, err := Encode(NewPayload(&ch, nil, time.Time{}))
	require.NoError(t, err)
	in, err := Decode(NetBox, body, DecodeOptions{})
	require.NoError(t, err)
	got := in.Change
	assert.Equal(t, roundTrip(t, ch), roundTrip(t, got))
}

func FuzzDecode(f *testing.F) {
	for _, name := range []string{"netbox-4.6-site-created.json", "netbox-4.3-device-updated.json", "nautobot-2-device-updated.json"} {
		f.Add(readTestdata(f, name), "")
	}
	f.Add([]byte(`{"event":"created","model":"device","data":{"id":"x"}}`), "dcim.device")
	f.Add([]byte(`{"event":"deleted","object_type":"dcim.site","data":{"url":"/api/plugins/x/"}}`), "")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		for _, d := range []Dialect{NetBox, Nautobot} {
			in, err := Decode(d, body, DecodeOptions{ContentType: contentType})
			if err != nil {
				if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNotObjectChange) {
					t.Fatalf("error wraps neither sentinel: %v", err)
				}
				continue
			}
			if err := in.Change.Validate(); err != nil {
				t.Fatalf("decoded an invalid change: %v", err)
			}
			if err := events.ValidateChangeID(in.ID); err != nil {
				t.Fatalf("bad id %q: %v", in.ID, err)
			}
			if _, err := json.Marshal(in.Change); err != nil {
				t.Fatalf("decoded change does not encode: %v", err)
			}
		}
	})
}
