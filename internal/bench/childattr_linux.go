package bench

import "syscall"

// childProcAttr has the kernel kill a child node when the bench dies.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
