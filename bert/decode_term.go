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
//
// Memory is allocated as the term is read, before the rest of it has
// been checked, so every container first claims its elements against
// the bytes that remain (see claim), and every chunk the values are
// carved from is bounded by the input that remains. The chunks are
// sized from what the previous term of about the same length needed
// (see termNeeds), so that a stream of similar messages, which is what a
// server reads, takes one allocation of each kind per message with
// nothing left over: the bytes a decode allocates, all of them garbage
// soon after, are what most of its cost grows with.

// Shared values for empty containers and binaries, so that decoding
// them does not allocate. They have length and capacity zero, so no
// caller can write through them.
var (
	emptyList     any = List{}
	emptyTuple    any = Tuple{}
	emptyMap      any = Map{}
	emptyBinary   any = []byte{}
	emptyByteList any = ByteList{}
)

// smallIntBoxes holds the integers 0..255 as interface values, which the
// runtime boxes without allocating, so that the decoder's loops can load
// them instead of converting.
var smallIntBoxes = func() (t [256]any) {
	for i := range t {
		t[i] = int64(i)
	}
	return
}()

// maxSharedElems is the largest container whose elements come from a
// shared chunk; a larger one gets an allocation of its own, exactly its
// size, so that keeping one small container alive keeps at most one
// chunk of elements (4 KiB) alive.
const (
	maxSharedElems = 256
	maxElemChunk   = 256
)

// termNeeds counts what building a term takes from the chunks: elements
// of containers of at most maxSharedElems (two per map pair), boxed
// slice headers (tuples, lists, maps, binaries, byte lists) and raw words
// (boxed numbers and the bytes of small binaries).
type termNeeds struct {
	elems, hdrs, words int
}

// needsHint is what the last term a decodeState decoded took, and its
// length, from which the next term's chunks are sized.
type needsHint struct {
	size  int
	needs termNeeds
}

// startTerm prepares the chunk sizing for a term of n bytes: the needs
// of the last one, scaled to n, if it was at least half and at most
// twice as long.
func (d *decodeState) startTerm(n int) {
	d.used = termNeeds{}
	d.need = termNeeds{}
	h := &d.hint
	if h.size == 0 || n < h.size/2 || n > 2*h.size {
		return
	}
	// In 64 bits, since x*n need not fit an int; a hint beyond a chunk's
	// size only needs to say "more than a chunk".
	scale := func(x int) int { return int(min((int64(x)*int64(n)+int64(h.size)-1)/int64(h.size), 1<<20)) }
	d.need = termNeeds{scale(h.needs.elems), scale(h.needs.hdrs), scale(h.needs.words)}
}

// endTerm records what the term of n bytes just decoded took: what it
// took from the chunks it used up (counted when they were replaced) and
// from the current ones. It must come before the chunks are dropped.
func (d *decodeState) endTerm(n int) {
	u := d.used
	u.elems += d.elemNext
	u.hdrs += d.hdrNext
	u.words += d.rawNext
	d.hint = needsHint{size: n, needs: u}
}

// chunkSize returns the size of a new chunk for at least n values of one
// kind: what the hint says the rest of the term takes (need), or failing
// a hint the guess of one value per guess bytes of the input that
// remains, plus extra; at most limit, and never more than one value per
// per bytes remaining plus extra, so that what a chunk the term does not
// fill wastes stays a small multiple of the input, whatever the hint
// says. (What the term really takes is bounded by its claims; see
// claim.)
func (d *decodeState) chunkSize(n, need, guess, per, extra, limit int) int {
	rem := len(d.data) - d.off
	size := need
	if size <= 0 {
		size = rem/guess + 1 + extra
	}
	return max(n, min(size, limit, rem/per+1+extra))
}

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
		return smallIntBoxes[data[p]]
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
		if n >= 2 && n <= 5 && len(data)-p > 6 && (data[p+1] == 4 || data[p+2] == 4) && bertAtomEnd(data, p) != 0 {
			if n == 2 {
				if v, end, ok := d.bertConst(p); ok {
					d.pending -= 2
					d.off = end
					return v
				}
			}
			bert = true
		}
		d.depth++
		t := Tuple(d.elems(int(n)))
		d.fill(t)
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
		if n == 0 {
			return emptyByteList
		}
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
		if n == 0 {
			return emptyBinary
		}
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
			return d.boxBinary(b)
		}
		b[n-1] &^= byte(0xff) >> bits
		return BitBinary{Data: b, Bits: bits}
	case tagSmallBig, tagLargeBig:
		i, fits, end := bigAt(data, off)
		if end < 0 {
			return d.fail()
		}
		if fits {
			d.off = end
			return d.boxInt(i)
		}
		b := bigFrom(data, off)
		d.off = end
		return b
	case tagMap:
		if !d.fits(p, 4) {
			return d.fail()
		}
		n := uint64(binary.BigEndian.Uint32(data[p:]))
		if !d.claim(p+4, 2*n) {
			return d.fail()
		}
		d.off = p + 4
		if n == 0 {
			return emptyMap
		}
		if d.depth >= d.maxDepth {
			return d.fail()
		}
		d.depth++
		m := d.mapPairs(int(n))
		for i := range m {
			d.pending -= 2
			m[i].Key = d.term()
			m[i].Value = d.term()
		}
		d.depth--
		if d.bad {
			return nil
		}
		return d.boxMap(m)
	}
	return d.fail()
}

// fill decodes len(elems) terms from d.off into elems, for a container
// that has claimed them. Small integers, which lists of numbers are made
// of, are decoded here without a call.
func (d *decodeState) fill(elems []any) {
	data := d.data
	off := d.off
	for i := range elems {
		d.pending--
		if off < len(data) {
			switch data[off] {
			case tagSmallInt:
				if len(data)-off >= 2 {
					elems[i] = smallIntBoxes[data[off+1]]
					off += 2
					continue
				}
			case tagInt:
				if len(data)-off >= 5 {
					elems[i] = d.boxInt(int64(int32(binary.BigEndian.Uint32(data[off+1:]))))
					off += 5
					continue
				}
			case tagSmallAtomUTF8, tagSmallAtom:
				// The keys of proplists and the tags of tuples.
				if len(data)-off >= 2 {
					if n := int(data[off+1]); n <= len(data)-off-2 {
						elems[i] = d.atomOf(data[off+2:off+2+n], data[off] == tagSmallAtom)
						off += 2 + n
						if d.bad {
							off = len(data)
						}
						continue
					}
				}
			}
		}
		d.off = off
		elems[i] = d.term()
		off = d.off
	}
	d.off = off
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
	var elems []any
	if n > 0 {
		elems = d.elems(int(n))
		d.fill(elems)
	}
	for {
		if d.bad || d.off >= len(data) {
			return d.fail()
		}
		d.pending-- // the tail
		switch data[d.off] {
		case tagNil:
			d.off++
		case tagString:
			p := d.off + 1
			if !d.fits(p, 2) {
				return d.fail()
			}
			n := int(binary.BigEndian.Uint16(data[p:]))
			if !d.fits(p+2, uint64(n)) {
				return d.fail()
			}
			// The carved elements have their capacity cut to their
			// length, so growing them reallocates.
			for _, c := range data[p+2 : p+2+n] {
				elems = append(elems, smallIntBoxes[c])
			}
			d.off = p + 2 + n
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
			start := len(elems)
			elems = append(elems, make([]any, n)...)
			d.fill(elems[start:])
			continue
		default:
			// The tail is at the list's own depth, as the scanner sees
			// it.
			d.depth--
			tail := d.term()
			if d.bad {
				return nil
			}
			if len(elems) == 0 {
				return tail
			}
			return ImproperList{Elems: elems, Tail: tail}
		}
		d.depth--
		if len(elems) == 0 {
			return emptyList
		}
		return d.boxList(elems)
	}
}

// elems returns a zeroed slice of n elements for a tuple, list or map.
func (d *decodeState) elems(n int) []any {
	if i := d.elemNext; n <= len(d.elemArena)-i {
		d.elemNext = i + n
		return d.elemArena[i : i+n : i+n]
	}
	if n > maxSharedElems {
		return make([]any, n)
	}
	d.newElemChunk(n)
	d.elemNext = n
	return d.elemArena[:n:n]
}

// newElemChunk allocates a chunk of at least n elements (see chunkSize:
// without a hint, an element per 6 bytes of input is typical; with one,
// the chunk holds at most an element per 4 bytes, so that a term the
// hint does not fit wastes little).
func (d *decodeState) newElemChunk(n int) {
	n = d.chunkSize(n, d.need.elems, 6, 4, 0, maxElemChunk)
	d.need.elems -= n
	d.used.elems += d.elemNext
	// Chunks are allocated with append, which rounds their capacity up
	// to what the allocation really holds (its size class), so that no
	// memory goes unused.
	d.elemArena = fullCap(append([]any(nil), make([]any, n)...))
	d.elemNext = 0
}

// bertAtomEnd returns the offset just past the term at p if it is the
// atom bert, else 0.
func bertAtomEnd(data []byte, p int) int {
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

// bertConst reports whether the elements of a 2-tuple, from p on, are
// the atom bert and one of nil, true and false, and if so returns the
// value {bert, nil}, {bert, true} or {bert, false} stands for and the
// offset just past the tuple. It checks bounds, so it runs on unchecked
// input too.
func (d *decodeState) bertConst(p int) (v any, end int, ok bool) {
	data := d.data
	e := bertAtomEnd(data, p)
	if e == 0 || e >= len(data) {
		return nil, 0, false
	}
	var b []byte
	switch data[e] {
	case tagSmallAtomUTF8, tagSmallAtom:
		if len(data)-e < 2 || int(data[e+1]) > len(data)-e-2 {
			return nil, 0, false
		}
		end = e + 2 + int(data[e+1])
		b = data[e+2 : end]
	case tagAtomUTF8, tagAtom:
		if len(data)-e < 3 {
			return nil, 0, false
		}
		n := int(binary.BigEndian.Uint16(data[e+1:]))
		if n > len(data)-e-3 {
			return nil, 0, false
		}
		end = e + 3 + n
		b = data[e+3 : end]
	default:
		return nil, 0, false
	}
	switch string(b) {
	case "nil":
		return nil, end, true
	case "true":
		return true, end, true
	case "false":
		return false, end, true
	}
	return nil, 0, false
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
	b := d.rawBytes(n)
	copy(b, d.data[p:])
	return b
}

// fullCap returns s extended to its capacity.
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
	return string(appendLatin1(make([]byte, 0, 2*len(b)), b))
}

// appendLatin1 appends Latin-1 text b to dst as UTF-8.
func appendLatin1(dst, b []byte) []byte {
	for _, c := range b {
		dst = utf8.AppendRune(dst, rune(c))
	}
	return dst
}

// bigAt reads the SMALL_BIG_EXT or LARGE_BIG_EXT at off: its value if it
// fits an int64 (fits), and the offset just past it, or -1 if it runs
// past data or its sign byte is not 0 or 1. It ignores high-order zero
// digits: BERT-JS pads small numbers.
func bigAt(data []byte, off int) (i int64, fits bool, end int) {
	p := off + 1
	var n uint64
	if data[off] == tagSmallBig {
		if p >= len(data) {
			return 0, false, -1
		}
		n = uint64(data[p])
		p++
	} else {
		if len(data)-p < 4 {
			return 0, false, -1
		}
		n = uint64(binary.BigEndian.Uint32(data[p:]))
		p += 4
	}
	// A sign byte and n digits.
	if n >= uint64(len(data)-p) || data[p] > 1 {
		return 0, false, -1
	}
	neg := data[p] == 1
	digits := data[p+1 : p+1+int(n)]
	end = p + 1 + int(n)
	for len(digits) > 0 && digits[len(digits)-1] == 0 {
		digits = digits[:len(digits)-1]
	}
	if len(digits) > 8 {
		return 0, false, end
	}
	var u uint64
	for i := len(digits) - 1; i >= 0; i-- {
		u = u<<8 | uint64(digits[i])
	}
	switch {
	case !neg && u <= math.MaxInt64:
		i = int64(u)
	case neg && u <= 1<<63:
		i = int64(-u)
	default:
		return 0, false, end
	}
	return i, true, end
}

// bigFrom returns the SMALL_BIG_EXT or LARGE_BIG_EXT at off, which bigAt
// has accepted, as a *big.Int.
func bigFrom(data []byte, off int) *big.Int {
	p := off + 1
	var n int
	if data[off] == tagSmallBig {
		n = int(data[p])
		p++
	} else {
		n = int(binary.BigEndian.Uint32(data[p:]))
		p += 4
	}
	neg := data[p] == 1
	digits := data[p+1 : p+1+n]
	be := make([]byte, len(digits))
	for i, c := range digits {
		be[len(be)-1-i] = c
	}
	b := new(big.Int).SetBytes(be)
	if neg {
		b.Neg(b)
	}
	return b
}

// bigIntParts decodes SMALL_BIG_EXT or LARGE_BIG_EXT at d.off, which
// must be well formed: an int64 when the value fits, whatever the
// encoding's length, else a *big.Int.
func (d *decodeState) bigIntParts() (i int64, b *big.Int) {
	i, fits, end := bigAt(d.data, d.off)
	if !fits {
		b = bigFrom(d.data, d.off)
	}
	d.off = end
	return i, b
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
		if !ok1 || !ok2 || !ok3 {
			return nil, false
		}
		if tm, ok := bertTime(mega, sec, micro); ok {
			return tm, true
		}
		return nil, false
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

// bertTime returns the time {bert, time, Mega, Sec, Micro} stands for, if
// its parts are in range.
func bertTime(mega, sec, micro int64) (time.Time, bool) {
	if sec < 0 || sec >= 1e6 || micro < 0 || micro >= 1e6 ||
		mega > math.MaxInt64/1000000-1 || mega < math.MinInt64/1000000+1 {
		return time.Time{}, false
	}
	return time.Unix(mega*1e6+sec, micro*1e3).UTC(), true
}
