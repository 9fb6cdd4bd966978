package router

import "time"

// SetConsumerAckWait makes Run give the router consumer an ack wait of d
// instead of the contract's 30s, so that a test outlasts it quickly.
func SetConsumerAckWait(o *Options, d time.Duration) { o.consumerAckWait = d }
