package receiver

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestJobLogStaysBoundedDuringAnAttempt: a job logging in a loop keeps at
// most maxLogEntries entries in memory, the newest, and counts the rest.
func TestJobLogStaysBoundedDuringAnAttempt(t *testing.T) {
	t.Parallel()
	job := &Job{name: "loop", logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	const logged = 10 * maxLogEntries
	for i := range logged {
		job.Info(fmt.Sprintf("entry %d %s", i, strings.Repeat("x", 2*maxLogMessage)),
			ObjectRef{ContentType: "dcim.device", ID: "1", Repr: strings.Repeat("r", 2*maxObjectField)})
		job.mu.Lock()
		held := len(job.logs)
		job.mu.Unlock()
		require.LessOrEqual(t, held, maxLogEntries+maxLogEntries/4, "entries held in memory after %d", i+1)
	}
	logs := job.entries()
	require.Len(t, logs, maxLogEntries+1)
	assert.Equal(t, fmt.Sprintf("%d earlier log entries dropped", logged-maxLogEntries), logs[0].Message[:len("4500 earlier log entries dropped")])
	assert.Equal(t, logged-maxLogEntries, droppedBy(logs[0]))
	assert.True(t, strings.HasPrefix(logs[1].Message, fmt.Sprintf("entry %d ", logged-maxLogEntries)))
	assert.True(t, strings.HasPrefix(logs[maxLogEntries].Message, fmt.Sprintf("entry %d ", logged-1)))
	for _, l := range logs[1:] {
		assert.LessOrEqual(t, len(l.Message), maxLogMessage+len("…"))
		assert.LessOrEqual(t, len(l.Object.Repr), maxObjectField+len("…"))
	}
}
