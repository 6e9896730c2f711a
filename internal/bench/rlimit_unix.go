//go:build unix

package bench

import (
	"fmt"
	"io"
	"syscall"
)

// raiseFileLimit lifts the soft limit on open files to the hard limit:
// every connection costs two descriptors when the server is in-process,
// and the default soft limit (often 1024) is below a thousand idle
// connections plus a thousand subscribers.
func raiseFileLimit(stderr io.Writer) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			fmt.Fprintf(stderr, "bertsync bench: raising the open-file limit: %v\n", err)
		}
	}
}
