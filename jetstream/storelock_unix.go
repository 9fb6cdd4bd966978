//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package jetstream

import (
	"errors"
	"os"
	"syscall"
)

// tryLock takes an exclusive flock on f without waiting: false when another
// open file holds it, in this process or another. The kernel releases it
// when f is closed or its process dies, so a crash leaves no stale lock.
func tryLock(f *os.File) (bool, error) {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}
