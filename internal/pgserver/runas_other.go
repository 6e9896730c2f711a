//go:build !unix

package pgserver

import "syscall"

// sysProcAttr has no user to switch to and no process groups here: the
// server runs as this process's user (credential refuses no one but
// root, which has no Geteuid here).
func (r *runAs) sysProcAttr(bool) *syscall.SysProcAttr { return nil }

// killGroup kills the postmaster alone: its children end when it does.
func killGroup(p *process) { _ = p.cmd.Process.Kill() }
