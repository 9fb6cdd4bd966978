// Package router routes object changes to jobs: it consumes the CHANGES
// stream with the durable "router" consumer, finds the enabled hooks whose
// content type and event match each change (from the live job_hooks
// bucket), and publishes one job message per hook to jobs.<job>. A change
// is acknowledged only once every job message for it is stored, so a crash
// repeats work but loses none. Invalid changes go to deadletter.changes.
// Context callbacks, NetBox's register_webhook_callback, add "context" to
// what jobs receive.
//
// A hook's filters decide whether it fires for a change it matches:
// skip_noop and changed_fields on updates, read from the snapshots as they
// arrived (events.ChangeHead.Differs), and conditions, evaluated on the
// change decoded once, only when a matched hook has them. Evaluate is that
// decision for one hook, for tools (router hooks test).
//
// Delivery guarantees: every change reaches each matching job at least
// once, and exactly once when a router that crashed is back within the
// JOBS stream's duplicate window (2 minutes), since job messages carry
// Nats-Msg-Id <change id>.<hook>. Job messages of one job are stored in the
// order their changes were stored. One goroutine, the acknowledger, sends
// every job message and sees every confirmation, in order: when a job
// message is not stored (refused, unconfirmed, or its publish failed at
// once), it sends nothing new, publishes that one again with back-off and
// then the ones after it that were not stored, one at a time, and sends new
// ones only once every change it had sent is done. Only a message already in
// flight when the failure happened can land ahead of the retried one. The
// confirmations lost with a stream leader or a server are waited for once
// (AckTimeout), not once per message in flight.
// However long a change is held (JOBS down or full, slow callbacks), it
// gets an in-progress ack every third of the consumer's ack wait, so it is
// not delivered and routed again meanwhile.
//
// Metrics: given a prometheus.Registerer in Options, the router counts
// changes routed, skipped and dead-lettered, job messages published per
// job, and its routing latency, at a few counter increments per change
// (docs/metrics.md).
package router
