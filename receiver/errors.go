package receiver

import (
	"errors"

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
)
