// Package receiver runs job hook receivers: Go code that Nautobot-style job
// hooks run for the object changes they match.
//
// A Receiver is the Go shape of Nautobot's JobHookReceiver.receive_job_hook
// (change, action, changed_object). Register receivers by job name in a
// Registry, as handlers in an http.ServeMux, and run them with a Runner:
//
//	reg := receiver.NewRegistry()
//	reg.HandleFunc("audit", receiver.JobInfo{Description: "audit device changes"},
//		func(ctx context.Context, job *receiver.Job, ch *receiver.Change, action events.Action, obj map[string]any) error {
//			job.Info("changed: " + ch.ObjectRepr)
//			return nil
//		})
//	err := receiver.NewRunner(js, reg, receiver.Options{}).Run(ctx)
//
// For each job the Runner
//   - registers the job in the jobs bucket. A new job is disabled unless its
//     JobInfo or Options.EnableNew enables it; an existing registration
//     keeps its enabled flag, which is the operator's;
//   - consumes jobs.<job> through the durable pull consumer receiver-<job>,
//     which any number of processes may share;
//   - stops fetching while the job is disabled (it watches the jobs
//     bucket), so its messages wait in the stream without using attempts;
//   - runs up to Options.Concurrency messages at once, but changes to the
//     same object (content type and id) one at a time, in arrival order;
//   - records each run in job_results under <hook>.<id> (see ResultKey):
//     running, then completed, failed, errored or retrying;
//   - keeps long jobs' messages alive with in-progress acks every
//     AckWait/3, and cancels a job's context after Options.Timeout.
//
// Outcomes. A receiver that returns nil (and logs no failure) completes. One
// that calls Job.Failure fails for good: the message is acknowledged, not
// retried and not dead-lettered (it is the job's verdict on the change, not
// an outage). A returned error, a panic or a timeout is retried with
// NakWithDelay and the consumer's back-off; on the last attempt the message
// is published, with its headers and body, to deadletter.jobs.<job> with
// Jobhooks-Error and Jobhooks-Attempts, and terminated: the result is
// failed (an error) or errored (a panic or timeout). A message that is not
// a valid job message is dead-lettered at once, and so is one naming a hook
// that runs another job (it would get that hook's params, which may hold
// secrets): it never runs and writes no result.
//
// Ordering holds for first deliveries within one process. Redeliveries are
// not ordered: a retried message comes back after its delay, possibly behind
// later changes to its object, the server's redelivery queue does not keep
// released messages in order, and processes sharing a consumer each take
// different messages. (Strict per-object order across all of that would
// need MaxAckPending 1, that is no concurrency.)
//
// Loop prevention: changes a job publishes with Job.Publish carry
// ce-hookorigin (the job) and ce-causationid (the change that ran it), and
// the router never routes such changes.
//
// Shutdown: when Run's context ends the runner stops fetching, lets running
// jobs finish within Options.DrainTimeout (then cancels them with cause
// ErrShutdown), and releases every message it holds but has not run with a
// Nak, so another receiver takes it at once. Releasing counts as a
// delivery; a message on its last delivery is dead-lettered instead, since
// the server would never redeliver it.
//
// Results reads job results and DeadLetters lists and replays dead letters;
// the receiver command's subcommands are built on them.
//
// Metrics: given a prometheus.Registerer in Options, the runner counts
// jobs and attempts per job and status, dead letters, and attempt
// durations (docs/metrics.md).
package receiver
