//go:build !purego

package bert

import "unsafe"

// This file boxes decoded values into interfaces without one heap
// allocation per value. Converting a slice header, an int64 or a float64
// to an interface normally allocates a copy of it; here the copies are
// carved from slabs that the decodeState allocates in chunks, and the
// interface is pointed at its slab slot. That is exactly the
// representation the runtime itself builds (an interface holding a
// non-pointer value points to an immutable copy of it), so the result is
// an ordinary interface value: the garbage collector follows the pointer
// into the slab like any interior pointer, and no slot is written after
// it is boxed.
//
// There are two slabs, so that one decode of a small term allocates
// little besides its elements:
//
//   - hdrSlab holds slice headers: those of Tuple, List, Map, []byte and
//     ByteList. All five are a pointer, a length and a capacity, laid out
//     alike, and the garbage collector finds what a slice header points to
//     from the pointer alone (the pointee's own allocation says how to scan
//     it), so a []byte header may live in a [][]any slot.
//   - raw holds what has no pointers: boxed int64 and float64 (as their
//     bits) and the bytes of small binaries, each starting on a word.
//
// A Map's pairs are carved from the elements: a Pair is two interface
// values, laid out as two elements are.
//
// For the seed's sync request this turns twenty-odd allocations into
// three: the elements, the headers and the raw words, each of the size
// the request needs (see chunkSize in decode_term.go).
//
// Built with the purego tag, box_purego.go replaces this file with plain
// conversions, for platforms and checkers that refuse package unsafe.

// eface is the layout of an empty interface.
type eface struct {
	typ  unsafe.Pointer
	data unsafe.Pointer
}

func typeWord(v any) unsafe.Pointer { return (*eface)(unsafe.Pointer(&v)).typ }

var (
	tupleType_    = typeWord(Tuple(nil))
	listType_     = typeWord(List(nil))
	bytesType_    = typeWord([]byte(nil))
	byteListType_ = typeWord(ByteList(nil))
	mapType_      = typeWord(Map(nil))
	int64Type_    = typeWord(int64(0))
	float64Type_  = typeWord(float64(0))
)

// The layouts the boxing relies on: every slice header is alike, and a
// Pair is two elements.
var (
	_ = [1]struct{}{}[unsafe.Sizeof([]any(nil))-unsafe.Sizeof([]byte(nil))]
	_ = [1]struct{}{}[unsafe.Sizeof(Pair{})-2*unsafe.Sizeof(any(nil))]
	_ = [1]struct{}{}[unsafe.Offsetof(Pair{}.Value)-unsafe.Sizeof(any(nil))]
)

// box makes an interface of dynamic type typ whose value is *p.
func box(typ, p unsafe.Pointer) any {
	var v any
	e := (*eface)(unsafe.Pointer(&v))
	e.typ, e.data = typ, p
	return v
}

// Bounds on slab chunks: values boxed in one chunk keep the whole chunk
// alive, so chunks stay small.
const (
	maxHdrChunk = 256 // slice headers (6 KiB)
	maxRawChunk = 256 // words (2 KiB)
)

// hdrSlot returns a fresh slot for a slice header.
func (d *decodeState) hdrSlot() *[]any {
	if i := d.hdrNext; i < len(d.hdrSlab) {
		d.hdrNext = i + 1
		return &d.hdrSlab[i]
	}
	return d.newHdrChunk()
}

// newHdrChunk allocates a chunk of header slots (see chunkSize) and
// returns its first slot. Without a hint, containers and binaries take
// about 10 bytes of input each in typical terms (a proplist entry {key,
// <<"value">>} has two headers in some 20 bytes); with one, the chunk
// holds at most one per 8 bytes. Either way it has room for the
// containers still open, which need their headers when they close: the
// first header of a term is boxed only once its first innermost
// container is done, when the containers around it are still to come.
func (d *decodeState) newHdrChunk() *[]any {
	n := d.chunkSize(1, d.need.hdrs, 10, 8, d.depth, maxHdrChunk)
	d.need.hdrs -= n
	d.used.hdrs += d.hdrNext
	d.hdrSlab = fullCap(append([][]any(nil), make([][]any, n)...))
	d.hdrNext = 1
	return &d.hdrSlab[0]
}

func (d *decodeState) boxTuple(t Tuple) any {
	p := d.hdrSlot()
	*p = t
	return box(tupleType_, unsafe.Pointer(p))
}

func (d *decodeState) boxList(l List) any {
	p := d.hdrSlot()
	*p = l
	return box(listType_, unsafe.Pointer(p))
}

func (d *decodeState) boxMap(m Map) any {
	p := d.hdrSlot()
	// Same layout as a slice header of any element type.
	*(*Map)(unsafe.Pointer(p)) = m
	return box(mapType_, unsafe.Pointer(p))
}

// mapPairs returns n zeroed pairs for a map, carved from the elements: a
// Pair is two interface values, laid out as two elements are.
func (d *decodeState) mapPairs(n int) Map {
	e := d.elems(2 * n)
	return unsafe.Slice((*Pair)(unsafe.Pointer(&e[0])), n)
}

func (d *decodeState) boxBinary(b []byte) any {
	return d.boxBytes(b, bytesType_)
}

func (d *decodeState) boxByteList(b []byte) any {
	return d.boxBytes(b, byteListType_)
}

// boxBytes boxes b as a []byte or a ByteList (typ).
func (d *decodeState) boxBytes(b []byte, typ unsafe.Pointer) any {
	p := d.hdrSlot()
	// Same layout (checked above); the store has the write barrier of a
	// []byte store.
	*(*[]byte)(unsafe.Pointer(p)) = b
	return box(typ, unsafe.Pointer(p))
}

// rawWords returns n fresh words from the raw slab.
func (d *decodeState) rawWords(n int) []uint64 {
	if n > len(d.raw)-d.rawNext {
		d.newRawChunk(n)
	}
	w := d.raw[d.rawNext : d.rawNext+n : d.rawNext+n]
	d.rawNext += n
	return w
}

// rawWord returns one fresh word from the raw slab.
func (d *decodeState) rawWord() *uint64 {
	if i := d.rawNext; i < len(d.raw) {
		d.rawNext = i + 1
		return &d.raw[i]
	}
	d.newRawChunk(1)
	d.rawNext = 1
	return &d.raw[0]
}

// newRawChunk allocates a chunk of at least n raw words (see chunkSize):
// without a hint a word per 16 bytes of input, which is typical, and with
// one at most a word per 4 bytes, which is what every word takes at
// least (an int, a float, or up to eight bytes of a binary with its
// five-byte header).
func (d *decodeState) newRawChunk(n int) {
	n = d.chunkSize(n, d.need.words, 16, 4, 0, maxRawChunk)
	d.need.words -= n
	d.used.words += d.rawNext
	d.raw = fullCap(append([]uint64(nil), make([]uint64, n)...))
	d.rawNext = 0
}

func (d *decodeState) boxInt(i int64) any {
	if uint64(i) < 256 {
		return smallIntBoxes[i]
	}
	w := d.rawWord()
	*w = uint64(i)
	return box(int64Type_, unsafe.Pointer(w))
}

func (d *decodeState) boxFloat(f float64) any {
	w := d.rawWord()
	*(*float64)(unsafe.Pointer(w)) = f
	return box(float64Type_, unsafe.Pointer(w))
}

// rawBytes returns n bytes (0 < n <= smallBinary) from the raw slab, with
// capacity n.
func (d *decodeState) rawBytes(n int) []byte {
	w := d.rawWords((n + 7) / 8)
	return unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), n)
}
