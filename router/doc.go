// Package router routes object changes to jobs: it consumes the CHANGES
// stream with the durable "router" consumer, finds the enabled hooks whose
// content type and event match each change (from the live job_hooks
// bucket), and publishes one job message per hook to jobs.<job>. A change
// is acknowledged only once every job message for it is stored, so a crash
// repeats work but loses none. Invalid changes go to deadletter.changes.
// Context callbacks, NetBox's register_webhook_callback, add "context" to
// what jobs receive.
package router
