package events_test

import (
	"errors"
	"testing"

	"github.com/jobhooks/jobhooks/events"
)

// TestDecodeHeadAgreesOnRepeatedMembers: a change whose data names a member
// twice, or in two spellings, is refused by DecodeHead as by Decode, with
// Decode's error: encoding/json remembers a member of the wrong type even
// when a later one of the same name is right. What Decode accepts of such
// data, DecodeHead accepts and reads as it does.
func TestDecodeHeadAgreesOnRepeatedMembers(t *testing.T) {
	header := parseHeaderLines("ce-specversion: 1.0\nce-id: chg-1\nce-source: nautobot://prod\nce-type: jobhooks.change.update")
	const head = `{"action":"update","content_type":"dcim.device",`
	for _, tc := range []struct {
		name, data string
		objectID   string // read when the change is accepted
		refused    bool
	}{
		{name: "an array, then an object", data: head + `"postchange":[],"postchange":{}}`, refused: true},
		{name: "a number, then null", data: head + `"postchange":{},"user":7,"user":null}`, refused: true},
		{name: "a number, then null in capitals", data: head + `"postchange":{},"prechange":1,"PRECHANGE":null}`, refused: true},
		{name: "null, then a number", data: head + `"postchange":{},"user":null,"user":7}`, refused: true},
		{name: "an object, then null", data: head + `"postchange":{},"postchange":null}`, refused: true},
		{name: "a string twice", data: head + `"postchange":{},"object_id":"a","object_id":"b"}`, objectID: "b"},
		{name: "a string, then null", data: head + `"postchange":{},"object_id":"a","object_id":null}`, objectID: "a"},
		{name: "a string, then in capitals", data: head + `"postchange":{},"object_id":"a","OBJECT_ID":"b"}`, objectID: "b"},
		{name: "null, then an object", data: head + `"postchange":null,"postchange":{}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, wantErr := events.Decode(updateSubject, header, []byte(tc.data))
			got, err := events.DecodeHead(updateSubject, header, []byte(tc.data))
			if !tc.refused {
				if wantErr != nil || err != nil {
					t.Fatalf("Decode: %v; DecodeHead: %v; want both to accept", wantErr, err)
				}
				if got.ObjectID != tc.objectID {
					t.Fatalf("DecodeHead read object_id %q, want %q", got.ObjectID, tc.objectID)
				}
				return
			}
			if wantErr == nil {
				t.Fatal("Decode accepted it")
			}
			if !errors.Is(wantErr, events.ErrInvalidChange) {
				t.Fatalf("Decode's error does not wrap ErrInvalidChange: %v", wantErr)
			}
			if err == nil {
				t.Fatalf("DecodeHead accepted what Decode refuses (%v)", wantErr)
			}
			if err.Error() != wantErr.Error() {
				t.Fatalf("DecodeHead refused with %q, Decode with %q", err, wantErr)
			}
		})
	}
}
