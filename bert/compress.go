package bert

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"io"
)

// maxZlibRatio bounds how much zlib can expand its input (deflate's
// limit is about 1032:1), so that a term declaring a huge size cannot make
// inflate allocate more than its compressed bytes can produce.
const maxZlibRatio = 1040

// inflate decodes the compressed term (tag 80) at data[off]. It returns
// the inner term prefixed with the version byte, so that it can be
// scanned and decoded like an uncompressed input, and the offset just
// past the compressed data.
func inflate(data []byte, off, max int) ([]byte, int, error) {
	p := off + 1
	if len(data)-p < 4 {
		return nil, 0, shortErr(p, p+4, "compressed term")
	}
	size := int64(binary.BigEndian.Uint32(data[p:]))
	p += 4
	if size > int64(max) {
		return nil, 0, &LimitError{Err: ErrTooLarge, Limit: max, Offset: int64(off)}
	}
	comp := data[p:]
	br := bytes.NewReader(comp)
	zr, err := zlib.NewReader(br)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, 0, shortErr(len(data), len(data)+1, "compressed term")
		}
		return nil, 0, &SyntaxError{msg: "bad zlib data: " + err.Error(), Offset: int64(p), Err: err}
	}
	defer zr.Close()
	// Allocate what the compressed bytes can at most produce, not what
	// the header claims; growth beyond that means the header lied.
	capHint := int64(len(comp))*maxZlibRatio + 64
	if capHint > size+1 {
		capHint = size + 1
	}
	buf := bytes.NewBuffer(make([]byte, 0, capHint+1))
	buf.WriteByte(versionMagic)
	n, err := io.Copy(buf, io.LimitReader(zr, size+1))
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, 0, shortErr(len(data), len(data)+1, "compressed term")
		}
		return nil, 0, &SyntaxError{msg: "bad zlib data: " + err.Error(), Offset: int64(p), Err: err}
	}
	if n != size {
		return nil, 0, syntaxErr(off, "compressed term inflates to a size other than the one it declares")
	}
	return buf.Bytes(), p + len(comp) - br.Len(), nil
}
