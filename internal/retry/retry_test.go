package retry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/internal/retry"
)

func TestBackoffDelay(t *testing.T) {
	b := retry.Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	tests := []struct {
		n    int
		want time.Duration
	}{
		{0, 100 * time.Millisecond}, {1, 200 * time.Millisecond}, {2, 400 * time.Millisecond},
		{3, 800 * time.Millisecond}, {4, time.Second}, {50, time.Second},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, b.Delay(tt.n), "delay %d", tt.n)
	}
	assert.Equal(t, 5*time.Second, retry.Backoff{Min: 5 * time.Second, Max: time.Second}.Delay(3), "a ceiling below the floor is the floor")
}

func TestBackoffJitter(t *testing.T) {
	b := retry.Backoff{Min: time.Second, Max: time.Second, Jitter: 0.5}
	seen := map[time.Duration]bool{}
	for range 200 {
		d := b.Delay(0)
		require.GreaterOrEqual(t, d, 500*time.Millisecond)
		require.LessOrEqual(t, d, time.Second)
		seen[d] = true
	}
	assert.Greater(t, len(seen), 1, "jitter spreads the delays")
}

func TestTimer(t *testing.T) {
	tm := retry.NewTimer(retry.Backoff{Min: time.Millisecond, Max: 4 * time.Millisecond})
	assert.Equal(t, []time.Duration{time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond, 4 * time.Millisecond},
		[]time.Duration{tm.Next(), tm.Next(), tm.Next(), tm.Next()})
	tm.Reset()
	assert.Equal(t, time.Millisecond, tm.Next())
}

func TestDo(t *testing.T) {
	b := retry.Backoff{Min: time.Microsecond, Max: time.Millisecond}
	boom := errors.New("boom")

	t.Run("until it succeeds", func(t *testing.T) {
		calls, retries := 0, 0
		err := retry.Do(t.Context(), b, func(context.Context) error {
			calls++
			if calls < 3 {
				return boom
			}
			return nil
		}, func(err error, _ time.Duration) { retries++; assert.ErrorIs(t, err, boom) })
		require.NoError(t, err)
		assert.Equal(t, 3, calls)
		assert.Equal(t, 2, retries)
	})
	t.Run("a permanent error ends it", func(t *testing.T) {
		calls := 0
		err := retry.Do(t.Context(), b, func(context.Context) error { calls++; return retry.Permanent(boom) }, nil)
		assert.ErrorIs(t, err, boom)
		assert.True(t, retry.IsPermanent(err))
		assert.Equal(t, 1, calls)
	})
	t.Run("the context ends it", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(t.Context())
		stop := errors.New("stopping")
		err := retry.Do(ctx, b, func(context.Context) error { cancel(stop); return boom }, nil)
		assert.ErrorIs(t, err, boom)
		assert.ErrorIs(t, err, stop)
	})
	assert.NoError(t, retry.Permanent(nil))
}
