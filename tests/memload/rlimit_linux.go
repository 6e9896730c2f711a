//go:build linux

package main

import "syscall"

// raiseNoFile raises RLIMIT_NOFILE's soft limit to want, or to the hard
// limit if that is lower, so that the tool and the servers it starts,
// which inherit it, can hold that many connections.
func raiseNoFile(want uint64) (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	l.Cur = min(want, l.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	return l.Cur, nil
}
