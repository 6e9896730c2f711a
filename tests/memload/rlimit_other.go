//go:build !linux

package main

import "errors"

// raiseNoFile is Linux's only: the tool measures through /proc.
func raiseNoFile(uint64) (uint64, error) {
	return 0, errors.New("memload runs on Linux only")
}
