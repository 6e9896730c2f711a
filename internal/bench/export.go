package bench

import (
	"io"
	"time"
)

// The measuring helpers of this package that the comparison with peer
// servers (the module in bench/, kept out of this module so that bertsync
// never depends on a peer) uses as well, so that both benches take their
// figures the same way.

// RSS is the resident set size of process pid in bytes, read from
// /proc/PID/status; elsewhere than Linux the error says it is unavailable.
func RSS(pid int) (uint64, error) { return rssOf(pid) }

// RaiseFileLimit lifts this process's soft limit on open files to its hard
// limit, reporting a failure on stderr; a process started afterwards
// inherits the raised limit.
func RaiseFileLimit(stderr io.Writer) { raiseFileLimit(stderr) }

// Percentile returns the latency at fraction p (0.5 for the median, 1 for
// the maximum) of lat, which must be sorted; zero for none.
func Percentile(lat []time.Duration, p float64) time.Duration {
	return fanoutStats{lat: lat}.pct(p)
}

// Median returns the median of a non-empty slice.
func Median(xs []float64) float64 { return median(xs) }

// Millis formats d as milliseconds with two decimals, "1.25 ms".
func Millis(d time.Duration) string { return millis(d) }

// ProcessCPU is the user plus system time of this process so far; unix
// systems only, elsewhere the error says so.
func ProcessCPU() (time.Duration, error) { return processCPU() }

// PidCPU is the user plus system time of process pid so far, from
// /proc/PID/stat; Linux only, elsewhere the error says so.
func PidCPU(pid int) (time.Duration, error) { return pidCPU(pid) }
