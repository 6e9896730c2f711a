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
// it is boxed. For the seed's sync request this turns twenty-odd
// allocations into a handful.

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

// box makes an interface of dynamic type typ whose value is *p.
func box(typ, p unsafe.Pointer) any {
	var v any
	e := (*eface)(unsafe.Pointer(&v))
	e.typ, e.data = typ, p
	return v
}

// slabSize returns the length of a new slab chunk for values that take
// typically per bytes of input each: enough for the rest of a small term
// in one chunk, at most 256, and never more than the remaining input
// could fill, so that memory stays proportional to the input.
func (d *decodeState) slabSize(per int) int {
	return min(256, (len(d.data)-d.off)/per+1)
}

func (d *decodeState) boxTuple(t Tuple) any {
	if len(d.tupleSlab) == 0 {
		d.tupleSlab = make([]Tuple, d.slabSize(16))
	}
	p := &d.tupleSlab[0]
	*p = t
	d.tupleSlab = d.tupleSlab[1:]
	return box(tupleType_, unsafe.Pointer(p))
}

func (d *decodeState) boxList(l List) any {
	return d.boxListAs(l, listType_)
}

func (d *decodeState) boxListAs(l []any, typ unsafe.Pointer) any {
	if len(d.tupleSlab) == 0 {
		d.tupleSlab = make([]Tuple, d.slabSize(16))
	}
	p := &d.tupleSlab[0]
	*p = l
	d.tupleSlab = d.tupleSlab[1:]
	return box(typ, unsafe.Pointer(p))
}

func (d *decodeState) boxBytes(b []byte, typ unsafe.Pointer) any {
	if len(d.bytesSlab) == 0 {
		d.bytesSlab = make([][]byte, d.slabSize(24))
	}
	p := &d.bytesSlab[0]
	*p = b
	d.bytesSlab = d.bytesSlab[1:]
	return box(typ, unsafe.Pointer(p))
}

func (d *decodeState) boxInt(i int64) any {
	if i >= 0 && i < 256 {
		return i // the runtime boxes these without allocating
	}
	if len(d.intSlab) == 0 {
		d.intSlab = make([]int64, d.slabSize(24))
	}
	p := &d.intSlab[0]
	*p = i
	d.intSlab = d.intSlab[1:]
	return box(int64Type_, unsafe.Pointer(p))
}

func (d *decodeState) boxFloat(f float64) any {
	if len(d.floatSlab) == 0 {
		d.floatSlab = make([]float64, d.slabSize(32))
	}
	p := &d.floatSlab[0]
	*p = f
	d.floatSlab = d.floatSlab[1:]
	return box(float64Type_, unsafe.Pointer(p))
}
