// Package builtin holds the jobs the receiver command runs out of the box:
//
//   - log: logs each change and its differences into the job result;
//   - serial-validator: the Nautobot docs' serial-validation receiver, done
//     right (it does not crash on create, where there is no old value);
//   - webhook: delivers each change to an HTTP endpoint with NetBox's
//     webhook payload, signed, retried, every attempt kept in the result
//     (docs/webhook-job.md).
//
// Register adds them to a receiver.Registry.
package builtin
