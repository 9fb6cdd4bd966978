package events_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/nats-io/nats.go"

	"github.com/jobhooks/jobhooks/events"
)

// parseHeaderLines turns "name: value" lines into a NATS header, so the
// fuzzer can vary header names, spellings and values.
func parseHeaderLines(s string) nats.Header {
	h := nats.Header{}
	for line := range strings.SplitSeq(s, "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		h[name] = append(h[name], strings.TrimSpace(value))
	}
	return h
}

// addDecodeSeeds adds the change events FuzzDecode and FuzzDecodeHead
// start from: valid ones in both modes, and ones invalid in each way.
func addDecodeSeeds(f *testing.F) {
	binary := "ce-specversion: 1.0\nce-id: chg-1\nce-source: nautobot://prod\nce-type: jobhooks.change.update"
	f.Add(updateSubject, binary, []byte(updateData))
	f.Add(updateSubject, binary+"\ncontent-type: application/json\nce-hookorigin: x\nce-causationid: y", []byte(updateData))
	f.Add(updateSubject, "CE-SPECVERSION: 1.0\nCe-Id: %22a%22\nce-source: \"a%2Fb\"\nce-type: jobhooks.change.update\nce-time: 2026-11-22T10:00:00Z", []byte(updateData))
	f.Add(updateSubject, "content-type: application/cloudevents+json", []byte(`{"specversion":"1.0","id":"1","source":"s","type":"jobhooks.change.update","data":`+updateData+`}`))
	f.Add(updateSubject, "", []byte(`{"specversion":"1.0","id":"1","source":"s","type":"jobhooks.change.update","data_base64":"e30="}`))
	f.Add("changes.dcim.device.create", binary, []byte(`{"action":"create","content_type":"dcim.device","postchange":{}}`))
	f.Add("changes.dcim.device.delete", binary, []byte(`{"action":"delete","content_type":"dcim.device","prechange":{"a":[1,{"b":null}]},"postchange":null}`))
	f.Add(updateSubject, binary+"\nce-source: dup", []byte(`null`))
	f.Add(updateSubject, binary, []byte(strings.Replace(updateData, `"B2"`, "\"B\xff2\"", 1)))
	f.Add(updateSubject, "", []byte(`{"specversion":"1.0","id":"1","source":"s\xc0","type":"jobhooks.change.update","data":`+updateData+`}`))
	f.Add(updateSubject, "", []byte(`{"specversion":"1.0","id":"1","source":"s","type":"jobhooks.change.update","data_base64":"/w=="}`))
	f.Add("changes", "ce-specversion: 0.3", []byte(`[]`))
}

func FuzzDecode(f *testing.F) {
	addDecodeSeeds(f)
	f.Fuzz(func(t *testing.T, subject, headerLines string, data []byte) {
		got, err := events.Decode(subject, parseHeaderLines(headerLines), data)
		if err != nil {
			if !errors.Is(err, events.ErrInvalidChange) {
				t.Fatalf("error does not wrap ErrInvalidChange: %v", err)
			}
			return
		}
		// Whatever decodes is valid, and survives re-encoding unchanged.
		if err := got.Change.ValidateFor(subject); err != nil {
			t.Fatalf("decoded an invalid change: %v", err)
		}
		if !utf8.Valid(got.Event.Data()) {
			t.Fatalf("decoded data that is not UTF-8: %q", got.Event.Data())
		}
		header, body, err := events.EncodeBinary(&got.Event)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := events.Decode(subject, header, body)
		if err != nil {
			t.Fatalf("re-decode of %v: %v", header, err)
		}
		if again.ID() != got.ID() || again.HookOrigin() != got.HookOrigin() || again.CausationID() != got.CausationID() {
			t.Fatalf("attributes changed in a round trip: %q/%q/%q vs %q/%q/%q",
				got.ID(), got.HookOrigin(), got.CausationID(), again.ID(), again.HookOrigin(), again.CausationID())
		}
	})
}

func FuzzDecodeJobMessage(f *testing.F) {
	binary := "ce-specversion: 1.0\nce-id: chg-1\nce-source: nautobot://prod\nce-type: jobhooks.change.update\nJobhooks-Hook: serial-check\nJobhooks-Job: serial-validator"
	f.Add("jobs.serial-validator", binary, []byte(updateData))
	f.Add("jobs.serial-validator", binary, []byte(`{"action":"update","content_type":"dcim.device","postchange":{},"context":{"a":1}}`))
	f.Add("jobs.serial-validator", binary+"\njobhooks-job: other", []byte(updateData))
	f.Add("jobs.x", "ce-specversion: 1.0", []byte(`{"context":[]}`))
	f.Add("jobs", "", []byte(`null`))
	f.Add("jobs.serial-validator", binary, []byte(strings.Replace(updateData, `"B2"`, "\"B2\xed\xa0\x80\"", 1)))
	f.Fuzz(func(t *testing.T, subject, headerLines string, data []byte) {
		got, err := events.DecodeJobMessage(subject, parseHeaderLines(headerLines), data)
		if err != nil {
			if !errors.Is(err, events.ErrInvalidChange) && !errors.Is(err, events.ErrInvalidSubject) {
				t.Fatalf("error wraps neither ErrInvalidChange nor ErrInvalidSubject: %v", err)
			}
			return
		}
		if err := got.Change.Validate(); err != nil {
			t.Fatalf("decoded an invalid change: %v", err)
		}
		if !utf8.Valid(got.Event.Data()) {
			t.Fatalf("decoded data that is not UTF-8: %q", got.Event.Data())
		}
		if got.Hook == "" || got.Job == "" {
			t.Fatalf("decoded a job message without hook or job: %+v", got)
		}
	})
}
