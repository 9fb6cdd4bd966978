package receiver

import (
	"context"

	"github.com/jobhooks/jobhooks/events"
)

// A Receiver runs a job for the changes its hooks match: the Go shape of
// Nautobot's JobHookReceiver.receive_job_hook(change, action,
// changed_object).
//
// object is the changed object after the change (the postchange snapshot),
// nil on delete. Log through job, and publish the changes the job makes
// with job.Publish so that they never trigger another hook.
//
// Returning an error, panicking or overrunning the timeout makes the
// attempt fail: it is retried with back-off, and after the last attempt
// the message goes to the dead-letter stream. A job that decides the change
// is bad and must not be retried logs job.Failure instead. ctx ends when
// the attempt times out or the receiver is shutting down; long jobs should
// watch it.
type Receiver interface {
	ReceiveJobHook(ctx context.Context, job *Job, change *Change, action events.Action, object map[string]any) error
}

// ReceiverFunc adapts an ordinary function to a Receiver.
type ReceiverFunc func(ctx context.Context, job *Job, change *Change, action events.Action, object map[string]any) error

// ReceiveJobHook calls f.
func (f ReceiverFunc) ReceiveJobHook(ctx context.Context, job *Job, change *Change, action events.Action, object map[string]any) error {
	return f(ctx, job, change, action, object)
}
