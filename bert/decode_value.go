package bert

import (
	"encoding/binary"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
)

// This file decodes validated bytes straight into Go values through
// per-type decoders, without building a term tree first. Each decoder
// consumes exactly one term at d.off; a term that does not fit is
// skipped and recorded with saveError.

// Unmarshaler is implemented by types that decode themselves.
// UnmarshalBERT receives one complete external term, starting with the
// version byte 131 (never compressed). It must copy data if it keeps it
// after returning.
type Unmarshaler interface {
	UnmarshalBERT(data []byte) error
}

type decoderFunc func(d *decodeState, v reflect.Value)

var decoderCache sync.Map // map[reflect.Type]decoderFunc

// value decodes into the value that pointer rv points to.
func (d *decodeState) value(rv reflect.Value) {
	typeDecoder(rv.Type().Elem())(d, rv.Elem())
}

// typeDecoder returns the cached decoder for t; see typeEncoder for how
// recursive types are handled.
func typeDecoder(t reflect.Type) decoderFunc {
	if fi, ok := decoderCache.Load(t); ok {
		return fi.(decoderFunc)
	}
	var (
		wg sync.WaitGroup
		f  decoderFunc
	)
	wg.Add(1)
	fi, loaded := decoderCache.LoadOrStore(t, decoderFunc(func(d *decodeState, v reflect.Value) {
		wg.Wait()
		f(d, v)
	}))
	if loaded {
		return fi.(decoderFunc)
	}
	f = newTypeDecoder(t)
	wg.Done()
	decoderCache.Store(t, f)
	return f
}

func newTypeDecoder(t reflect.Type) decoderFunc {
	if t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(unmarshalerType) {
		return unmarshalerDecoder
	}
	switch t {
	case timeType:
		return timeDecoder
	case bigIntType:
		return bigIntDecoder
	case mapType, dictType, improperListType, bitBinaryType, regexType, pairType:
		return termTypeDecoder(t)
	}
	switch t.Kind() {
	case reflect.Interface:
		if t.NumMethod() == 0 {
			return interfaceDecoder
		}
		return func(d *decodeState, v reflect.Value) { d.typeError(v.Type()) }
	case reflect.Bool:
		return boolDecoder
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return intDecoder
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return uintDecoder
	case reflect.Float32, reflect.Float64:
		return floatDecoder
	case reflect.String:
		return stringDecoder
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 && !reflect.PointerTo(t.Elem()).Implements(unmarshalerType) {
			return bytesDecoder
		}
		return newSliceDecoder(t)
	case reflect.Array:
		return newSliceDecoder(t)
	case reflect.Struct:
		return newStructDecoder(t)
	case reflect.Map:
		return newMapDecoder(t)
	case reflect.Pointer:
		elem := typeDecoder(t.Elem())
		return func(d *decodeState, v reflect.Value) {
			d.peel()
			if d.isBertNil() {
				d.skip()
				v.SetZero()
				return
			}
			if v.IsNil() {
				v.Set(reflect.New(t.Elem()))
			}
			elem(d, v.Elem())
		}
	}
	return func(d *decodeState, v reflect.Value) { d.typeError(v.Type()) }
}

// peel moves past the empty LIST_EXT headers of [ | T], which stands for
// T itself (in Erlang and in the term model), so that each decoder sees
// T. When T is a list the headers stay: the list decoders read the
// whole chain.
func (d *decodeState) peel() {
	if d.data[d.off] == tagList {
		d.peelLists()
	}
}

func (d *decodeState) peelLists() {
	data := d.data
	p := d.off
	for data[p] == tagList && binary.BigEndian.Uint32(data[p+1:]) == 0 {
		p += 5
	}
	switch data[p] {
	case tagNil, tagString, tagList:
		return
	}
	d.off = p
}

// typeError records that the term at d.off does not fit type t, and
// skips it.
func (d *decodeState) typeError(t reflect.Type) {
	d.saveError(&UnmarshalTypeError{Value: d.describe(), Type: t, Offset: int64(d.off), Field: strings.Join(d.field, ".")})
	d.skip()
}

// describe names the term at d.off for error messages.
func (d *decodeState) describe() string {
	data := d.data
	switch data[d.off] {
	case tagSmallInt, tagInt, tagSmallBig, tagLargeBig:
		save := d.off
		i, b := d.integer()
		d.off = save
		if b != nil {
			if b.BitLen() > 256 {
				// Printing a huge number in decimal is slow; an error
				// message must not cost an attacker-chosen amount of work.
				return "integer of " + strconv.Itoa(b.BitLen()) + " bits"
			}
			return "integer " + b.String()
		}
		return "integer " + strconv.FormatInt(i, 10)
	case tagNewFloat, tagFloat:
		return "float"
	case tagAtom, tagSmallAtom, tagAtomUTF8, tagSmallAtomUTF8:
		save := d.off
		b, latin1, _ := d.atomBytes()
		d.off = save
		if len(b) > 30 {
			b = b[:30]
		}
		return "atom " + atomString(b, latin1)
	case tagSmallTuple, tagLargeTuple:
		if kind, _ := d.bertForm(); kind != "" {
			return "{bert, " + kind + "}"
		}
		return "tuple"
	case tagNil:
		return "[]"
	case tagString:
		return "byte list"
	case tagList:
		return "list"
	case tagBinary:
		return "binary"
	case tagBitBinary:
		return "bit binary"
	case tagMap:
		return "map"
	}
	return "term"
}

// bertForm reports the kind atom and arity of a {bert, Kind, ...} tuple
// at d.off, or "" if the term is not one.
func (d *decodeState) bertForm() (string, int) {
	arity, hdr := d.tupleHeader()
	if arity < 2 || arity > 5 {
		return "", 0
	}
	save := d.off
	defer func() { d.off = save }()
	d.off += hdr
	if !d.isAtom() {
		return "", 0
	}
	if b, _, _ := d.atomBytes(); string(b) != "bert" || !d.isAtom() {
		return "", 0
	}
	b, _, _ := d.atomBytes()
	switch string(b) {
	case "nil":
		return "nil", arity
	case "true":
		return "true", arity
	case "false":
		return "false", arity
	case "dict":
		return "dict", arity
	case "time":
		return "time", arity
	case "regex":
		return "regex", arity
	}
	return "", 0
}

// tupleHeader returns the arity of the tuple at d.off and the length of
// its header (SMALL_TUPLE_EXT or LARGE_TUPLE_EXT), or -1 and 0 if the
// term is not a tuple.
func (d *decodeState) tupleHeader() (arity, hdr int) {
	data := d.data
	switch data[d.off] {
	case tagSmallTuple:
		return int(data[d.off+1]), 2
	case tagLargeTuple:
		return int(binary.BigEndian.Uint32(data[d.off+1:])), 5
	}
	return -1, 0
}

func (d *decodeState) isTuple() bool {
	t := d.data[d.off]
	return t == tagSmallTuple || t == tagLargeTuple
}

func (d *decodeState) isAtom() bool {
	if d.off >= len(d.data) {
		return false
	}
	switch d.data[d.off] {
	case tagAtom, tagSmallAtom, tagAtomUTF8, tagSmallAtomUTF8:
		return true
	}
	return false
}

// isBertNil reports whether the term at d.off is {bert, nil}.
func (d *decodeState) isBertNil() bool {
	if !d.isTuple() {
		return false
	}
	k, n := d.bertForm()
	return k == "nil" && n == 2
}

// integer decodes the integer at d.off, which must be one.
func (d *decodeState) integer() (int64, *big.Int) {
	data := d.data
	p := d.off + 1
	switch data[d.off] {
	case tagSmallInt:
		d.off = p + 1
		return int64(data[p]), nil
	case tagInt:
		d.off = p + 4
		return int64(int32(binary.BigEndian.Uint32(data[p:]))), nil
	}
	return d.bigIntParts()
}

func (d *decodeState) isInteger() bool {
	switch d.data[d.off] {
	case tagSmallInt, tagInt, tagSmallBig, tagLargeBig:
		return true
	}
	return false
}

func interfaceDecoder(d *decodeState, v reflect.Value) {
	t := d.term()
	if t == nil {
		v.SetZero()
		return
	}
	v.Set(reflect.ValueOf(t))
}

func unmarshalerDecoder(d *decodeState, v reflect.Value) {
	if !v.CanAddr() {
		d.typeError(v.Type())
		return
	}
	start := d.off
	d.skip()
	raw := make([]byte, 1+d.off-start)
	raw[0] = versionMagic
	copy(raw[1:], d.data[start:d.off])
	if err := v.Addr().Interface().(Unmarshaler).UnmarshalBERT(raw); err != nil {
		d.saveError(err)
	}
}

func boolDecoder(d *decodeState, v reflect.Value) {
	d.peel()
	if d.isTuple() {
		switch k, n := d.bertForm(); {
		case k == "true" && n == 2:
			d.skip()
			v.SetBool(true)
			return
		case k == "false" && n == 2:
			d.skip()
			v.SetBool(false)
			return
		case k == "nil" && n == 2:
			d.skip()
			return
		}
	}
	if d.isAtom() {
		save := d.off
		b, _, _ := d.atomBytes()
		switch string(b) {
		case "true":
			v.SetBool(true)
			return
		case "false":
			v.SetBool(false)
			return
		}
		d.off = save
	}
	d.typeError(v.Type())
}

func intDecoder(d *decodeState, v reflect.Value) {
	d.peel()
	if !d.isInteger() {
		if d.isBertNil() {
			d.skip()
			return
		}
		d.typeError(v.Type())
		return
	}
	save := d.off
	i, b := d.integer()
	if b != nil || v.OverflowInt(i) {
		d.off = save
		d.typeError(v.Type())
		return
	}
	v.SetInt(i)
}

func uintDecoder(d *decodeState, v reflect.Value) {
	d.peel()
	if !d.isInteger() {
		if d.isBertNil() {
			d.skip()
			return
		}
		d.typeError(v.Type())
		return
	}
	save := d.off
	i, b := d.integer()
	var u uint64
	switch {
	case b == nil && i >= 0:
		u = uint64(i)
	case b != nil && b.Sign() > 0 && b.IsUint64():
		u = b.Uint64()
	default:
		d.off = save
		d.typeError(v.Type())
		return
	}
	if v.OverflowUint(u) {
		d.off = save
		d.typeError(v.Type())
		return
	}
	v.SetUint(u)
}

func floatDecoder(d *decodeState, v reflect.Value) {
	d.peel()
	data := d.data
	p := d.off + 1
	var f float64
	switch data[d.off] {
	case tagNewFloat:
		f = math.Float64frombits(binary.BigEndian.Uint64(data[p:]))
	case tagFloat:
		f, _ = parseFloatExt(data[p:floatExtEnd(data, p)])
	case tagSmallInt, tagInt, tagSmallBig, tagLargeBig:
		save := d.off
		i, b := d.integer()
		d.off = save
		if b != nil {
			f, _ = new(big.Float).SetInt(b).Float64()
		} else {
			f = float64(i)
		}
	default:
		if d.isBertNil() {
			d.skip()
			return
		}
		d.typeError(v.Type())
		return
	}
	if v.OverflowFloat(f) {
		d.typeError(v.Type())
		return
	}
	d.skip()
	v.SetFloat(f)
}

func bigIntDecoder(d *decodeState, v reflect.Value) {
	d.peel()
	if !d.isInteger() {
		if d.isBertNil() {
			d.skip()
			return
		}
		d.typeError(v.Type())
		return
	}
	i, b := d.integer()
	x := v.Addr().Interface().(*big.Int)
	if b != nil {
		x.Set(b)
	} else {
		x.SetInt64(i)
	}
}

func timeDecoder(d *decodeState, v reflect.Value) {
	d.peel()
	if k, n := d.bertForm(); k == "time" && n == 5 {
		if t, ok := d.bertTimeAt(); ok {
			if v.CanAddr() {
				// Without boxing t in an interface, which allocates.
				*v.Addr().Interface().(*time.Time) = t
			} else {
				v.Set(reflect.ValueOf(t))
			}
			return
		}
	} else if k == "nil" && n == 2 {
		d.skip()
		return
	}
	d.typeError(v.Type())
}

// bertTimeAt decodes the {bert, time, Mega, Sec, Micro} tuple at d.off
// and moves past it, if its parts are integers in range; else it leaves
// d.off alone.
func (d *decodeState) bertTimeAt() (time.Time, bool) {
	save := d.off
	_, hdr := d.tupleHeader()
	d.off += hdr
	d.skip() // bert
	d.skip() // time
	var parts [3]int64
	for i := range parts {
		if !d.isInteger() {
			d.off = save
			return time.Time{}, false
		}
		x, b := d.integer()
		if b != nil {
			d.off = save
			return time.Time{}, false
		}
		parts[i] = x
	}
	t, ok := bertTime(parts[0], parts[1], parts[2])
	if !ok {
		d.off = save
	}
	return t, ok
}

// termTypeDecoder decodes into a term-model type by way of the term tree,
// converting proplists and dicts for Map and Dict.
func termTypeDecoder(t reflect.Type) decoderFunc {
	return func(d *decodeState, v reflect.Value) {
		save := d.off
		term := d.term()
		if term != nil && reflect.TypeOf(term) == t {
			v.Set(reflect.ValueOf(term))
			return
		}
		if t == mapType || t == dictType {
			var pairs []Pair
			ok := true
			switch x := term.(type) {
			case Map:
				pairs = x
			case Dict:
				pairs = x
			case List:
				pairs = make([]Pair, len(x))
				for i, e := range x {
					kv, isKV := e.(Tuple)
					if !isKV || len(kv) != 2 {
						ok = false
						break
					}
					pairs[i] = Pair{Key: kv[0], Value: kv[1]}
				}
			default:
				ok = false
			}
			if ok {
				v.Set(reflect.ValueOf(pairs).Convert(t))
				return
			}
		}
		if term == nil {
			return
		}
		d.off = save
		d.typeError(t)
	}
}

// text returns the bytes of a term that reads as text: a binary, byte
// list, atom, [] or list of integers 0..255. The result may alias the
// input or d.scratch, which the next call overwrites; callers copy it.
func (d *decodeState) text() ([]byte, bool) {
	d.peel()
	data := d.data
	p := d.off + 1
	switch data[d.off] {
	case tagBinary:
		n := int(binary.BigEndian.Uint32(data[p:]))
		d.off = p + 4 + n
		return data[p+4 : p+4+n], true
	case tagBitBinary:
		if p, n, ok := d.wholeBytes(); ok {
			return data[p : p+n], true
		}
	case tagString:
		n := int(binary.BigEndian.Uint16(data[p:]))
		d.off = p + 2 + n
		return data[p+2 : p+2+n], true
	case tagAtom, tagSmallAtom, tagAtomUTF8, tagSmallAtomUTF8:
		b, latin1, _ := d.atomBytes()
		if latin1 && !isASCII(b) {
			d.scratch = appendLatin1(d.scratch[:0], b)
			return d.scratch, true
		}
		return b, true
	case tagNil:
		d.off = p
		return nil, true
	case tagList:
		if b, ok := d.listBytes(d.scratch[:0]); ok {
			d.scratch = b
			return b, true
		}
	}
	return nil, false
}

// listBytes appends to dst the elements of the LIST_EXT at d.off, with
// the tails that continue it, and moves past it, if it is a proper list
// of integers 0..255 (what AsString takes for text); else it leaves
// d.off alone. A LIST_EXT of no elements whose tail is not a list has
// been peeled off before (see peel): it stands for its tail.
func (d *decodeState) listBytes(dst []byte) ([]byte, bool) {
	data := d.data
	off := d.off
	for {
		n := int(binary.BigEndian.Uint32(data[off+1:]))
		off += 5
		for ; n > 0; n-- {
			switch data[off] {
			case tagSmallInt:
				dst = append(dst, data[off+1])
				off += 2
				continue
			case tagInt:
				if c := binary.BigEndian.Uint32(data[off+1:]); c <= 255 {
					dst = append(dst, byte(c))
					off += 5
					continue
				}
			case tagSmallBig, tagLargeBig:
				if c, fits, end := bigAt(data, off); fits && uint64(c) <= 255 {
					dst = append(dst, byte(c))
					off = end
					continue
				}
			}
			return dst, false
		}
		switch data[off] {
		case tagList:
			continue
		case tagNil:
			d.off = off + 1
			return dst, true
		case tagString:
			m := int(binary.BigEndian.Uint16(data[off+1:]))
			d.off = off + 3 + m
			return append(dst, data[off+3:off+3+m]...), true
		}
		return dst, false
	}
}

func stringDecoder(d *decodeState, v reflect.Value) {
	if b, ok := d.text(); ok {
		v.SetString(string(b))
		return
	}
	if d.isBertNil() {
		d.skip()
		return
	}
	d.typeError(v.Type())
}

func bytesDecoder(d *decodeState, v reflect.Value) {
	d.peel()
	data := d.data
	p := d.off + 1
	switch data[d.off] {
	case tagBinary:
		n := int(binary.BigEndian.Uint32(data[p:]))
		d.off = p + 4 + n
		v.SetBytes(d.bytes(p+4, n))
		return
	case tagString:
		n := int(binary.BigEndian.Uint16(data[p:]))
		d.off = p + 2 + n
		v.SetBytes(d.bytes(p+2, n))
		return
	case tagBitBinary:
		if p, n, ok := d.wholeBytes(); ok {
			v.SetBytes(d.bytes(p, n))
			return
		}
	case tagNil:
		d.off = p
		v.SetBytes([]byte{})
		return
	case tagList:
		if b, ok := d.listBytes(d.scratch[:0]); ok {
			d.scratch = b
			v.SetBytes(append(make([]byte, 0, len(b)), b...))
			return
		}
	case tagSmallTuple, tagLargeTuple:
		if d.isBertNil() {
			d.skip()
			v.SetZero()
			return
		}
	}
	d.typeError(v.Type())
}

// wholeBytes returns where the bytes of the BIT_BINARY_EXT at d.off
// start and how many there are, and moves past it, if its last byte is
// whole: then it is a binary, as the term model has it, only written the
// long way.
func (d *decodeState) wholeBytes() (p, n int, ok bool) {
	data := d.data
	p = d.off + 1
	n = int(binary.BigEndian.Uint32(data[p:]))
	if data[p+4] != 8 {
		return 0, 0, false
	}
	d.off = p + 5 + n
	return p + 5, n, true
}

// smallIntTerms holds SMALL_INTEGER_EXT encodings of 0..255, so that the
// bytes of a STRING_EXT can be fed to an element decoder one by one.
var smallIntTerms = func() (t [512]byte) {
	for i := 0; i < 256; i++ {
		t[2*i] = tagSmallInt
		t[2*i+1] = byte(i)
	}
	return
}()

// decodeByte runs dec on the integer c as if it were in the input.
func (d *decodeState) decodeByte(c byte, dec decoderFunc, v reflect.Value) {
	data, off := d.data, d.off
	d.data, d.off = smallIntTerms[2*int(c):2*int(c)+2], 0
	dec(d, v)
	d.data, d.off = data, off
}

// newSliceDecoder decodes lists, byte lists and tuples into slices and
// arrays.
func newSliceDecoder(t reflect.Type) decoderFunc {
	elemDec := typeDecoder(t.Elem())
	isArray := t.Kind() == reflect.Array
	return func(d *decodeState, v reflect.Value) {
		d.peel()
		data := d.data
		p := d.off + 1
		// i counts decoded elements; elem returns where to put the next
		// one, or an invalid Value for an array that is full.
		i := 0
		elem := func() reflect.Value {
			if isArray {
				if i >= v.Len() {
					return reflect.Value{}
				}
				e := v.Index(i)
				e.SetZero()
				return e
			}
			if i >= v.Cap() {
				nv := reflect.MakeSlice(t, v.Len(), max(2*v.Cap(), 4))
				reflect.Copy(nv, v)
				v.Set(nv)
			}
			if i >= v.Len() {
				v.SetLen(i + 1)
			}
			e := v.Index(i)
			e.SetZero()
			return e
		}
		finish := func() {
			if isArray {
				for j := i; j < v.Len(); j++ {
					v.Index(j).SetZero()
				}
				return
			}
			if v.IsNil() {
				v.Set(reflect.MakeSlice(t, 0, 0))
			}
			v.SetLen(i)
		}
		one := func() {
			if e := elem(); e.IsValid() {
				elemDec(d, e)
			} else {
				d.skip()
			}
			i++
		}
		byteList := func(b []byte) {
			for _, c := range b {
				if e := elem(); e.IsValid() {
					d.decodeByte(c, elemDec, e)
				}
				i++
			}
		}
		if !isArray {
			v.SetLen(0)
		}
		switch data[d.off] {
		case tagNil:
			d.off = p
		case tagString:
			n := int(binary.BigEndian.Uint16(data[p:]))
			d.off = p + 2 + n
			if !isArray && v.Cap() < n {
				v.Set(reflect.MakeSlice(t, 0, n))
			}
			byteList(data[p+2 : p+2+n])
		case tagSmallTuple, tagLargeTuple:
			if d.isBertNil() {
				d.skip()
				if !isArray {
					v.SetZero()
				}
				return
			}
			var n int
			if data[d.off] == tagSmallTuple {
				n = int(data[p])
				d.off = p + 1
			} else {
				n = int(binary.BigEndian.Uint32(data[p:]))
				d.off = p + 4
			}
			if !isArray && v.Cap() < n {
				v.Set(reflect.MakeSlice(t, 0, n))
			}
			for k := 0; k < n; k++ {
				one()
			}
		case tagList:
			for data[d.off] == tagList {
				n := int(binary.BigEndian.Uint32(data[d.off+1:]))
				d.off += 5
				if !isArray && v.Cap() < i+n {
					nv := reflect.MakeSlice(t, i, i+n)
					reflect.Copy(nv, v)
					v.Set(nv)
				}
				for k := 0; k < n; k++ {
					one()
				}
			}
			switch data[d.off] {
			case tagNil:
				d.off++
			case tagString:
				n := int(binary.BigEndian.Uint16(data[d.off+1:]))
				b := data[d.off+3 : d.off+3+n]
				d.off += 3 + n
				byteList(b)
			default:
				finish()
				d.saveError(&UnmarshalTypeError{Value: "improper list", Type: t, Offset: int64(d.off), Field: strings.Join(d.field, ".")})
				d.skip()
				return
			}
		default:
			d.typeError(t)
			return
		}
		finish()
	}
}

// structDecoder fills struct fields from a proplist, dict or map.
type structDecoder struct {
	fields   *structFields
	decoders []decoderFunc
}

func newStructDecoder(t reflect.Type) decoderFunc {
	sf := cachedTypeFields(t)
	sd := &structDecoder{fields: sf, decoders: make([]decoderFunc, len(sf.list))}
	for i, f := range sf.list {
		sd.decoders[i] = typeDecoder(f.typ)
	}
	return sd.decode
}

func (sd *structDecoder) decode(d *decodeState, v reflect.Value) {
	d.pairs(v.Type(), func(key []byte) {
		i, ok := sd.fields.byName[string(key)]
		if !ok {
			d.skip()
			return
		}
		f := &sd.fields.list[i]
		fv, ok := fieldByIndex(v, f.index)
		if !ok {
			d.skip()
			return
		}
		d.field = append(d.field, f.name)
		sd.decoders[i](d, fv)
		d.field = d.field[:len(d.field)-1]
	}, func() {
		// A key that is not text names no field: ignore the pair, as
		// other unknown keys are.
		d.skip()
		d.skip()
	})
}

// fieldByIndex returns the field at index, allocating nil embedded
// pointers on the way; ok is false if one cannot be allocated.
func fieldByIndex(v reflect.Value, index []int) (reflect.Value, bool) {
	for _, i := range index[:len(index)-1] {
		v = v.Field(i)
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				if !v.CanSet() {
					return reflect.Value{}, false
				}
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
	}
	return v.Field(index[len(index)-1]), true
}

// pairs walks the key/value pairs of the proplist, {bert, dict, ...} or
// map at d.off. For keys that read as text it calls textKey with the key
// bytes (which alias the input or scratch space) and d.off at the value;
// for other keys it calls termKey, if not nil, at the key, or else
// reports a type error. Each callback must consume the rest of its pair.
func (d *decodeState) pairs(t reflect.Type, textKey func(key []byte), termKey func()) {
	d.peel()
	data := d.data
	onKey := func() {
		save := d.off
		d.keyStart = save
		if key, ok := d.text(); ok {
			textKey(key)
			return
		}
		d.off = save
		if termKey != nil {
			termKey()
			return
		}
		d.saveError(&UnmarshalTypeError{Value: "key " + d.describe(), Type: t, Offset: int64(d.off), Field: strings.Join(d.field, ".")})
		d.skip()
		d.skip()
	}
	switch data[d.off] {
	case tagNil:
		d.off++
		return
	case tagMap:
		n := int(binary.BigEndian.Uint32(data[d.off+1:]))
		d.off += 5
		for i := 0; i < n; i++ {
			onKey()
		}
		return
	case tagList:
		d.proplist(t, onKey)
		return
	case tagSmallTuple, tagLargeTuple:
		switch k, n := d.bertForm(); {
		case k == "nil" && n == 2:
			d.skip()
			return
		case k == "dict" && n == 3:
			save := d.off
			_, hdr := d.tupleHeader()
			d.off += hdr
			d.skip() // bert
			d.skip() // dict
			switch data[d.off] {
			case tagNil:
				d.off++
				return
			case tagList:
				d.proplist(t, onKey)
				return
			}
			d.off = save
		}
	}
	d.typeError(t)
}

// atomTrueTerm is the encoded atom true, the value onAtomTrue gives a
// bare atom in a proplist.
var atomTrueTerm = []byte{tagSmallAtomUTF8, 4, 't', 'r', 'u', 'e'}

// onAtomTrue runs onKey for the bare atom at d.off as if the input held
// {Atom, true} there.
func (d *decodeState) onAtomTrue(onKey func()) {
	start := d.off
	d.skip()
	end := d.off
	// The pair is built in d.pair, which no decoder keeps a part of
	// (zero-copy is off while it is decoded). Decoding true cannot
	// meet another bare atom, so the buffer is not in use already.
	pair := append(append(d.pair[:0], d.data[start:end]...), atomTrueTerm...)
	d.pair = pair
	data, zc, saved := d.data, d.zeroCopy, d.savedError
	d.data, d.off, d.zeroCopy = pair, 0, false
	onKey()
	d.data, d.off, d.zeroCopy = data, end, zc
	if ute, ok := d.savedError.(*UnmarshalTypeError); ok && saved == nil {
		// The error's offset is in pair: point it at the atom, which
		// stands for the value true too.
		if ute.Offset >= int64(end-start) {
			ute.Offset = 0
		}
		ute.Offset += int64(start)
	}
}

// proplist walks a LIST_EXT of {Key, Value} tuples, calling onKey with
// d.off at each key.
func (d *decodeState) proplist(t reflect.Type, onKey func()) {
	data := d.data
	for data[d.off] == tagList {
		n := int(binary.BigEndian.Uint32(data[d.off+1:]))
		d.off += 5
		for i := 0; i < n; i++ {
			if arity, hdr := d.tupleHeader(); arity == 2 {
				d.off += hdr
				onKey()
				continue
			}
			if d.isAtom() {
				// A bare atom in a proplist is short for {Atom, true}.
				d.onAtomTrue(onKey)
				continue
			}
			d.saveError(&UnmarshalTypeError{Value: "proplist element " + d.describe(), Type: t, Offset: int64(d.off), Field: strings.Join(d.field, ".")})
			d.skip()
		}
	}
	switch data[d.off] {
	case tagNil:
		d.off++
		return
	case tagString:
		// A tail of bytes adds elements that are integers, not pairs.
		n := int(binary.BigEndian.Uint16(data[d.off+1:]))
		if n == 0 {
			d.off += 3
			return
		}
		d.saveError(&UnmarshalTypeError{Value: "proplist element integer " + strconv.Itoa(int(data[d.off+3])), Type: t, Offset: int64(d.off), Field: strings.Join(d.field, ".")})
		d.skip()
		return
	}
	d.saveError(&UnmarshalTypeError{Value: "improper proplist", Type: t, Offset: int64(d.off), Field: strings.Join(d.field, ".")})
	d.skip()
}

// newMapDecoder decodes pairs into a Go map, creating it if nil.
func newMapDecoder(t reflect.Type) decoderFunc {
	kt, et := t.Key(), t.Elem()
	elemDec := typeDecoder(et)
	keyText := kt.Kind() == reflect.String
	var keyDec decoderFunc
	if !keyText {
		keyDec = typeDecoder(kt)
	}
	return func(d *decodeState, v reflect.Value) {
		d.peel()
		if d.isBertNil() {
			d.skip()
			return
		}
		if v.IsNil() {
			switch d.data[d.off] {
			case tagNil, tagList, tagMap, tagSmallTuple, tagLargeTuple:
				v.Set(reflect.MakeMap(t))
			}
		}
		put := func(k reflect.Value) {
			e := reflect.New(et).Elem()
			elemDec(d, e)
			if kt.Kind() == reflect.Interface && !k.IsNil() && !k.Elem().Type().Comparable() {
				d.saveError(&UnmarshalTypeError{Value: "key of type " + k.Elem().Type().String(), Type: t, Offset: int64(d.off), Field: strings.Join(d.field, ".")})
				return
			}
			v.SetMapIndex(k, e)
		}
		termKey := func() {
			k := reflect.New(kt).Elem()
			save := d.savedError
			keyDec(d, k)
			if d.savedError != save {
				d.skip()
				return
			}
			put(k)
		}
		var textKey func([]byte)
		if keyText {
			textKey = func(key []byte) {
				k := reflect.New(kt).Elem()
				k.SetString(string(key))
				put(k)
			}
			// A key that is not text does not fit a string key: pairs
			// reports it.
			termKey = nil
		} else {
			textKey = func([]byte) {
				// The key was text but the key type is not a string:
				// back up and decode the key as a term.
				d.off = d.keyStart
				termKey()
			}
		}
		d.pairs(t, textKey, termKey)
	}
}
