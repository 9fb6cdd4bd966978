package hookconfig

import (
	"errors"

	jhjs "github.com/jobhooks/jobhooks/jetstream"
)

// Errors of the package. Every error returned wraps one of them (and,
// where there is one, the underlying cause), so test with errors.Is.
var (
	// ErrInvalidHook is wrapped by every decoding and validation error of a
	// hook, including a stored value that is not a valid hook.
	ErrInvalidHook = errors.New("invalid hook")
	// ErrNotFound means the hook does not exist (never written, or deleted).
	ErrNotFound = errors.New("hook not found")
	// ErrExists means a hook was to be created but one of that name exists.
	ErrExists = errors.New("hook already exists")
	// ErrRevisionMismatch means the hook changed since the revision the
	// writer read: someone else wrote in between. Re-read and retry.
	ErrRevisionMismatch = errors.New("hook revision mismatch")
	// ErrConflict is Nautobot's uniqueness rule: another hook already runs
	// the same job for a shared content type and event. Its text is the
	// start of Nautobot's message, which the full error completes.
	ErrConflict = errors.New("a job hook already exists")
	// ErrJobNotEnabled means an enabled hook names a job that is not
	// registered, or registered but disabled, in the jobs bucket.
	ErrJobNotEnabled = errors.New("job not registered and enabled")

	// ErrInvalidJob is wrapped by errors about a jobs bucket value that is
	// not a valid job registration.
	ErrInvalidJob = errors.New("invalid job registration")
	// ErrJobNotFound means the job is not registered in the jobs bucket.
	ErrJobNotFound = errors.New("job not registered")

	// ErrWatchClosed means the bucket's update stream ended before the
	// watcher's context did, for example because the connection closed.
	ErrWatchClosed = jhjs.ErrWatchClosed
)

// userError is an error whose text is a complete sentence for the user,
// while errors.Is still finds the sentinels and causes it wraps. fmt.Errorf
// with %w would put the sentinel's own text into the message.
type userError struct {
	msg  string
	errs []error
}

func newError(msg string, errs ...error) error { return &userError{msg: msg, errs: errs} }

func (e *userError) Error() string   { return e.msg }
func (e *userError) Unwrap() []error { return e.errs }
