package builtin

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/receiver"
)

// DefaultSerialPattern is what a valid serial looks like unless the hook's
// params say otherwise: 4 to 32 upper-case letters, digits and dashes. An
// empty, null or non-string serial is invalid.
const DefaultSerialPattern = `^[A-Z0-9-]{4,32}$`

// SerialParams are the serial-validator's hook params.
type SerialParams struct {
	// Pattern is the regular expression (RE2) a valid serial matches;
	// anchor it (^…$) to match the whole serial. Default
	// DefaultSerialPattern.
	Pattern string `json:"pattern"`
}

// SerialParamsSchema is the JSON Schema of the serial-validator's params,
// for its registration (receiver.JobInfo.ParamsSchema): validated hook
// writes then refuse a misspelt or mistyped pattern before any change runs.
// That the pattern compiles is CheckSerialParams's part: JSON Schema's
// "regex" format is ECMA-262, not RE2.
var SerialParamsSchema = json.RawMessage(`{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "serial-validator params",
  "type": "object",
  "properties": {
    "pattern": {
      "type": "string",
      "description": "the RE2 regular expression a valid serial matches; anchor it (^...$). Empty or absent: ` + jsonEscape(DefaultSerialPattern) + `"
    }
  },
  "additionalProperties": false
}`)

// CheckSerialParams is the serial-validator's CheckParams
// (receiver.JobInfo.CheckParams): the params decode and the pattern is a
// regular expression RE2 accepts.
func CheckSerialParams(params json.RawMessage) error {
	_, err := serialPattern(params)
	return err
}

// jsonEscape returns s as the inside of a JSON string.
func jsonEscape(s string) string {
	b, _ := json.Marshal(s) // a string always encodes
	return string(b[1 : len(b)-1])
}

// SerialValidator is the serial-validator job, the example of Nautobot's
// job hook docs done right. When a create or update adds a serial
// (differences.added has "serial") that is invalid, it publishes a change
// that undoes it: an update back to the old serial (differences.removed),
// or, when there is no old serial (a create, or an update without
// prechange), to the empty serial. Nautobot's example reads
// differences["removed"]["serial"] unconditionally and so crashes on
// create, where removed is None.
//
// The published change carries ce-hookorigin, so it triggers no hook; it is
// up to whatever applies changes to the source of truth to act on it.
type SerialValidator struct{}

// ReceiveJobHook implements receiver.Receiver.
func (SerialValidator) ReceiveJobHook(ctx context.Context, job *receiver.Job, ch *receiver.Change, action events.Action, object map[string]any) error {
	pattern, err := serialPattern(ch.Params)
	if err != nil {
		// A bad hook config: retrying cannot help.
		job.Failure(err.Error())
		return nil
	}
	d := DecideSerial(&ch.Change, pattern)
	switch d.Verdict {
	case SerialValid:
		job.Success(d.Message, ch.Object())
	case SerialReverted, SerialCleared, SerialMissing:
		job.Warning(d.Message, ch.Object())
	default:
		job.Info(d.Message, ch.Object())
	}
	if d.Fix != nil {
		if err := job.Publish(ctx, d.Fix); err != nil {
			return err
		}
	}
	return nil
}

func serialPattern(params json.RawMessage) (*regexp.Regexp, error) {
	var p SerialParams
	if len(params) > 0 {
		if err := json.Unmarshal(params, &p); err != nil {
			return nil, fmt.Errorf("invalid params %s: %w", params, err)
		}
	}
	if p.Pattern == "" {
		p.Pattern = DefaultSerialPattern
	}
	re, err := regexp.Compile(p.Pattern)
	if err != nil {
		return nil, fmt.Errorf("invalid params: pattern: %w", err)
	}
	return re, nil
}

// SerialVerdict is what the serial validator made of a change.
type SerialVerdict string

// Verdicts.
const (
	SerialDeleted   SerialVerdict = "deleted"   // a delete: nothing to validate
	SerialUnchanged SerialVerdict = "unchanged" // the serial is not among the differences
	SerialValid     SerialVerdict = "valid"     // a new serial that is valid
	SerialReverted  SerialVerdict = "reverted"  // invalid: back to the old serial
	SerialCleared   SerialVerdict = "cleared"   // invalid, no old serial: emptied
	SerialMissing   SerialVerdict = "missing"   // empty, and nothing to go back to
)

// SerialDecision is the serial validator's decision about one change.
type SerialDecision struct {
	Verdict SerialVerdict
	Message string
	// Fix is the change to publish (SerialReverted and SerialCleared).
	Fix *events.Change
}

// DecideSerial decides what the serial validator does about ch; a serial is
// valid when it is a string that pattern matches.
func DecideSerial(ch *events.Change, pattern *regexp.Regexp) SerialDecision {
	if ch.Action == events.ActionDelete {
		return SerialDecision{Verdict: SerialDeleted, Message: "deleted: no serial to validate"}
	}
	diff := ch.Snapshots().Differences
	newSerial, changed := diff.Added["serial"]
	if !changed {
		return SerialDecision{Verdict: SerialUnchanged, Message: "serial unchanged"}
	}
	if s, ok := newSerial.(string); ok && pattern.MatchString(s) {
		return SerialDecision{Verdict: SerialValid, Message: fmt.Sprintf("serial %q is valid", s)}
	}
	// Removed is nil on create and on an update without prechange: there
	// is no old serial to go back to.
	oldSerial, hadOld := diff.Removed["serial"]
	if hadOld {
		return SerialDecision{
			Verdict: SerialReverted,
			Message: fmt.Sprintf("serial %s is invalid (want %s): reverted to %s", show(newSerial), pattern, show(oldSerial)),
			Fix:     withSerial(ch, oldSerial),
		}
	}
	if newSerial == nil || newSerial == "" {
		return SerialDecision{Verdict: SerialMissing, Message: "no serial, and no earlier one to restore"}
	}
	return SerialDecision{
		Verdict: SerialCleared,
		Message: fmt.Sprintf("serial %s is invalid (want %s) and there is no earlier one: cleared it", show(newSerial), pattern),
		Fix:     withSerial(ch, ""),
	}
}

// withSerial returns the update that sets ch's object's serial to serial:
// from ch's postchange to the same with the serial replaced.
func withSerial(ch *events.Change, serial any) *events.Change {
	post := maps.Clone(ch.PostChange)
	post["serial"] = serial
	return &events.Change{
		Action:      events.ActionUpdate,
		ContentType: ch.ContentType,
		ObjectID:    ch.ObjectID,
		ObjectRepr:  ch.ObjectRepr,
		User:        ch.User,
		PreChange:   ch.PostChange,
		PostChange:  post,
	}
}

// show prints a serial as JSON would.
func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
