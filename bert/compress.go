package bert

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"io"
)

// maxZlibRatio bounds how much zlib can expand its input (deflate's
// limit is about 1032:1), so that a term declaring a huge size cannot make
// inflate allocate more than its compressed bytes can produce.
const maxZlibRatio = 1040

// compressedHeader is the length of what precedes a compressed term's
// zlib data: the version byte, tag 80 and the inflated size.
const compressedHeader = 6

// errSizeMismatch reports zlib data that inflates to a size other than
// the one its term declares.
var errSizeMismatch = errors.New("compressed term inflates to a size other than the one it declares")

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
	br := bytes.NewReader(data[p:])
	inner, err := inflateFrom(br, size, int64(br.Len()))
	if err != nil {
		return nil, 0, zlibError(err, off, p, len(data))
	}
	return inner, len(data) - br.Len(), nil
}

// inflateFrom inflates the zlib data that r holds into the inner term of
// a compressed term that declares size, and returns it prefixed with the
// version byte. r is read exactly to the end of the zlib data (zlib reads
// a flate.Reader byte by byte, without buffering ahead). avail is how many
// bytes r holds for sure: the memory set aside up front is what they can
// at most inflate to, not what the header claims.
func inflateFrom(r flate.Reader, size, avail int64) ([]byte, error) {
	zr, err := zlib.NewReader(r)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	capHint := min(avail*maxZlibRatio+64, size+1)
	buf := bytes.NewBuffer(make([]byte, 0, capHint+1))
	buf.WriteByte(versionMagic)
	n, err := io.Copy(buf, io.LimitReader(zr, size+1))
	if err != nil {
		return nil, err
	}
	if n != size {
		return nil, errSizeMismatch
	}
	return buf.Bytes(), nil
}

// zlibError describes an inflateFrom error for the compressed term at
// off whose zlib data starts at p, in an input of length end.
func zlibError(err error, off, p, end int) error {
	switch {
	case err == errSizeMismatch:
		return syntaxErr(off, err.Error())
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return shortErr(end, end+1, "compressed term")
	}
	return &SyntaxError{msg: "bad zlib data: " + err.Error(), Offset: int64(p), Err: err}
}
