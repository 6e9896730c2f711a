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
//   - hdrSlab holds slice headers: those of Tuple, List, []byte and
//     ByteList. All four are a pointer, a length and a capacity, laid out
//     alike, and the garbage collector finds what a slice header points to
//     from the pointer alone (the pointee's own allocation says how to scan
//     it), so a []byte header may live in a [][]any slot.
//   - raw holds what has no pointers: boxed int64 and float64 (as their
//     bits) and the bytes of small binaries, each starting on a word.
//
// For the seed's sync request this turns twenty-odd allocations into
// three: the elements, the headers and the raw words.
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
	int64Type_    = typeWord(int64(0))
	float64Type_  = typeWord(float64(0))
)

// The slab layouts the boxing relies on.
var _ = [1]struct{}{}[unsafe.Sizeof([]any(nil))-unsafe.Sizeof([]byte(nil))]

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
	if len(d.hdrSlab) == 0 {
		d.newHdrChunk()
	}
	p := &d.hdrSlab[0]
	d.hdrSlab = d.hdrSlab[1:]
	return p
}

// newHdrChunk allocates a chunk of header slots. Containers and binaries
// take about 10 bytes of input each in typical terms (a proplist entry
// {key, <<"value">>} has two headers in some 20 bytes), and each
// container still open needs one when it closes: the first header of a
// term is boxed only once its first innermost container is done, when
// the containers around it are still to come. Every open container has
// taken at least two bytes of input, so this stays proportional to the
// input.
func (d *decodeState) newHdrChunk() {
	d.hdrSlab = fullCap(append([][]any(nil), make([][]any, min(maxHdrChunk, d.depth+(len(d.data)-d.off)/10+1))...))
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

// rawWords returns n fresh words from the raw slab. A new chunk holds at
// least n words and what the rest of a small term typically needs (a
// word per 16 bytes of input), at most maxRawChunk words unless n is
// more; either way no more than twice the input that remains, since every
// word comes from at least four bytes of input (an int, a float, or up to
// eight bytes of a binary with its five-byte header).
func (d *decodeState) rawWords(n int) []uint64 {
	if n > len(d.raw) {
		d.raw = fullCap(append([]uint64(nil), make([]uint64, max(n, min(maxRawChunk, (len(d.data)-d.off)/16+1)))...))
	}
	w := d.raw[:n:n]
	d.raw = d.raw[n:]
	return w
}

func (d *decodeState) boxInt(i int64) any {
	if i >= 0 && i < 256 {
		return i // the runtime boxes these without allocating
	}
	w := &d.rawWords(1)[0]
	*w = uint64(i)
	return box(int64Type_, unsafe.Pointer(w))
}

func (d *decodeState) boxFloat(f float64) any {
	w := &d.rawWords(1)[0]
	*(*float64)(unsafe.Pointer(w)) = f
	return box(float64Type_, unsafe.Pointer(w))
}

// rawBytes returns n bytes (0 < n <= smallBinary) from the raw slab, with
// capacity n.
func (d *decodeState) rawBytes(n int) []byte {
	w := d.rawWords((n + 7) / 8)
	return unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), n)
}
