// Package router routes object changes to jobs: it consumes the CHANGES
// stream with the durable "router" consumer, finds the enabled hooks whose
// content type and event match each change (from the live job_hooks
// bucket), and publishes one job message per hook to jobs.<job>. A change
// is acknowledged only once every job message for it is stored, so a crash
// repeats work but loses none. Invalid changes go to deadletter.changes.
// Context callbacks, NetBox's register_webhook_callback, add "context" to
// what jobs receive.
//
// Delivery guarantees: every change reaches each matching job at least
// once, and exactly once when a router that crashed is back within the
// JOBS stream's duplicate window (2 minutes), since job messages carry
// Nats-Msg-Id <change id>.<hook>. Job messages of one job are stored in the
// order their changes were stored. When a publish fails, the router
// publishes it again and the following ones one at a time, in order, until
// it has caught up; only a message already in flight when the failure
// cleared can land ahead of the retried one.
package router
