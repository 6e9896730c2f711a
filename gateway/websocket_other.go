//go:build !unix

package gateway

import "syscall"

// rawConnOf returns nil: outside unix the reader of an idle connection
// waits inside gorilla's NextReader (see wsNetConn), there being no
// portable way to look at a socket without reading it.
func rawConnOf(*wsNetConn) syscall.RawConn { return nil }

// readSocket is not called where rawConnOf returns nil.
func readSocket(uintptr, []byte) (int, bool) { return 0, true }
