package bert

import (
	"encoding/binary"
	"fmt"
)

// raw builds test input: ints are single bytes, strings their bytes,
// u16/u32 big-endian lengths, []byte as is.
func raw(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch x := p.(type) {
		case int:
			if x < 0 || x > 255 {
				panic(fmt.Sprintf("raw: byte %d out of range", x))
			}
			b = append(b, byte(x))
		case string:
			b = append(b, x...)
		case []byte:
			b = append(b, x...)
		case u16:
			b = binary.BigEndian.AppendUint16(b, uint16(x))
		case u32:
			b = binary.BigEndian.AppendUint32(b, uint32(x))
		default:
			panic(fmt.Sprintf("raw: %T", p))
		}
	}
	return b
}

type (
	u16 int
	u32 uint32
)

// Shorthands for common encodings in the BERTJS and Erlang profiles.
func atomJ(s string) []byte    { return raw(tagAtom, u16(len(s)), s) }
func atomE(s string) []byte    { return raw(tagSmallAtomUTF8, len(s), s) }
func bin(s string) []byte      { return raw(tagBinary, u32(len(s)), s) }
func str(s string) []byte      { return raw(tagString, u16(len(s)), s) }
func tup(n int) []byte         { return raw(tagSmallTuple, n) }
func list(n int) []byte        { return raw(tagList, u32(n)) }
func sint(n int) []byte        { return raw(tagSmallInt, n) }
func term(p ...any) []byte     { return append([]byte{versionMagic}, raw(p...)...) }
func bertJ(kind string) []byte { return raw(tup(2), atomJ("bert"), atomJ(kind)) }
