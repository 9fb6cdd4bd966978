// Command router routes object changes to job hooks; `router hooks`
// manages the hooks. See the README.
package main
