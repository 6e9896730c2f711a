//go:build unix && !linux

package pgserver

import "syscall"

// setParentDeathSignal does nothing where the kernel has no parent death
// signal: a server then outlives a crashed test until killed.
func setParentDeathSignal(*syscall.SysProcAttr, bool) {}
