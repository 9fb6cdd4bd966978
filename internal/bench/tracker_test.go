package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTrackerCountsEachJobOnce(t *testing.T) {
	tr := newTracker(3, []string{"h-a", "h-b"})
	tr.start()
	for _, obs := range [][2]string{
		{"run-0", "h-a"}, {"run-0", "h-b"}, {"run-1", "h-a"},
		{"run-1", "h-a"},                   // a duplicate
		{"run-3", "h-a"}, {"run-1", "h-c"}, // not of the run
		{"run-1", "h-b"}, {"run-2", "h-a"},
	} {
		tr.observe(obs[0], obs[1])
	}
	require.EqualValues(t, 5, tr.distinct.Load())
	require.EqualValues(t, 1, tr.duplicates.Load())
	require.EqualValues(t, 2, tr.unknown.Load())
	select {
	case <-tr.done:
		t.Fatal("done with a job message missing")
	default:
	}
	tr.observe("run-2", "h-b")
	<-tr.done
	_, ok := tr.arrival(2*2 + 1)
	require.True(t, ok)
}

func TestTrackerWaitReportsMissing(t *testing.T) {
	tr := newTracker(2, nil)
	tr.start()
	tr.observe("x-0", "any hook")
	err := tr.wait(t.Context(), 50*time.Millisecond, nil, nil)
	require.ErrorContains(t, err, "1 of 2 job messages missing")
}

func TestChangeIndex(t *testing.T) {
	for id, want := range map[string]int{"relay-r1-tp-0": 0, "a-17": 17, "fanout-20-r3-lat-4999": 4999} {
		got, ok := changeIndex(id)
		require.True(t, ok, id)
		require.Equal(t, want, got, id)
	}
	for _, id := range []string{"", "nodash", "a-", "a-x"} {
		_, ok := changeIndex(id)
		require.False(t, ok, id)
	}
}

func TestChangesAreValidAndAboutOneKB(t *testing.T) {
	msgs, err := buildChanges("t-r1", 10, 3)
	require.NoError(t, err)
	for i, m := range msgs {
		require.Equal(t, "changes.dcim.device.update", m.Subject)
		require.Equal(t, "t-r1-"+string(rune('0'+i)), m.Header.Get("ce-id"))
		require.NotEmpty(t, m.Header.Get("Nats-Msg-Id"))
		require.InDelta(t, 1024, len(m.Data), 200)
	}
}

func TestManyHooksMatchOnce(t *testing.T) {
	hooks, jobs := manyHooks(10000, 1000, "bench")
	require.Len(t, hooks, 10000)
	require.Len(t, jobs, 11) // bench and ten idle jobs
	matching, names := 0, map[string]bool{}
	pairs := map[[2]string]bool{}
	for _, h := range hooks {
		require.NoError(t, h.Validate())
		require.False(t, names[h.Name], "hook %s twice", h.Name)
		names[h.Name] = true
		pair := [2]string{h.Job, h.ContentTypes[0]}
		require.False(t, pairs[pair], "job %s twice on %s", pair[0], pair[1])
		pairs[pair] = true
		if h.Matches(changeContentType, "update") {
			matching++
			require.Equal(t, "bench", h.Job)
		}
	}
	require.Equal(t, 1, matching)
}

func TestStats(t *testing.T) {
	require.Equal(t, 2.0, median([]float64{3, 1, 2}))
	require.Equal(t, 2.5, median([]float64{4, 1, 2, 3}))
	require.Zero(t, median(nil))
	var lat []time.Duration
	for i := 1; i <= 100; i++ {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	require.Equal(t, 50*time.Millisecond, percentile(lat, 50))
	require.Equal(t, 99*time.Millisecond, percentile(lat, 99))
	require.Equal(t, 100*time.Millisecond, percentile(lat, 100))
	require.Equal(t, "1,234,567", thousands(1234567))
	require.Equal(t, "999", thousands(999))
}
