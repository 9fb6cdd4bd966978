// Package hookconfig is the job hook configuration of jobhooks: the Hook a
// user writes into the job_hooks bucket (Nautobot's JobHook: name, content
// types or patterns such as dcim.* and *, job, enabled, events; and the
// filters conditions, changed_fields and skip_noop, the conditions compiled
// once per change of the hook), the job registry in the jobs bucket, a
// Store that makes validated, revision-checked writes so that two operators
// cannot lose each other's edits, and a Watcher that keeps an immutable
// routing Index in step with the bucket for the router.
package hookconfig
