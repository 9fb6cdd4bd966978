package builtin

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/receiver"
)

// LogParamsSchema is the JSON Schema of the log job's params, for its
// registration (receiver.JobInfo.ParamsSchema): it takes none, so only an
// empty object (or no params) is accepted, and a hook written for another
// job by mistake is refused.
var LogParamsSchema = json.RawMessage(`{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "log params",
  "description": "the log job takes no params",
  "type": "object",
  "additionalProperties": false
}`)

// Log is the log job: it logs the change, and its differences, at info
// level, and completes.
func Log(ctx context.Context, job *receiver.Job, ch *receiver.Change, action events.Action, object map[string]any) error {
	who := ch.User
	if who == "" {
		who = "unknown user"
	}
	job.Info(fmt.Sprintf("%s %s %s (id %s) by %s", action, ch.ContentType, ch.ObjectRepr, ch.ObjectID, who), ch.Object())
	d := ch.Snapshots().Differences
	diff, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode differences: %w", err)
	}
	job.Info("differences: "+string(diff), ch.Object())
	if len(ch.Context) > 0 {
		c, err := json.Marshal(ch.Context)
		if err != nil {
			return fmt.Errorf("encode context: %w", err)
		}
		job.Info("context: "+string(c), ch.Object())
	}
	return nil
}
