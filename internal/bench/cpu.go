package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// errNoPID is why a server outside this process has no CPU figure when
// its process id is not given; the report's legend already says so.
var errNoPID = errors.New("--url needs --pid")

// cpuClock returns the CPU clock of the round-trip phase: this process,
// plus the server's process with URL and PID. It returns an error instead
// when the figure is unavailable: the server runs elsewhere and its PID is
// unknown, or this system cannot read a process's CPU time.
func cpuClock(cfg Config) (func() time.Duration, error) {
	if cfg.URL != "" && cfg.PID == 0 {
		return nil, errNoPID
	}
	if _, err := processCPU(); err != nil {
		return nil, err
	}
	if cfg.URL == "" {
		return func() time.Duration { d, _ := processCPU(); return d }, nil
	}
	if _, err := pidCPU(cfg.PID); err != nil {
		return nil, err
	}
	return func() time.Duration {
		self, _ := processCPU()
		server, _ := pidCPU(cfg.PID)
		return self + server
	}, nil
}

// pidCPU is the user plus system time of another process, from
// /proc/PID/stat (Linux; its clock ticks are USER_HZ, 100 per second).
func pidCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		if runtime.GOOS != "linux" && errors.Is(err, os.ErrNotExist) {
			return 0, fmt.Errorf("no CPU time of another process on %s (it is read from /proc/PID/stat, Linux only)", runtime.GOOS)
		}
		return 0, fmt.Errorf("CPU time of process %d: %w", pid, err)
	}
	// The command name (field 2) may hold spaces: count from its ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("CPU time of process %d: no command name in /proc/%d/stat", pid, pid)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("CPU time of process %d: /proc/%d/stat has %d fields after the name, want 13 or more", pid, pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("CPU time of process %d: %w", pid, err)
	}
	return time.Duration(utime+stime) * (time.Second / 100), nil
}
