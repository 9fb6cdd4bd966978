package retry

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// Backoff is an exponential back-off: the n-th delay (n from 0) is Min·2ⁿ,
// at most Max, less up to Jitter of itself at random.
type Backoff struct {
	Min, Max time.Duration
	// Jitter is the fraction of each delay taken off at random, in [0, 1];
	// 0.2 means a delay lands in [0.8·d, d].
	Jitter float64
}

// Delay returns the delay before retry n (n = 0 for the first retry).
func (b Backoff) Delay(n int) time.Duration {
	d := b.Min
	for i := 0; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, max(b.Max, b.Min))
	if b.Jitter > 0 && d > 0 {
		d -= time.Duration(rand.Float64() * min(b.Jitter, 1) * float64(d))
	}
	return d
}

// Timer yields the delays of a Backoff one after another: the state of one
// retrying loop that cannot be written as Do (a select with other cases).
type Timer struct {
	b Backoff
	n int
}

// NewTimer returns a Timer at the first delay.
func NewTimer(b Backoff) *Timer { return &Timer{b: b} }

// Next returns the next delay and advances.
func (t *Timer) Next() time.Duration {
	d := t.b.Delay(t.n)
	t.n++
	return d
}

// Reset starts over at the first delay, after a success.
func (t *Timer) Reset() { t.n = 0 }

// permanent marks an error no retry can mend.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks err as one no retry can mend: Do returns it at once.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}

// Do runs op until it returns nil, a Permanent error (returned as is), or
// ctx ends (the last error, joined with ctx's cause). onRetry, when not
// nil, is told of each failure and the delay before the next try.
func Do(ctx context.Context, b Backoff, op func(context.Context) error, onRetry func(err error, delay time.Duration)) error {
	t := NewTimer(b)
	for {
		err := op(ctx)
		if err == nil || IsPermanent(err) {
			return err
		}
		delay := t.Next()
		if onRetry != nil {
			onRetry(err, delay)
		}
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return errors.Join(err, context.Cause(ctx))
		case <-timer.C:
		}
	}
}
