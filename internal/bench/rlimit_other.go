//go:build !unix

package bench

import "io"

// raiseFileLimit leaves the process as it is: outside unix there is no
// RLIMIT_NOFILE (Windows sockets are handles, bounded by memory, not by a
// per-process soft limit a process can raise), so there is nothing to lift.
func raiseFileLimit(io.Writer) {}
