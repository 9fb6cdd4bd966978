package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/hookconfig"
	"github.com/jobhooks/jobhooks/router"
)

// ErrWouldNotFire is what `router hooks test` exits with (ExitNoFire) when
// the hook would not fire for the change: not a failure, an answer.
var ErrWouldNotFire = errors.New("the hook would not fire for the change")

// maxChangeFile bounds a change file: changes are far smaller.
const maxChangeFile = 16 << 20

// Reasons `router hooks test` gives for a hook that would not fire, besides
// the router's filter reasons (router.FilterNoop, ...).
const (
	testNotSelected = "not_selected" // its content types and events do not select the change
	testDisabled    = "disabled"     // the hook is disabled
)

// hookTest is what `router hooks test --json` prints.
type hookTest struct {
	Hook        string        `json:"hook"`
	ContentType string        `json:"content_type"`
	Action      events.Action `json:"action"`
	ObjectID    string        `json:"object_id,omitempty"`
	Fires       bool          `json:"fires"`
	Reason      string        `json:"reason,omitempty"` // loop, not_selected, disabled, noop, changed_fields, condition
	Detail      string        `json:"detail,omitempty"`
}

func newHooksTestCmd(verb func(use, short, long, example string, args cobra.PositionalArgs,
	run func(ctx context.Context, h *hooksCmd, cmd *cobra.Command, args []string) error) *cobra.Command,
) *cobra.Command {
	var file string
	c := verb("test NAME --change FILE|-", "Say whether a change would fire a hook, and if not why",
		`Read hook NAME from job_hooks and the change in FILE (- reads stdin), and say whether
the router would fire the hook for it: its content types and events select the
change, it is enabled, and its filters (skip_noop, changed_fields, conditions) pass.
If not, it says which one stopped it and, for a condition, with what value. A
change made by a job hook receiver (a CloudEvent with "hookorigin") fires no hook:
loop prevention. It does not check that the hook's job is registered and enabled
(receiver jobs list shows it), without which the router does not fire the hook either.

FILE is a change event in CloudEvents JSON (structured mode, with "specversion";
the change data in "data", or in "data_base64"), or the change data alone
({"action", "content_type", "prechange", "postchange", ...}, as in
docs/events.md). Nothing is published.

Exit codes: 0 it would fire, 6 it would not, 1 connection or server error, 2 bad
arguments, 3 no such hook, 4 the change is not a valid change.`,
		"  router hooks test serial-check --change change.json\n  nbcli get-change 42 | router hooks test serial-check --change -",
		exactArgs(1, "a hook name"),
		func(ctx context.Context, h *hooksCmd, cmd *cobra.Command, args []string) error {
			return h.test(ctx, args[0], file, cmd.InOrStdin())
		})
	c.Flags().StringVar(&file, "change", "", "the change: a CloudEvent JSON or change data file, - for stdin (required)")
	return c
}

func (h *hooksCmd) test(ctx context.Context, name, file string, stdin io.Reader) error {
	if file == "" {
		return fmt.Errorf("%w: --change FILE (or - for stdin) is required", ErrUsage)
	}
	data, err := readChangeFile(file, stdin)
	if err != nil {
		return err
	}
	head, err := decodeChangeFile(data)
	if err != nil {
		return fmt.Errorf("the change in %s: %w", file, err)
	}
	hook, _, err := h.store.Get(ctx, name)
	if err != nil {
		return err
	}
	t, err := testHook(hook, head)
	if err != nil {
		return err
	}
	if h.json {
		err = JSON(h.out, t)
	} else {
		verdict := "yes"
		if !t.Fires {
			verdict = "no: " + t.Reason
			if t.Detail != "" {
				verdict += ": " + t.Detail
			}
		}
		err = Table(h.out, []string{"FIELD", "VALUE"}, [][]string{
			{"hook", t.Hook}, {"change", fmt.Sprintf("%s %s %s", t.ContentType, t.Action, orDash(t.ObjectID))}, {"fires", verdict},
		})
	}
	if err == nil && !t.Fires {
		err = errLogged{ErrWouldNotFire} // the verdict is printed: only the exit code is left
	}
	return err
}

// testHook is the router's decision for hook and the change of head.
func testHook(hook *hookconfig.Hook, head *events.ChangeHead) (hookTest, error) {
	t := hookTest{Hook: hook.Name, ContentType: head.ContentType, Action: head.Action, ObjectID: head.ObjectID}
	switch {
	case head.HookOrigin() != "":
		// The router routes no change a job hook receiver made, to no hook.
		t.Reason = router.SkipLoop
		t.Detail = fmt.Sprintf("made by a job hook receiver (loop prevention): hookorigin %q", head.HookOrigin())
		return t, nil
	case !hook.Matches(head.ContentType, head.Action):
		t.Reason = testNotSelected
		t.Detail = fmt.Sprintf("content types %s, events %s", strings.Join(hook.ContentTypes, ","), joinActions(hook.Events))
		return t, nil
	case !hook.Enabled:
		t.Reason = testDisabled
		return t, nil
	}
	fires, reason, failure, err := router.Evaluate(hook, head)
	if err != nil {
		return t, err
	}
	t.Fires, t.Reason = fires, reason
	switch reason {
	case router.FilterNoop:
		t.Detail = "an update without differences (skip_noop)"
	case router.FilterChangedFields:
		t.Detail = "none of " + strings.Join(hook.ChangedFields, ",") + " changed"
	case router.FilterCondition:
		t.Detail = failure.String()
	}
	return t, nil
}

func readChangeFile(file string, stdin io.Reader) ([]byte, error) {
	r := stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUsage, err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxChangeFile+1))
	if err != nil {
		return nil, fmt.Errorf("read the change: %w", err)
	}
	if len(data) > maxChangeFile {
		return nil, fmt.Errorf("%w: the change is over %d bytes", events.ErrInvalidChange, maxChangeFile)
	}
	return data, nil
}

// decodeChangeFile decodes a change as the router does: a CloudEvent in
// structured mode as it is; change data wrapped in one.
func decodeChangeFile(data []byte) (*events.ChangeHead, error) {
	var probe struct {
		SpecVersion json.RawMessage `json:"specversion"`
		Data        json.RawMessage `json:"data"`
		DataBase64  *string         `json:"data_base64"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("%w: not a JSON object: %w", events.ErrInvalidChange, err)
	}
	change := data
	if probe.SpecVersion != nil {
		change = probe.Data
		if probe.Data == nil && probe.DataBase64 != nil {
			// The data as base64 (binary data in structured mode), which
			// DecodeHead reads as the router does.
			b, err := base64.StdEncoding.DecodeString(*probe.DataBase64)
			if err != nil {
				return nil, fmt.Errorf("%w: the CloudEvent's data_base64 is not base64: %w", events.ErrInvalidChange, err)
			}
			change = b
		}
		if len(bytes.TrimSpace(change)) == 0 {
			return nil, fmt.Errorf("%w: the CloudEvent has no data (neither \"data\" nor \"data_base64\"): a change event carries the change data", events.ErrInvalidChange)
		}
	}
	var fields struct {
		ContentType string        `json:"content_type"`
		Action      events.Action `json:"action"`
	}
	if err := json.Unmarshal(change, &fields); err != nil {
		return nil, fmt.Errorf("%w: the change data: %w", events.ErrInvalidChange, err)
	}
	subject, err := events.ChangeSubject(fields.ContentType, fields.Action)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", events.ErrInvalidChange, err)
	}
	if probe.SpecVersion == nil {
		var ev bytes.Buffer
		fmt.Fprintf(&ev, `{"specversion":"1.0","id":"hooks-test","source":"jobhooks://hooks-test","type":%q,"datacontenttype":"application/json","data":`,
			events.TypePrefix+string(fields.Action))
		ev.Write(bytes.TrimSpace(data))
		ev.WriteString("}")
		data = ev.Bytes()
	}
	return events.DecodeHead(subject, nats.Header{"Content-Type": {"application/cloudevents+json"}}, data)
}
