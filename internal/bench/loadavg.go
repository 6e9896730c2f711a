package bench

import (
	"os"
	"runtime"
	"strings"
)

// loadAverage is the machine's load average over 1, 5 and 15 minutes as
// /proc/loadavg gives it (Linux), so that a report says how busy the
// machine was; elsewhere it says it is unavailable.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unavailable on " + runtime.GOOS
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unreadable"
	}
	return strings.Join(f[:3], " ")
}
