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
// later attempt's status, attempts and error stay, and store says it was
// overtaken, so that the attempt neither settles nor counts. An attempt
// writing on top of its own record, or a replay, is not overtaken.
// (internal/faults TestPausedReceiver shows it with real processes.)
func TestStaleAttemptKeepsTheLaterOutcome(t *testing.T) {
	t.Parallel()
	s := jstest.StartProvisioned(t)
	rs := NewResults(s.KV(t, jhjs.BucketJobResults))
	created := time.Now().UTC().Truncate(time.Millisecond)
	started := created.Add(time.Second)
	later := started.Add(time.Minute)
	result := func(status Status, attempts int, started time.Time, errText string) *Result {
		return &Result{Hook: "h", Job: "j", ChangeID: "c-1", Status: status, Attempts: attempts, Created: created, Started: started, Error: errText}
	}
	tests := []struct {
		name      string
		stored    *Result // the record before the attempt writes
		attempt   *Result
		overtaken bool
		want      *Result // status, attempts and error of the record after
	}{
		{
			name:      "a later attempt counts more attempts",
			stored:    result(StatusCompleted, 2, later, ""),
			attempt:   result(StatusRetrying, 1, started, "boom"), // thought the message new, and failed
			overtaken: true,
			want:      result(StatusCompleted, 2, later, ""),
		},
		{
			name:      "a later attempt running counts more attempts",
			stored:    result(StatusRunning, 3, later, ""),
			attempt:   result(StatusCompleted, 2, started, ""),
			overtaken: true,
			want:      result(StatusRunning, 3, later, ""),
		},
		{
			// The spare delivery settled the last attempt as stranded (and
			// dead-lettered it) while that attempt's receiver was paused.
			name:      "the spare delivery settled the same last attempt",
			stored:    result(StatusErrored, 3, later, "attempt 3 of 3 never finished"),
			attempt:   result(StatusCompleted, 3, started, ""),
			overtaken: true,
			want:      result(StatusErrored, 3, later, "attempt 3 of 3 never finished"),
		},
		{
			name:    "the attempt's own running record",
			stored:  result(StatusRunning, 3, started, ""),
			attempt: result(StatusCompleted, 3, started, ""),
			want:    result(StatusCompleted, 3, started, ""),
		},
		{
			// A write whose reply was lost is tried again, and finds itself.
			name:    "the attempt's own final record",
			stored:  result(StatusFailed, 3, started, "boom"),
			attempt: result(StatusFailed, 3, started, "boom"),
			want:    result(StatusFailed, 3, started, "boom"),
		},
		{
			name:    "an earlier attempt's record",
			stored:  result(StatusRetrying, 1, started.Add(-time.Minute), "boom"),
			attempt: result(StatusCompleted, 2, started, ""),
			want:    result(StatusCompleted, 2, started, ""),
		},
		{
			name:    "a replay is a new message",
			stored:  result(StatusErrored, 3, later, "boom"),
			attempt: &Result{Hook: "h", Job: "j", ChangeID: "c-1", Status: StatusFailed, Attempts: 1, Created: created.Add(time.Second), Started: started},
			want:    &Result{Status: StatusFailed, Attempts: 1},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			key := "h.c-" + string(rune('a'+i))
			_, err := rs.empty(key).store(ctx, tt.stored, []LogEntry{{Level: LevelInfo, Message: "stored"}})
			require.NoError(t, err)

			// Not read first (a fresh message), as a stale attempt that took
			// its message for new: the compare-and-set finds the record.
			overtaken, err := rs.empty(key).store(ctx, tt.attempt, []LogEntry{{Level: LevelInfo, Message: "attempt"}})
			require.NoError(t, err)
			assert.Equal(t, tt.overtaken, overtaken, "overtaken")

			got, err := rs.Get(ctx, key)
			require.NoError(t, err)
			assert.Equal(t, tt.want.Status, got.Status)
			assert.Equal(t, tt.want.Attempts, got.Attempts)
			assert.Equal(t, tt.want.Error, got.Error)
			var msgs []string
			for _, e := range got.Logs {
				msgs = append(msgs, e.Message)
			}
			assert.Equal(t, []string{"stored", "attempt"}, msgs, "the attempt's log entries are kept")
		})
	}
}
