// Command receiver runs jobhooks' job hook receivers for the built-in jobs
// (log, serial-validator, webhook) and inspects the job registry, job results and
// dead letters. Run "receiver help" for usage.
package main
