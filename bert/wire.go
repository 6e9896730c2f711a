package bert

// This file describes and checks the external term format.
//
// A term on the wire is the version byte 131 followed by one tagged value.
// Every value starts with a one-byte tag; lengths and counts are unsigned
// big-endian integers of 1, 2 or 4 bytes:
//
//	97  SMALL_INTEGER_EXT  uint8
//	98  INTEGER_EXT        int32
//	110 SMALL_BIG_EXT      n:uint8 sign:uint8 digits[n] (little-endian)
//	111 LARGE_BIG_EXT      n:uint32 sign:uint8 digits[n]
//	70  NEW_FLOAT_EXT      IEEE 754 float64
//	99  FLOAT_EXT          31 bytes of "%.20e" text, NUL-padded
//	100 ATOM_EXT           len:uint16 Latin-1 text
//	115 SMALL_ATOM_EXT     len:uint8 Latin-1 text
//	118 ATOM_UTF8_EXT      len:uint16 UTF-8 text
//	119 SMALL_ATOM_UTF8    len:uint8 UTF-8 text
//	104 SMALL_TUPLE_EXT    arity:uint8 elements...
//	105 LARGE_TUPLE_EXT    arity:uint32 elements...
//	106 NIL_EXT            the empty list
//	107 STRING_EXT         len:uint16 bytes: a list of integers 0..255
//	108 LIST_EXT           n:uint32 elements... tail
//	109 BINARY_EXT         len:uint32 bytes
//	77  BIT_BINARY_EXT     len:uint32 bits:uint8 bytes
//	116 MAP_EXT            arity:uint32 (key value)...
//	80  compressed         size:uint32 zlib data, only right after 131
//
// Pids, ports, references and funs have tags too; they are recognised and
// refused with an UnsupportedTagError.
//
// The scanner below walks a term without building anything. Decoding runs
// it over the whole input first, so a malformed term is rejected before
// any Go value is written, and so that every later read can trust the
// lengths it meets. Each count is checked against the bytes that remain
// (each element takes at least one byte) before anything is allocated.

import (
	"encoding/binary"
	"io"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

const versionMagic = 131

const (
	tagNewFloat       = 70
	tagBitBinary      = 77
	tagCompressed     = 80
	tagSmallInt       = 97
	tagInt            = 98
	tagFloat          = 99
	tagAtom           = 100
	tagReference      = 101
	tagPort           = 102
	tagPid            = 103
	tagSmallTuple     = 104
	tagLargeTuple     = 105
	tagNil            = 106
	tagString         = 107
	tagList           = 108
	tagBinary         = 109
	tagSmallBig       = 110
	tagLargeBig       = 111
	tagNewFun         = 112
	tagExport         = 113
	tagNewReference   = 114
	tagSmallAtom      = 115
	tagMap            = 116
	tagFun            = 117
	tagAtomUTF8       = 118
	tagSmallAtomUTF8  = 119
	tagV4Port         = 120
	tagLocal          = 121
	tagNewPid         = 88
	tagNewPort        = 89
	tagNewerReference = 90
	tagDistHeader     = 68
)

// floatExtLen is the size of FLOAT_EXT's text field.
const floatExtLen = 31

func tagName(t byte) string {
	switch t {
	case tagNewFloat:
		return "NEW_FLOAT_EXT"
	case tagBitBinary:
		return "BIT_BINARY_EXT"
	case tagCompressed:
		return "compressed"
	case tagSmallInt:
		return "SMALL_INTEGER_EXT"
	case tagInt:
		return "INTEGER_EXT"
	case tagFloat:
		return "FLOAT_EXT"
	case tagAtom:
		return "ATOM_EXT"
	case tagReference:
		return "REFERENCE_EXT"
	case tagPort:
		return "PORT_EXT"
	case tagPid:
		return "PID_EXT"
	case tagSmallTuple:
		return "SMALL_TUPLE_EXT"
	case tagLargeTuple:
		return "LARGE_TUPLE_EXT"
	case tagNil:
		return "NIL_EXT"
	case tagString:
		return "STRING_EXT"
	case tagList:
		return "LIST_EXT"
	case tagBinary:
		return "BINARY_EXT"
	case tagSmallBig:
		return "SMALL_BIG_EXT"
	case tagLargeBig:
		return "LARGE_BIG_EXT"
	case tagNewFun:
		return "NEW_FUN_EXT"
	case tagExport:
		return "EXPORT_EXT"
	case tagNewReference:
		return "NEW_REFERENCE_EXT"
	case tagSmallAtom:
		return "SMALL_ATOM_EXT"
	case tagMap:
		return "MAP_EXT"
	case tagFun:
		return "FUN_EXT"
	case tagAtomUTF8:
		return "ATOM_UTF8_EXT"
	case tagSmallAtomUTF8:
		return "SMALL_ATOM_UTF8_EXT"
	case tagV4Port:
		return "V4_PORT_EXT"
	case tagLocal:
		return "LOCAL_EXT"
	case tagNewPid:
		return "NEW_PID_EXT"
	case tagNewPort:
		return "NEW_PORT_EXT"
	case tagNewerReference:
		return "NEWER_REFERENCE_EXT"
	case tagDistHeader:
		return "DIST_HEADER"
	}
	return "unknown"
}

// isUnsupportedTag reports tags that are valid Erlang but carry
// node-local things: pids, ports, references, funs.
func isUnsupportedTag(t byte) bool {
	switch t {
	case tagReference, tagPort, tagPid, tagNewFun, tagExport, tagNewReference,
		tagFun, tagV4Port, tagLocal, tagNewPid, tagNewPort, tagNewerReference, tagDistHeader:
		return true
	}
	return false
}

func syntaxErr(off int, msg string) *SyntaxError {
	return &SyntaxError{msg: msg, Offset: int64(off)}
}

// shortErr reports input that ends before need bytes.
func shortErr(off, need int, what string) *SyntaxError {
	msg := "unexpected end of input"
	if what != "" {
		msg += " in " + what
	}
	return &SyntaxError{msg: msg, Offset: int64(off), Err: io.ErrUnexpectedEOF, need: need}
}

// scanner validates terms in data.
type scanner struct {
	data     []byte
	maxDepth int
	// final says data is the whole input, so a FLOAT_EXT that ends the
	// input may be shorter than 31 bytes (see floatExtEnd).
	final bool

	// resumable makes a scan that fails remember where it stopped, so
	// that a stream can go on from there once more bytes have arrived
	// instead of scanning the whole term again (see resume): pos and
	// posDepth are the term being scanned when the input ran out, and
	// frames the containers open around it, outermost first.
	resumable bool
	pos       int
	posDepth  int
	frames    []scanFrame
}

// A scanFrame is a container the scanner is inside of: left more
// elements follow at depth+1, and after them, for a list, its tail at
// depth.
type scanFrame struct {
	left  int
	depth int
	tail  bool
}

// count reads a length of size bytes at p, checks that length*per bytes
// remain after it, and returns the length and the offset after the prefix.
func (s *scanner) count(p, size int, per uint64, what string) (int, int, error) {
	if len(s.data)-p < size {
		return 0, 0, shortErr(p, p+size, what)
	}
	var n uint64
	switch size {
	case 1:
		n = uint64(s.data[p])
	case 2:
		n = uint64(binary.BigEndian.Uint16(s.data[p:]))
	default:
		n = uint64(binary.BigEndian.Uint32(s.data[p:]))
	}
	p += size
	if rem := uint64(len(s.data) - p); n*per > rem {
		e := shortErr(p, 0, what)
		e.msg = what + " of length " + strconv.FormatUint(n, 10) + " does not fit in the " + strconv.FormatUint(rem, 10) + " remaining bytes"
		if need := uint64(p) + n*per; need < math.MaxInt32 {
			e.need = int(need)
		} else {
			e.need = math.MaxInt32
		}
		return 0, 0, e
	}
	return int(n), p, nil
}

// scan checks the term at off and returns the offset just past it.
//
// Every failure goes through stop or open, which are free unless the
// scanner is resumable.
func (s *scanner) scan(off, depth int) (int, error) {
	data := s.data
	for {
		if off >= len(data) {
			return 0, s.stop(off, depth, shortErr(off, off+1, ""))
		}
		tag := data[off]
		p := off + 1
		switch tag {
		case tagSmallInt:
			return s.fixedAt(off, depth, p, 1, "SMALL_INTEGER_EXT")
		case tagInt:
			return s.fixedAt(off, depth, p, 4, "INTEGER_EXT")
		case tagNewFloat:
			end, err := s.fixedAt(off, depth, p, 8, "NEW_FLOAT_EXT")
			if err != nil {
				return 0, err
			}
			f := math.Float64frombits(binary.BigEndian.Uint64(data[p:]))
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return 0, s.stop(off, depth, syntaxErr(off, "NEW_FLOAT_EXT is not a finite number"))
			}
			return end, nil
		case tagFloat:
			end := floatExtEnd(data, p)
			if end-p < floatExtLen && !s.final {
				return 0, s.stop(off, depth, shortErr(p, p+floatExtLen, "FLOAT_EXT"))
			}
			if _, ok := parseFloatExt(data[p:end]); !ok {
				return 0, s.stop(off, depth, syntaxErr(off, "FLOAT_EXT is not a finite number"))
			}
			return end, nil
		case tagAtom, tagSmallAtom, tagAtomUTF8, tagSmallAtomUTF8:
			size := 2
			if tag == tagSmallAtom || tag == tagSmallAtomUTF8 {
				size = 1
			}
			n, q, err := s.count(p, size, 1, "atom")
			if err != nil {
				return 0, s.stop(off, depth, err)
			}
			if (tag == tagAtomUTF8 || tag == tagSmallAtomUTF8) && !utf8.Valid(data[q:q+n]) {
				return 0, s.stop(off, depth, syntaxErr(off, "atom is not valid UTF-8"))
			}
			return q + n, nil
		case tagSmallTuple, tagLargeTuple:
			size := 4
			if tag == tagSmallTuple {
				size = 1
			}
			n, q, err := s.count(p, size, 1, "tuple")
			if err != nil {
				return 0, s.stop(off, depth, err)
			}
			if n > 0 && depth >= s.maxDepth {
				return 0, s.stop(off, depth, &LimitError{Err: ErrTooDeep, Limit: s.maxDepth, Offset: int64(off)})
			}
			for i := 0; i < n; i++ {
				if q, err = s.scan(q, depth+1); err != nil {
					return 0, s.open(err, n-i-1, depth, false)
				}
			}
			return q, nil
		case tagNil:
			return p, nil
		case tagString:
			n, q, err := s.count(p, 2, 1, "STRING_EXT")
			if err != nil {
				return 0, s.stop(off, depth, err)
			}
			return q + n, nil
		case tagList:
			// n elements and a tail: n+1 terms of at least one byte.
			n, q, err := s.count(p, 4, 1, "list")
			if err != nil {
				return 0, s.stop(off, depth, err)
			}
			if q+n >= len(data) {
				return 0, s.stop(off, depth, shortErr(q, q+n+1, "list"))
			}
			if depth >= s.maxDepth {
				return 0, s.stop(off, depth, &LimitError{Err: ErrTooDeep, Limit: s.maxDepth, Offset: int64(off)})
			}
			for i := 0; i < n; i++ {
				if q, err = s.scan(q, depth+1); err != nil {
					return 0, s.open(err, n-i-1, depth, true)
				}
			}
			// The tail ends the list; scan it without recursing so
			// that a chain of one-element lists costs no stack.
			off = q
			continue
		case tagBinary:
			n, q, err := s.count(p, 4, 1, "BINARY_EXT")
			if err != nil {
				return 0, s.stop(off, depth, err)
			}
			return q + n, nil
		case tagBitBinary:
			n, q, err := s.count(p, 4, 1, "BIT_BINARY_EXT")
			if err != nil {
				return 0, s.stop(off, depth, err)
			}
			if q >= len(data) || len(data)-q-1 < n {
				return 0, s.stop(off, depth, shortErr(q, q+1+n, "BIT_BINARY_EXT"))
			}
			bits := data[q]
			if n == 0 || bits == 0 || bits > 8 {
				return 0, s.stop(off, depth, syntaxErr(off, "BIT_BINARY_EXT with invalid length or bit count"))
			}
			return q + 1 + n, nil
		case tagSmallBig, tagLargeBig:
			size := 4
			if tag == tagSmallBig {
				size = 1
			}
			// n digits and one sign byte.
			n, q, err := s.count(p, size, 1, "big integer")
			if err != nil {
				return 0, s.stop(off, depth, err)
			}
			if q+n >= len(data) {
				return 0, s.stop(off, depth, shortErr(q, q+n+1, "big integer"))
			}
			if data[q] > 1 {
				return 0, s.stop(off, depth, syntaxErr(q, "big integer sign byte is not 0 or 1"))
			}
			return q + 1 + n, nil
		case tagMap:
			n, q, err := s.count(p, 4, 2, "map")
			if err != nil {
				return 0, s.stop(off, depth, err)
			}
			if n > 0 && depth >= s.maxDepth {
				return 0, s.stop(off, depth, &LimitError{Err: ErrTooDeep, Limit: s.maxDepth, Offset: int64(off)})
			}
			for i := 0; i < 2*n; i++ {
				if q, err = s.scan(q, depth+1); err != nil {
					return 0, s.open(err, 2*n-i-1, depth, false)
				}
			}
			return q, nil
		case tagCompressed:
			return 0, s.stop(off, depth, syntaxErr(off, "compressed term (tag 80) inside a term"))
		case versionMagic:
			return 0, s.stop(off, depth, syntaxErr(off, "version byte 131 inside a term"))
		default:
			if isUnsupportedTag(tag) {
				return 0, s.stop(off, depth, &UnsupportedTagError{Tag: tag, Offset: int64(off)})
			}
			return 0, s.stop(off, depth, syntaxErr(off, "unknown tag "+strconv.Itoa(int(tag))))
		}
	}
}

// fixedAt checks that n bytes are there at p for the term at off.
func (s *scanner) fixedAt(off, depth, p, n int, what string) (int, error) {
	if len(s.data)-p < n {
		return 0, s.stop(off, depth, shortErr(p, p+n, what))
	}
	return p + n, nil
}

// stop records, for a resumable scan, that the term at off (at depth)
// is where scanning failed with err, and returns err.
func (s *scanner) stop(off, depth int, err error) error {
	if s.resumable {
		s.pos, s.posDepth = off, depth
	}
	return err
}

// open records, for a resumable scan, the container around a term that
// failed: left more elements after it, then a tail if tail is set. The
// innermost container comes first; resume puts them in order.
func (s *scanner) open(err error, left, depth int, tail bool) error {
	if s.resumable {
		s.frames = append(s.frames, scanFrame{left: left, depth: depth, tail: tail})
	}
	return err
}

// resume scans on from where the last scan of a resumable scanner
// stopped, after s.data has grown (the bytes it held before must not
// have changed), and returns the offset just past the whole term. Each
// call rescans at most the term it stopped in, so scanning a term that
// arrives piece by piece costs time linear in its size. Before the first
// call, pos and posDepth must be where the term starts and frames empty.
func (s *scanner) resume() (int, error) {
	for {
		base := len(s.frames)
		q, err := s.scan(s.pos, s.posDepth)
		if err != nil {
			slices.Reverse(s.frames[base:])
			return 0, err
		}
		// The term at pos is complete: move to the next one, closing
		// the containers that it completes.
		for {
			if len(s.frames) == 0 {
				return q, nil
			}
			f := &s.frames[len(s.frames)-1]
			if f.left > 0 {
				f.left--
				s.pos, s.posDepth = q, f.depth+1
				break
			}
			tail, depth := f.tail, f.depth
			s.frames = s.frames[:len(s.frames)-1]
			if tail {
				s.pos, s.posDepth = q, depth
				break
			}
		}
	}
}

// floatExtEnd returns the end of the FLOAT_EXT text that starts at p.
// It is 31 bytes long, but some BERT-JS test vectors end the input after
// the unpadded toExponential() text; a whole input that ends inside the
// field is read up to its end.
func floatExtEnd(data []byte, p int) int {
	return min(p+floatExtLen, len(data))
}

// parseFloatExt parses FLOAT_EXT text: Erlang's 31-byte "%.20e" form, or
// the shorter toExponential() text older BERT-JS wrote, padded with NULs
// or not. Only finite decimal numbers are accepted.
func parseFloatExt(b []byte) (float64, bool) {
	end := 0
	for end < len(b) && b[end] != 0 {
		end++
	}
	start := 0
	for start < end && b[start] == ' ' {
		start++
	}
	for end > start && b[end-1] == ' ' {
		end--
	}
	t := b[start:end]
	if len(t) == 0 {
		return 0, false
	}
	for _, c := range t {
		switch {
		case c >= '0' && c <= '9', c == '.', c == 'e', c == 'E', c == '+', c == '-':
		default:
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(string(t), 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}
