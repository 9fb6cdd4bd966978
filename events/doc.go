// Package events is the change-event half of the jobhooks contract: the
// Change an object change carries, the subjects it travels on
// (changes.<app_label>.<model>.<action>, jobs.<job>, deadletter.*), the
// CloudEvents codec that turns NATS messages into validated changes and
// back, Nautobot-style snapshots and differences, and a Publisher any Go
// program can use to emit changes.
package events
