//go:build unix

package gateway

import "syscall"

// rawConnOf returns the socket under nc for the reader's readiness waits
// (see wsNetConn), nil when nc is not a plain socket.
func rawConnOf(nc *wsNetConn) syscall.RawConn {
	if nc == nil {
		return nil
	}
	sc, ok := nc.Conn.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}

// readSocket reads what the socket fd has into buf without waiting: n
// bytes, or ok false when a read would block. An end of stream or an
// error is n 0 with ok true, for the reader to find on its next read.
func readSocket(fd uintptr, buf []byte) (n int, ok bool) {
	for {
		n, err := syscall.Read(int(fd), buf)
		switch err {
		case nil:
			return n, true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return 0, false
		}
		return 0, true
	}
}
