// Package ingest is jobhooks' HTTP way in: handlers that take NetBox's and
// Nautobot's webhook bodies and CloudEvents over HTTP, turn each into a
// change, and answer 202 only once JetStream has stored it in CHANGES.
//
// A 202 means durable; any other answer means nothing was stored, except
// that a publish whose acknowledgement was lost may have been stored, and
// the sender's retry of the same body is then acknowledged as a duplicate
// (the change id is derived from the body, see webhook.ChangeID).
package ingest
