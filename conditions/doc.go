// Package conditions is NetBox's event-rule condition language for jobhooks:
// a hook's "conditions" field, compiled once when the hook is written or
// loaded, then evaluated on every change the hook's content types and
// events select.
//
// A condition is {"attr", "value", "op", "negate"}; condition sets nest them
// under {"and": [...]} or {"or": [...]}. Compile refuses what NetBox would
// refuse (and a little more that could never match), naming the JSON path
// of the problem in an *Error. Evaluation follows NetBox 4.7
// (extras/conditions.py): dotted paths reduced over the change's object,
// mapped over lists, snapshots.prechange.* / snapshots.postchange.* paths,
// the changed / unchanged operators, Python's equality and ordering, and
// fail-closed handling of paths that do not resolve. See docs/conditions.md.
//
// The package imports nothing of jobhooks: the router hands it decoded
// maps (Input) and gets back whether the change matches and, if not, a
// Failure saying which condition stopped it and why.
package conditions
