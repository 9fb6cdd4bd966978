package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// procMem is a process's memory as /proc/<pid>/status reports it (Linux).
type procMem struct {
	HWM int64 // VmHWM: peak resident set size, bytes
	RSS int64 // VmRSS: resident set size now, bytes
}

// readProcMem reads the memory of process pid; an error where there is no
// /proc (not Linux).
func readProcMem(pid int) (procMem, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procMem{}, fmt.Errorf("memory of process %d: %w", pid, err)
	}
	var m procMem
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *int64
		switch key {
		case "VmHWM":
			dst = &m.HWM
		case "VmRSS":
			dst = &m.RSS
		default:
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return procMem{}, fmt.Errorf("memory of process %d: %s: %w", pid, key, err)
		}
		*dst = kb << 10
	}
	if m.HWM == 0 && m.RSS == 0 {
		return procMem{}, fmt.Errorf("memory of process %d: no VmHWM or VmRSS in its status", pid)
	}
	return m, nil
}
