package gateway

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// A JavaScript "binary string" carries one byte per character: the
// characters U+0000..U+00FF stand for the bytes 0x00..0xFF. bullet.js and
// BERT-JS send BERT terms as such strings, and the browser puts them on the
// wire as UTF-8, so a byte below 0x80 travels as itself and a byte from 0x80
// up as the two-byte UTF-8 sequence of the code point with its value. A
// BERT term always starts with the magic byte 131, which becomes the UTF-8
// bytes C2 83: that is how text carrying BERT is told apart from other text.

// bertMagic is the first byte of every BERT term.
const bertMagic = 131

// errNotBinaryString is returned by decodeBinaryString for text holding a
// character above U+00FF or invalid UTF-8.
var errNotBinaryString = errors.New("text is not a byte-per-character binary string")

// isBinaryString reports whether text (UTF-8) starts with U+0083, the BERT
// magic byte as a character.
func isBinaryString(text []byte) bool {
	return len(text) >= 2 && text[0] == 0xC2 && text[1] == 0x83
}

// decodeBinaryString maps UTF-8 text whose characters are all U+0000..U+00FF
// to one byte per character. The result never is longer than text.
func decodeBinaryString(text []byte) ([]byte, error) {
	out := make([]byte, 0, len(text))
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			out = append(out, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(text[i:])
		if r == utf8.RuneError && size <= 1 {
			return nil, fmt.Errorf("%w: invalid UTF-8 at byte %d", errNotBinaryString, i)
		}
		if r > 0xFF {
			return nil, fmt.Errorf("%w: character U+%04X at byte %d is above U+00FF", errNotBinaryString, r, i)
		}
		out = append(out, byte(r))
		i += size
	}
	return out, nil
}

// appendBinaryString appends data as a binary string in UTF-8: each byte
// becomes the character with its value.
func appendBinaryString(dst, data []byte) []byte {
	for _, b := range data {
		if b < utf8.RuneSelf {
			dst = append(dst, b)
		} else {
			dst = append(dst, 0xC0|b>>6, 0x80|b&0x3F)
		}
	}
	return dst
}

// binaryStringLen is the length in bytes of data as a UTF-8 binary string.
func binaryStringLen(data []byte) int {
	n := len(data)
	for _, b := range data {
		if b >= utf8.RuneSelf {
			n++
		}
	}
	return n
}
