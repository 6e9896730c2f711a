// Package wstest writes WebSocket frames as a client sends them, byte by
// byte, for tests that need frames a client library would not send: split
// across writes, several in one write, a length in a longer encoding than
// needed.
package wstest

import "encoding/binary"

// Frame is one client frame (RFC 6455 §5.2).
type Frame struct {
	Opcode  byte
	Fin     bool
	Payload []byte
	// Mask is the masking key; a client masks every frame.
	Mask [4]byte
	// LongLength encodes the length in 8 bytes whatever it is, as the
	// RFC allows a peer to do and a server must read.
	LongLength bool
}

// Append appends the frame's bytes to dst.
func (f Frame) Append(dst []byte) []byte {
	b0 := f.Opcode & 0x0F
	if f.Fin {
		b0 |= 0x80
	}
	dst = append(dst, b0)
	switch n := len(f.Payload); {
	case f.LongLength || n > 0xFFFF:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	case n > 125:
		dst = append(dst, 0x80|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, 0x80|byte(n))
	}
	dst = append(dst, f.Mask[:]...)
	for i, c := range f.Payload {
		dst = append(dst, c^f.Mask[i%4])
	}
	return dst
}
