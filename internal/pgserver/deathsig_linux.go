package pgserver

import "syscall"

// setParentDeathSignal has the kernel kill the postmaster if this
// process dies first, so that no server outlives a crashed test.
func setParentDeathSignal(a *syscall.SysProcAttr, postmaster bool) {
	if postmaster {
		a.Pdeathsig = syscall.SIGKILL
	}
}
