//go:build !linux

package bench

import "os/exec"

// setChildAttrs does nothing here: without Pdeathsig, a child of a
// benchmark that died stops when its stdin closes.
func setChildAttrs(*exec.Cmd) {}
