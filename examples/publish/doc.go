// Command publish emits one device change with jobhooks' events.Publisher,
// the way a NetBox or Nautobot integration written in Go would:
//
//	go run ./examples/publish --object-id dev-1 --serial BAD --old-serial A1
//
// With --old-serial it publishes an update (prechange → postchange),
// without it a create.
package main
