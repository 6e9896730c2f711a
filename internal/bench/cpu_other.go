//go:build !unix

package bench

import (
	"fmt"
	"runtime"
	"time"
)

// processCPU reports that this process's CPU time is unavailable: the
// bench reads it with getrusage(2), which only unix systems have, so the
// trips/CPU-s columns are left out rather than filled with a guess.
func processCPU() (time.Duration, error) {
	return 0, fmt.Errorf("no CPU time of this process on %s (getrusage, unix only)", runtime.GOOS)
}
