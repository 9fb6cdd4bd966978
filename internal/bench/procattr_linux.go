//go:build linux

package bench

import (
	"os/exec"
	"syscall"
)

// setChildAttrs makes the kernel SIGKILL the child if the benchmark dies
// before it could stop it.
func setChildAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
