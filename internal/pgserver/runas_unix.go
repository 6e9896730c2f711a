//go:build unix

package pgserver

import "syscall"

// sysProcAttr runs a process as r, in a process group of its own when
// group is set (the postmaster, so that killGroup reaches its children).
func (r *runAs) sysProcAttr(group bool) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: group}
	if r != nil {
		a.Credential = &syscall.Credential{Uid: uint32(r.uid), Gid: uint32(r.gid), NoSetGroups: true}
	}
	setParentDeathSignal(a, group)
	return a
}

// killGroup kills the postmaster's process group: the postmaster and its
// children together, as a crash of the machine would stop them.
func killGroup(p *process) {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
}
