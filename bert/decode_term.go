package bert

import (
	"encoding/binary"
	"math"
	"math/big"
	"time"
	"unicode/utf8"
)

// This file decodes bytes into the term model (see term.go). Every read
// is bounds-checked, so term can run on unchecked input: Unmarshal into
// an interface does that to save the separate scanning pass, and falls
// back to the scanner only to describe an error. On bad input term sets
// d.bad and returns nil; it never panics.

// Shared values for empty containers, so that decoding [] or {} does not
// allocate. They have length and capacity zero, so no caller can write
// through them.
var (
	emptyList  any = List{}
	emptyTuple any = Tuple{}
)

// fail marks the input bad and moves to its end, so that every later
// read fails too.
func (d *decodeState) fail() any {
	d.bad = true
	d.off = len(d.data)
	return nil
}

// claim records that a container at p holds n more terms, each of at
// least one byte. It fails if the terms that open containers still owe
// and these n cannot fit in the bytes from p on: that bounds what
// decoding allocates by the input's size even before the input has been
// checked, however the containers nest.
func (d *decodeState) claim(p int, n uint64) bool {
	if !d.fits(p, uint64(d.pending)+n) {
		return false
	}
	d.pending += int(n)
	return true
}

// fits reports whether n more bytes are there at p.
func (d *decodeState) fits(p int, n uint64) bool {
	return p <= len(d.data) && n <= uint64(len(d.data)-p)
}

// term decodes the term at d.off into the term model.
func (d *decodeState) term() any {
	data := d.data
	off := d.off
	if off >= len(data) {
		return d.fail()
	}
	tag := data[off]
	p := off + 1
	switch tag {
	case tagSmallInt:
		if !d.fits(p, 1) {
			return d.fail()
		}
		d.off = p + 1
		return int64(data[p])
	case tagInt:
		if !d.fits(p, 4) {
			return d.fail()
		}
		d.off = p + 4
		return d.boxInt(int64(int32(binary.BigEndian.Uint32(data[p:]))))
	case tagNewFloat:
		if !d.fits(p, 8) {
			return d.fail()
		}
		f := math.Float64frombits(binary.BigEndian.Uint64(data[p:]))
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return d.fail()
		}
		d.off = p + 8
		return d.boxFloat(f)
	case tagFloat:
		end := floatExtEnd(data, p)
		f, ok := parseFloatExt(data[p:end])
		if !ok {
			return d.fail()
		}
		d.off = end
		return d.boxFloat(f)
	case tagSmallAtomUTF8, tagSmallAtom:
		if p >= len(data) {
			return d.fail()
		}
		n := int(data[p])
		p++
		if n > len(data)-p {
			return d.fail()
		}
		d.off = p + n
		return d.atomOf(data[p:p+n], tag == tagSmallAtom)
	case tagAtomUTF8, tagAtom:
		if !d.fits(p, 2) {
			return d.fail()
		}
		n := int(binary.BigEndian.Uint16(data[p:]))
		p += 2
		if n > len(data)-p {
			return d.fail()
		}
		d.off = p + n
		return d.atomOf(data[p:p+n], tag == tagAtom)
	case tagSmallTuple, tagLargeTuple:
		var n uint64
		if tag == tagSmallTuple {
			if !d.fits(p, 1) {
				return d.fail()
			}
			n = uint64(data[p])
			p++
		} else {
			if !d.fits(p, 4) {
				return d.fail()
			}
			n = uint64(binary.BigEndian.Uint32(data[p:]))
			p += 4
		}
		if !d.claim(p, n) {
			return d.fail()
		}
		d.off = p
		if n == 0 {
			return emptyTuple
		}
		if d.depth >= d.maxDepth {
			return d.fail()
		}
		// {bert, ...} may be a BERT complex type; {bert, nil | true |
		// false} is decoded without building the tuple.
		bert := false
		if n >= 2 && n <= 5 {
			if e := d.bertAtomEnd(p); e != 0 {
				if n == 2 {
					if v, ok := d.bertConst(e); ok {
						d.pending -= 2
						return v
					}
				}
				bert = true
			}
		}
		d.depth++
		t := Tuple(d.allocElems(int(n)))
		for i := range t {
			d.pending--
			t[i] = d.term()
		}
		d.depth--
		if d.bad {
			return nil
		}
		if bert {
			if v, ok := complexTerm(t); ok {
				return v
			}
		}
		return d.boxTuple(t)
	case tagNil:
		d.off = p
		return emptyList
	case tagString:
		if !d.fits(p, 2) {
			return d.fail()
		}
		n := int(binary.BigEndian.Uint16(data[p:]))
		if !d.fits(p+2, uint64(n)) {
			return d.fail()
		}
		d.off = p + 2 + n
		return d.boxByteList(d.bytes(p+2, n))
	case tagList:
		return d.list()
	case tagBinary:
		if !d.fits(p, 4) {
			return d.fail()
		}
		n := uint64(binary.BigEndian.Uint32(data[p:]))
		if !d.fits(p+4, n) {
			return d.fail()
		}
		d.off = p + 4 + int(n)
		return d.boxBinary(d.bytes(p+4, int(n)))
	case tagBitBinary:
		if !d.fits(p, 5) {
			return d.fail()
		}
		n := uint64(binary.BigEndian.Uint32(data[p:]))
		bits := data[p+4]
		if !d.fits(p+5, n) || n == 0 || bits == 0 || bits > 8 {
			return d.fail()
		}
		d.off = p + 5 + int(n)
		b := make([]byte, n)
		copy(b, data[p+5:])
		if bits == 8 {
			return b
		}
		b[n-1] &^= byte(0xff) >> bits
		return BitBinary{Data: b, Bits: bits}
	case tagSmallBig, tagLargeBig:
		i, b, ok := d.bigIntParts()
		if !ok {
			return d.fail()
		}
		if b != nil {
			return b
		}
		return d.boxInt(i)
	case tagMap:
		if !d.fits(p, 4) {
			return d.fail()
		}
		n := uint64(binary.BigEndian.Uint32(data[p:]))
		if !d.claim(p+4, 2*n) {
			return d.fail()
		}
		d.off = p + 4
		if n > 0 && d.depth >= d.maxDepth {
			return d.fail()
		}
		d.depth++
		m := make(Map, n)
		for i := range m {
			d.pending -= 2
			m[i].Key = d.term()
			m[i].Value = d.term()
		}
		d.depth--
		if d.bad {
			return nil
		}
		return m
	}
	return d.fail()
}

// bertAtomEnd returns the offset just past the term at p if it is the
// atom bert, else 0.
func (d *decodeState) bertAtomEnd(p int) int {
	data := d.data
	if p < 0 || p >= len(data) {
		return 0
	}
	switch data[p] {
	case tagSmallAtomUTF8, tagSmallAtom:
		if len(data)-p >= 6 && data[p+1] == 4 && string(data[p+2:p+6]) == "bert" {
			return p + 6
		}
	case tagAtomUTF8, tagAtom:
		if len(data)-p >= 7 && data[p+1] == 0 && data[p+2] == 4 && string(data[p+3:p+7]) == "bert" {
			return p + 7
		}
	}
	return 0
}

// bertConst decodes the 2-tuple at d.off, whose first element (the atom
// bert) ends at e, if it is {bert, nil}, {bert, true} or {bert, false},
// and moves past it; otherwise it leaves d.off alone.
func (d *decodeState) bertConst(e int) (any, bool) {
	save := d.off
	d.off = e
	if !d.isAtom() {
		d.off = save
		return nil, false
	}
	b, _, ok := d.atomBytes()
	if ok {
		switch string(b) {
		case "nil":
			return nil, true
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	d.off = save
	return nil, false
}

// bytes returns n bytes at p: a copy, or a sub-slice of the input when
// zero-copy decoding is on.
func (d *decodeState) bytes(p, n int) []byte {
	if d.zeroCopy {
		return d.data[p : p+n : p+n]
	}
	if n == 0 {
		return []byte{}
	}
	if n > smallBinary {
		// append, unlike make and copy, does not clear memory it is
		// about to overwrite.
		return append([]byte(nil), d.data[p:p+n]...)
	}
	// Each binary is at least as long in the input, so the raw chunk
	// never exceeds the input that remains (see rawWords).
	b := d.rawBytes(n)
	copy(b, d.data[p:])
	return b
}

// allocElems returns a zeroed slice of n elements for a tuple or list.
func (d *decodeState) allocElems(n int) []any {
	if n > len(d.elemArena) {
		// A chunk holds what the rest of a small term typically needs
		// (an element per 6 bytes), at most 256 elements; a container
		// with more elements gets a chunk of its own. Either way no
		// more than the remaining input could fill.
		size := n
		if n <= 256 {
			size = max(n, d.slabSize(6))
		}
		d.elemArena = fullCap(append([]any(nil), make([]any, size)...))
	}
	e := d.elemArena[:n:n]
	d.elemArena = d.elemArena[n:]
	return e
}

// slabSize returns the length of a new slab chunk for values that take
// typically per bytes of input each: enough for the rest of a small term
// in one chunk, at most 256, and never more than the remaining input
// could fill, so that memory stays proportional to the input.
func (d *decodeState) slabSize(per int) int {
	return min(256, (len(d.data)-d.off)/per+1)
}

// fullCap returns s extended to its capacity. Chunks are allocated with
// append, which rounds their capacity up to what the allocation really
// holds (its size class), so that no memory goes unused.
func fullCap[T any](s []T) []T { return s[:cap(s)] }

// atomOf returns atom text b (Latin-1 if latin1, else UTF-8) as a boxed
// Atom, from the cache when it can.
func (d *decodeState) atomOf(b []byte, latin1 bool) any {
	var slot *atomSlot
	if len(b) <= maxCachedAtomLen && (!latin1 || isASCII(b)) {
		// Only valid UTF-8 is ever cached, so a hit needs no check.
		slot = &d.atoms[atomHash(b)]
		if slot.text == string(b) && slot.v != nil {
			return slot.v
		}
	}
	if !latin1 && !utf8.Valid(b) {
		return d.fail()
	}
	s := atomString(b, latin1)
	v := any(Atom(s))
	if slot != nil {
		slot.text, slot.v = s, v
	}
	return v
}

// atomSlot is one entry of the atom cache.
type atomSlot struct {
	text string
	v    any // Atom(text), boxed
}

// atomHash picks the cache slot for atom text b.
func atomHash(b []byte) uint8 {
	if len(b) == 0 {
		return 0
	}
	return uint8(uint(len(b))*31 + uint(b[0])*7 + uint(b[len(b)/2])*3 + uint(b[len(b)-1]))
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
// Latin-1 encoded, and advances past it. ok is false (and d.off
// unchanged) if the atom runs past the input.
func (d *decodeState) atomBytes() (b []byte, latin1, ok bool) {
	data := d.data
	tag := data[d.off]
	p := d.off + 1
	var n int
	if tag == tagSmallAtom || tag == tagSmallAtomUTF8 {
		if !d.fits(p, 1) {
			return nil, false, false
		}
		n = int(data[p])
		p++
	} else {
		if !d.fits(p, 2) {
			return nil, false, false
		}
		n = int(binary.BigEndian.Uint16(data[p:]))
		p += 2
	}
	if !d.fits(p, uint64(n)) {
		return nil, false, false
	}
	d.off = p + n
	return data[p : p+n], tag == tagAtom || tag == tagSmallAtom, true
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
	p := d.off + 1
	if !d.fits(p, 4) {
		return d.fail()
	}
	n := uint64(binary.BigEndian.Uint32(data[p:]))
	p += 4
	// n elements and the tail.
	if !d.claim(p, n+1) || d.depth >= d.maxDepth {
		return d.fail()
	}
	d.off = p
	d.depth++
	elems := List(d.allocElems(int(n)))
	for i := range elems {
		d.pending--
		elems[i] = d.term()
	}
	for {
		if d.bad || d.off >= len(data) {
			return d.fail()
		}
		d.pending-- // the tail
		switch data[d.off] {
		case tagNil:
			d.off++
			d.depth--
			return d.boxList(elems)
		case tagString:
			p := d.off + 1
			if !d.fits(p, 2) {
				return d.fail()
			}
			n := int(binary.BigEndian.Uint16(data[p:]))
			if !d.fits(p+2, uint64(n)) {
				return d.fail()
			}
			for _, c := range data[p+2 : p+2+n] {
				elems = append(elems, int64(c))
			}
			d.off = p + 2 + n
			d.depth--
			return d.boxList(elems)
		case tagList:
			p := d.off + 1
			if !d.fits(p, 4) {
				return d.fail()
			}
			n := uint64(binary.BigEndian.Uint32(data[p:]))
			if !d.claim(p+4, n+1) {
				return d.fail()
			}
			d.off = p + 4
			for i := uint64(0); i < n; i++ {
				d.pending--
				elems = append(elems, d.term())
			}
			continue
		}
		// The tail is at the list's own depth, as the scanner sees it.
		d.depth--
		tail := d.term()
		if d.bad {
			return nil
		}
		if len(elems) == 0 {
			return tail
		}
		return ImproperList{Elems: []any(elems), Tail: tail}
	}
}

// bigIntParts decodes SMALL_BIG_EXT or LARGE_BIG_EXT at d.off: an int64
// when the value fits, whatever the encoding's length, else a *big.Int.
// ok is false if the input is malformed.
func (d *decodeState) bigIntParts() (i int64, b *big.Int, ok bool) {
	data := d.data
	p := d.off + 1
	var n uint64
	if data[d.off] == tagSmallBig {
		if !d.fits(p, 1) {
			return 0, nil, false
		}
		n = uint64(data[p])
		p++
	} else {
		if !d.fits(p, 4) {
			return 0, nil, false
		}
		n = uint64(binary.BigEndian.Uint32(data[p:]))
		p += 4
	}
	if !d.fits(p, n+1) || data[p] > 1 {
		return 0, nil, false
	}
	neg := data[p] == 1
	digits := data[p+1 : p+1+int(n)]
	d.off = p + 1 + int(n)
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
			return int64(u), nil, true
		}
		if neg && u <= 1<<63 {
			return int64(-u), nil, true
		}
	}
	be := make([]byte, len(digits))
	for i, c := range digits {
		be[len(be)-1-i] = c
	}
	b = new(big.Int).SetBytes(be)
	if neg {
		b.Neg(b)
	}
	return 0, b, true
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
