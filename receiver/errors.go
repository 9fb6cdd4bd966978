package receiver

import (
	"errors"
	"fmt"
	"time"

	jhjs "github.com/jobhooks/jobhooks/jetstream"
)

// Errors of the package. Returned errors wrap them (with details), so test
// with errors.Is.
var (
	// ErrOptions is returned by Run for invalid Options.
	ErrOptions = errors.New("invalid receiver options")
	// ErrUnknownJob means a job was asked for that the Registry does not
	// hold.
	ErrUnknownJob = errors.New("job not in the registry")
	// ErrTimeout is the cause of a receiver's context when its per-job
	// timeout expires (see context.Cause).
	ErrTimeout = errors.New("job timed out")
	// ErrPanic is wrapped by the error recorded for a receiver that
	// panicked.
	ErrPanic = errors.New("job panicked")
	// ErrShutdown is the cause of a receiver's context when the runner
	// stops and the drain timeout has expired.
	ErrShutdown = errors.New("receiver shutting down")
	// ErrWatchClosed means the watch on the jobs bucket ended before the
	// runner's context did, for example because the connection closed.
	ErrWatchClosed = jhjs.ErrWatchClosed
	// ErrResultNotFound means no job result has that key.
	ErrResultNotFound = errors.New("job result not found")
	// ErrDeadLetterNotFound means no job dead letter has that sequence.
	ErrDeadLetterNotFound = errors.New("dead letter not found")
	// ErrPermanent marks a receiver's error that no retry can mend (the
	// endpoint rejected the request, the hook's params are invalid): the
	// attempt is the last one, its result failed, and the message is
	// dead-lettered at once, to be replayed once the cause is fixed.
	ErrPermanent = errors.New("permanent failure")
)

// Permanent returns err marked as permanent (see ErrPermanent); nil for nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrPermanent, err)
}

// RetryAfter returns err with a wish: the next attempt should come after d
// (an HTTP Retry-After, say) instead of the consumer's back-off delay. The
// runner caps d at the longest back-off delay. Nil for nil.
func RetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &retryAfterError{err: err, after: d}
}

type retryAfterError struct {
	err   error
	after time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// retryAfter returns the delay RetryAfter attached to err, or 0.
func retryAfter(err error) time.Duration {
	var ra *retryAfterError
	if errors.As(err, &ra) && ra.after > 0 {
		return ra.after
	}
	return 0
}
