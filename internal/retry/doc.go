// Package retry is jobhooks' one retry with back-off: exponential delays
// between a floor and a ceiling, with jitter so that many routers or
// receivers retrying the same outage do not retry in step, and permanent
// errors that end the retrying at once.
package retry
