package wstest

import (
	"bytes"
	"testing"
)

func TestFrameAppend(t *testing.T) {
	mask := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	for _, tt := range []struct {
		name string
		f    Frame
		want []byte
	}{
		// RFC 6455 §5.7: a single-frame masked text message.
		{"masked Hello", Frame{Opcode: 0x1, Fin: true, Payload: []byte("Hello"), Mask: mask},
			[]byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}},
		{"a first fragment, 8-byte length", Frame{Opcode: 0x2, Payload: []byte{0}, Mask: mask, LongLength: true},
			[]byte{0x02, 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x37, 0xfa, 0x21, 0x3d, 0x37}},
	} {
		if got := tt.f.Append(nil); !bytes.Equal(got, tt.want) {
			t.Errorf("%s: % x, want % x", tt.name, got, tt.want)
		}
	}
	// 126 to 65535 bytes take a 2-byte length, more an 8-byte one.
	for _, n := range []int{126, 0xFFFF, 0x10000} {
		got := Frame{Opcode: 0x2, Fin: true, Payload: make([]byte, n)}.Append(nil)
		header := map[bool]int{true: 4, false: 10}[n <= 0xFFFF] + 4
		if len(got) != header+n {
			t.Errorf("%d bytes: frame of %d, want %d", n, len(got), header+n)
		}
	}
}
