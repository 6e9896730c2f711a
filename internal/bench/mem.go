package bench

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// memSample is the memory a process holds.
type memSample struct {
	heap   uint64 // live heap after GC
	stacks uint64 // goroutine stacks
	rss    uint64 // resident set size, 0 when unknown
}

// sampleSelf forces two collections and reads the runtime's figures and
// the process RSS.
func sampleSelf() memSample {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	rss, _ := rssOf(os.Getpid())
	return memSample{heap: m.HeapAlloc, stacks: m.StackInuse, rss: rss}
}

// rssOf reads VmRSS of a process from /proc/PID/status, in bytes. Only
// Linux has that file; elsewhere the error says the figure is unavailable.
func rssOf(pid int) (uint64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		if runtime.GOOS != "linux" && errors.Is(err, os.ErrNotExist) {
			return 0, fmt.Errorf("no RSS on %s (it is read from /proc/PID/status, Linux only)", runtime.GOOS)
		}
		return 0, fmt.Errorf("RSS of process %d: %w", pid, err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			if f := strings.Fields(rest); len(f) >= 1 {
				kb, err := strconv.ParseUint(f[0], 10, 64)
				if err != nil {
					return 0, fmt.Errorf("RSS of process %d: VmRSS %q: %w", pid, rest, err)
				}
				return kb * 1024, nil
			}
		}
	}
	return 0, fmt.Errorf("RSS of process %d: no VmRSS line in /proc/%d/status", pid, pid)
}
