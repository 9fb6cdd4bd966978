package receiver

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
)

// TestStaleAttemptKeepsTheLaterOutcome: an attempt overtaken by a later
// attempt of the same message (its receiver was paused past the ack wait)
// writes on top of the later one's record: its log entries are added, the
// later attempt's status and attempts stay. (internal/faults
// TestPausedReceiver shows it with real processes.)
func TestStaleAttemptKeepsTheLaterOutcome(t *testing.T) {
	t.Parallel()
	s := jstest.StartProvisioned(t)
	rs := NewResults(s.KV(t, jhjs.BucketJobResults))
	ctx := t.Context()
	created := time.Now().UTC().Truncate(time.Millisecond)
	const key = "h.c-1"
	later := &Result{Hook: "h", Job: "j", ChangeID: "c-1", Status: StatusCompleted, Attempts: 2, Created: created}
	require.NoError(t, rs.empty(key).store(ctx, later, []LogEntry{{Level: LevelInfo, Message: "Running job j (attempt 2 of 3)"}}))

	// The stale attempt 1 thought the message new (no record read) and
	// ended in an error, which would be "retrying".
	stale := &Result{Hook: "h", Job: "j", ChangeID: "c-1", Status: StatusRetrying, Attempts: 1, Created: created, Error: "boom"}
	require.NoError(t, rs.empty(key).store(ctx, stale, []LogEntry{{Level: LevelInfo, Message: "Running job j (attempt 1 of 3)"}}))

	got, err := rs.Get(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, StatusCompleted, got.Status, "a stale attempt never turns a final record back")
	assert.Equal(t, 2, got.Attempts)
	assert.Empty(t, got.Error)
	var msgs []string
	for _, e := range got.Logs {
		msgs = append(msgs, e.Message)
	}
	assert.Equal(t, []string{"Running job j (attempt 2 of 3)", "Running job j (attempt 1 of 3)"}, msgs, "its log entries are kept")

	// A message that is not the same (a replay: another JOBS time) is no
	// stale attempt: it writes its own outcome.
	replay := &Result{Hook: "h", Job: "j", ChangeID: "c-1", Status: StatusFailed, Attempts: 1, Created: created.Add(time.Second)}
	require.NoError(t, rs.empty(key).store(ctx, replay, nil))
	got, err = rs.Get(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, StatusFailed, got.Status)
	assert.Equal(t, 1, got.Attempts)
}
