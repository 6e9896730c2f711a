package bert

import (
	"encoding/binary"
	"math"
	"math/big"
	"time"
	"unicode/utf8"
)

// This file decodes validated bytes into the term model (see term.go).
// It trusts every length because the scanner has already checked the
// whole term.

// Shared values for empty containers, so that decoding [] or {} does not
// allocate. They have length and capacity zero, so no caller can write
// through them.
var (
	emptyList  any = List{}
	emptyTuple any = Tuple{}
)

// term decodes the term at d.off into the term model.
func (d *decodeState) term() any {
	data := d.data
	off := d.off
	tag := data[off]
	p := off + 1
	switch tag {
	case tagSmallInt:
		d.off = p + 1
		return int64(data[p])
	case tagInt:
		d.off = p + 4
		return int64(int32(binary.BigEndian.Uint32(data[p:])))
	case tagNewFloat:
		d.off = p + 8
		return math.Float64frombits(binary.BigEndian.Uint64(data[p:]))
	case tagFloat:
		d.off = floatExtEnd(data, p)
		f, _ := parseFloatExt(data[p:d.off])
		return f
	case tagAtom, tagSmallAtom, tagAtomUTF8, tagSmallAtomUTF8:
		return d.atom()
	case tagSmallTuple, tagLargeTuple:
		var n int
		if tag == tagSmallTuple {
			n = int(data[p])
			p++
		} else {
			n = int(binary.BigEndian.Uint32(data[p:]))
			p += 4
		}
		d.off = p
		if n == 0 {
			return emptyTuple
		}
		t := Tuple(d.allocElems(n))
		for i := range t {
			t[i] = d.term()
		}
		if n <= 5 {
			if a, ok := t[0].(Atom); ok && a == "bert" {
				if v, ok := complexTerm(t); ok {
					return v
				}
			}
		}
		return t
	case tagNil:
		d.off = p
		return emptyList
	case tagString:
		n := int(binary.BigEndian.Uint16(data[p:]))
		d.off = p + 2 + n
		return ByteList(d.bytes(p+2, n))
	case tagList:
		return d.list()
	case tagBinary:
		n := int(binary.BigEndian.Uint32(data[p:]))
		d.off = p + 4 + n
		return d.bytes(p+4, n)
	case tagBitBinary:
		n := int(binary.BigEndian.Uint32(data[p:]))
		bits := data[p+4]
		d.off = p + 5 + n
		b := make([]byte, n)
		copy(b, data[p+5:])
		if bits == 8 {
			return b
		}
		b[n-1] &^= byte(0xff) >> bits
		return BitBinary{Data: b, Bits: bits}
	case tagSmallBig, tagLargeBig:
		return d.bigInt()
	case tagMap:
		n := int(binary.BigEndian.Uint32(data[p:]))
		d.off = p + 4
		m := make(Map, n)
		for i := range m {
			m[i].Key = d.term()
			m[i].Value = d.term()
		}
		return m
	}
	// Unreachable for scanned input.
	panic("bert: internal error: unscanned tag")
}

// bytes returns n bytes at p: a copy, or a sub-slice of the input when
// zero-copy decoding is on.
func (d *decodeState) bytes(p, n int) []byte {
	if d.zeroCopy {
		return d.data[p : p+n : p+n]
	}
	var b []byte
	if n <= smallBinary {
		if len(d.byteArena) < n {
			// Each binary is at least as long in the input, so the chunk
			// never exceeds the input that remains.
			d.byteArena = make([]byte, min(max(4*smallBinary, n), len(d.data)-p))
		}
		b = d.byteArena[:n:n]
		d.byteArena = d.byteArena[n:]
	} else {
		b = make([]byte, n)
	}
	copy(b, d.data[p:])
	return b
}

// allocElems returns a zeroed slice of n elements for a tuple or list.
func (d *decodeState) allocElems(n int) []any {
	if n > len(d.elemArena) {
		// Every element takes at least a byte of input, so a chunk as
		// long as the remaining input is never too small to finish on;
		// cap it so that small terms do not pay for large chunks.
		size := max(n, min(len(d.data)-d.off, 256))
		if n > 256 {
			size = n
		}
		d.elemArena = make([]any, size)
	}
	e := d.elemArena[:n:n]
	d.elemArena = d.elemArena[n:]
	return e
}

// atom decodes the atom at d.off as a boxed Atom, from the cache when it
// can.
func (d *decodeState) atom() any {
	b, latin1 := d.atomBytes()
	if len(b) > maxCachedAtomLen {
		return Atom(atomString(b, latin1))
	}
	if v, ok := d.atoms[string(b)]; ok {
		if !latin1 || isASCII(b) {
			return v
		}
	}
	s := atomString(b, latin1)
	v := any(Atom(s))
	if s == string(b) {
		if d.atoms == nil {
			d.atoms = make(map[string]any, 32)
		}
		if len(d.atoms) >= maxCachedAtoms {
			clear(d.atoms)
		}
		d.atoms[s] = v
	}
	return v
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// atomBytes returns the raw text of the atom at d.off, whether it is
// Latin-1 encoded, and advances past it.
func (d *decodeState) atomBytes() ([]byte, bool) {
	data := d.data
	tag := data[d.off]
	p := d.off + 1
	var n int
	if tag == tagSmallAtom || tag == tagSmallAtomUTF8 {
		n = int(data[p])
		p++
	} else {
		n = int(binary.BigEndian.Uint16(data[p:]))
		p += 2
	}
	d.off = p + n
	return data[p : p+n], tag == tagAtom || tag == tagSmallAtom
}

// atomString converts atom text to a UTF-8 string.
func atomString(b []byte, latin1 bool) string {
	if latin1 {
		for _, c := range b {
			if c >= utf8.RuneSelf {
				return latin1ToUTF8(b)
			}
		}
	}
	return string(b)
}

func latin1ToUTF8(b []byte) string {
	r := make([]byte, 0, 2*len(b))
	for _, c := range b {
		r = utf8.AppendRune(r, rune(c))
	}
	return string(r)
}

// list decodes LIST_EXT at d.off, folding list-valued tails into the
// elements so that [a | "bc"] decodes as the proper list [a, 98, 99].
func (d *decodeState) list() any {
	data := d.data
	n := int(binary.BigEndian.Uint32(data[d.off+1:]))
	d.off += 5
	elems := List(d.allocElems(n))
	for i := range elems {
		elems[i] = d.term()
	}
	for {
		switch data[d.off] {
		case tagNil:
			d.off++
			return elems
		case tagString:
			n := int(binary.BigEndian.Uint16(data[d.off+1:]))
			for _, c := range data[d.off+3 : d.off+3+n] {
				elems = append(elems, int64(c))
			}
			d.off += 3 + n
			return elems
		case tagList:
			n := int(binary.BigEndian.Uint32(data[d.off+1:]))
			d.off += 5
			for i := 0; i < n; i++ {
				elems = append(elems, d.term())
			}
			continue
		}
		tail := d.term()
		if len(elems) == 0 {
			return tail
		}
		return ImproperList{Elems: []any(elems), Tail: tail}
	}
}

// bigInt decodes SMALL_BIG_EXT or LARGE_BIG_EXT at d.off: an int64 when
// the value fits, whatever the encoding's length, else a *big.Int.
func (d *decodeState) bigInt() any {
	i, b := d.bigIntParts()
	if b != nil {
		return b
	}
	return i
}

func (d *decodeState) bigIntParts() (int64, *big.Int) {
	data := d.data
	p := d.off + 1
	var n int
	if data[d.off] == tagSmallBig {
		n = int(data[p])
		p++
	} else {
		n = int(binary.BigEndian.Uint32(data[p:]))
		p += 4
	}
	neg := data[p] == 1
	digits := data[p+1 : p+1+n]
	d.off = p + 1 + n
	// Ignore high-order zero digits: BERT-JS pads small numbers.
	for len(digits) > 0 && digits[len(digits)-1] == 0 {
		digits = digits[:len(digits)-1]
	}
	if len(digits) <= 8 {
		var u uint64
		for i := len(digits) - 1; i >= 0; i-- {
			u = u<<8 | uint64(digits[i])
		}
		if !neg && u <= math.MaxInt64 {
			return int64(u), nil
		}
		if neg && u <= 1<<63 {
			return int64(-u), nil
		}
	}
	be := make([]byte, len(digits))
	for i, c := range digits {
		be[len(be)-1-i] = c
	}
	b := new(big.Int).SetBytes(be)
	if neg {
		b.Neg(b)
	}
	return 0, b
}

// complexTerm converts a decoded {bert, ...} tuple to its Go form when it
// is exactly one of the BERT complex types, so that encoding the result
// gives back the same term. Anything else stays a Tuple.
func complexTerm(t Tuple) (any, bool) {
	kind, ok := t[1].(Atom)
	if !ok {
		return nil, false
	}
	switch {
	case len(t) == 2 && kind == "nil":
		return nil, true
	case len(t) == 2 && kind == "true":
		return true, true
	case len(t) == 2 && kind == "false":
		return false, true
	case len(t) == 3 && kind == "dict":
		l, ok := t[2].(List)
		if !ok {
			return nil, false
		}
		dict := make(Dict, len(l))
		for i, e := range l {
			kv, ok := e.(Tuple)
			if !ok || len(kv) != 2 {
				return nil, false
			}
			dict[i] = Pair{Key: kv[0], Value: kv[1]}
		}
		return dict, true
	case len(t) == 5 && kind == "time":
		mega, ok1 := t[2].(int64)
		sec, ok2 := t[3].(int64)
		micro, ok3 := t[4].(int64)
		if !ok1 || !ok2 || !ok3 || sec < 0 || sec >= 1e6 || micro < 0 || micro >= 1e6 ||
			mega > math.MaxInt64/1000000-1 || mega < math.MinInt64/1000000+1 {
			return nil, false
		}
		return time.Unix(mega*1e6+sec, micro*1e3).UTC(), true
	case len(t) == 4 && kind == "regex":
		src, ok1 := t[2].([]byte)
		opts, ok2 := t[3].(List)
		if !ok1 || !ok2 {
			return nil, false
		}
		return Regex{Source: src, Options: opts}, true
	}
	return nil, false
}
