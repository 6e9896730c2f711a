//go:build !linux

package bench

import "syscall"

// childProcAttr is nothing where the kernel has no parent death signal:
// the bench stops its nodes itself, and a node outlives a bench that is
// killed.
func childProcAttr() *syscall.SysProcAttr { return nil }
