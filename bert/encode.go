package bert

import (
	"encoding/binary"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Marshal returns the external term encoding of v in the [BERTJS]
// profile, starting with the version byte 131. Use [Append] for the
// [Erlang] profile or to reuse a buffer.
//
// Go values map to terms as follows:
//
//   - The term model (Atom, Tuple, List, ImproperList, ByteList, BitBinary,
//     Map, Pair, Dict, Regex) encodes as described in term.go. Map is a
//     MAP_EXT in the Erlang profile and a proplist [{Key, Value}] in the
//     BERTJS profile, which has no maps.
//   - nil (an untyped nil, a nil pointer or interface) encodes as
//     {bert, nil} and bool as {bert, true} or {bert, false}, in both
//     profiles, so that decoded terms encode back to themselves.
//   - Integer kinds and *big.Int encode as the smallest integer form:
//     SMALL_INTEGER_EXT, INTEGER_EXT, SMALL_BIG_EXT, LARGE_BIG_EXT.
//   - float32 and float64 encode as NEW_FLOAT_EXT (Erlang) or FLOAT_EXT
//     (BERTJS). NaN and infinities are an *UnsupportedValueError.
//   - string encodes as a binary; so does []byte (a nil []byte is the
//     empty binary).
//   - time.Time encodes as {bert, time, Mega, Sec, Micro}, truncated to
//     the microsecond.
//   - Other slices and arrays encode as lists (nil or empty is []). In
//     the Erlang profile a Go slice or array of integers, all 0..255, is
//     a STRING_EXT, as term_to_binary writes it. A term-model List is
//     always a LIST_EXT and a ByteList always a STRING_EXT, so that the
//     two stay apart for BERT-JS (array and string) and a decoded term
//     encodes back to itself.
//   - Structs encode as proplists [{Key, Value}] with atom keys, in
//     field order. The key is the field name unless the field's tag
//     `bert:"name"` gives another; `bert:"-"` leaves the field out, and
//     the options ",omitempty" (false, 0, "", nil, empty collection) and
//     ",omitzero" (the zero value) leave it out when empty. Untagged
//     embedded structs have their fields promoted, as in encoding/json.
//   - Maps encode as proplists too: string keys as atoms, sorted; other
//     keys as terms, sorted by their encoding.
//   - Pointers and interfaces encode as the value they hold.
//   - [Marshaler] and [RawTerm] values are copied in as they are.
//
// Channels, funcs and complex numbers are an *UnsupportedTypeError.
// Values nested deeper than DefaultMaxDepth (for instance a cycle) are a
// *LimitError wrapping ErrTooDeep.
func Marshal(v any) ([]byte, error) {
	return Append(nil, v, BERTJS)
}

// Append appends the external term encoding of v in profile p, starting
// with the version byte 131, to dst and returns the extended buffer. With
// a nil dst it returns a new slice of exactly the term's length. On error
// it returns dst, with its contents unchanged (its spare capacity may have
// been written).
func Append(dst []byte, v any, p Profile) ([]byte, error) {
	e := newEncodeState(dst, p, DefaultMaxDepth)
	defer e.release()
	e.buf = append(e.buf, versionMagic)
	if err := e.encode(v); err != nil {
		return dst, err
	}
	if dst == nil {
		return slices.Clone(e.buf), nil
	}
	return e.buf, nil
}

// Marshaler is implemented by types that encode themselves. MarshalBERT
// returns one complete external term, starting with the version byte 131
// (the output of Marshal or Append, in whichever profile the type
// chooses); it is checked and embedded without the version byte.
// Compressed output is inflated first.
type Marshaler interface {
	MarshalBERT() ([]byte, error)
}

// encodeState holds the buffer and settings of one encoding.
type encodeState struct {
	buf        []byte // where the term is written: the caller's dst or scratch
	scratch    []byte // the pooled buffer, used when the caller gives none
	useScratch bool
	profile    Profile
	depth      int
	maxDepth   int
}

var encodeStatePool = sync.Pool{New: func() any { return &encodeState{scratch: make([]byte, 0, 512)} }}

func newEncodeState(dst []byte, p Profile, maxDepth int) *encodeState {
	e := encodeStatePool.Get().(*encodeState)
	e.useScratch = dst == nil
	if e.useScratch {
		e.buf = e.scratch[:0]
	} else {
		e.buf = dst
	}
	e.profile = p
	e.depth = 0
	e.maxDepth = maxDepth
	return e
}

// release returns e to the pool; nothing may use e.buf afterwards. A
// scratch buffer that grew is kept unless it grew large: a pooled
// multi-megabyte buffer would pin memory long after the one big term
// that needed it.
func (e *encodeState) release() {
	if e.useScratch && cap(e.buf) <= 64<<10 {
		e.scratch = e.buf[:0]
	}
	e.buf = nil
	encodeStatePool.Put(e)
}

func (e *encodeState) enter() error {
	e.depth++
	if e.depth > e.maxDepth {
		return &LimitError{Err: ErrTooDeep, Limit: e.maxDepth, Offset: int64(len(e.buf))}
	}
	return nil
}

// Pre-encoded atoms of the BERT complex types.
var (
	bertAtom   = [2][]byte{mustAtom("bert", BERTJS), mustAtom("bert", Erlang)}
	nilAtom    = [2][]byte{mustAtom("nil", BERTJS), mustAtom("nil", Erlang)}
	trueAtom   = [2][]byte{mustAtom("true", BERTJS), mustAtom("true", Erlang)}
	falseAtom  = [2][]byte{mustAtom("false", BERTJS), mustAtom("false", Erlang)}
	dictAtom   = [2][]byte{mustAtom("dict", BERTJS), mustAtom("dict", Erlang)}
	timeAtom   = [2][]byte{mustAtom("time", BERTJS), mustAtom("time", Erlang)}
	regexAtom  = [2][]byte{mustAtom("regex", BERTJS), mustAtom("regex", Erlang)}
	profileIdx = func(p Profile) int {
		if p == Erlang {
			return 1
		}
		return 0
	}
)

func mustAtom(s string, p Profile) []byte {
	b, err := appendAtom(nil, s, p)
	if err != nil {
		panic(err)
	}
	return b
}

func (e *encodeState) bertHeader(arity int, kind *[2][]byte) {
	i := profileIdx(e.profile)
	e.buf = append(e.buf, tagSmallTuple, byte(arity))
	e.buf = append(e.buf, bertAtom[i]...)
	e.buf = append(e.buf, kind[i]...)
}

func (e *encodeState) writeNil() { e.bertHeader(2, &nilAtom) }

func (e *encodeState) writeBool(b bool) {
	if b {
		e.bertHeader(2, &trueAtom)
	} else {
		e.bertHeader(2, &falseAtom)
	}
}

// appendAtom appends atom s in profile p: SMALL_ATOM_UTF8_EXT or
// ATOM_UTF8_EXT for Erlang, ATOM_EXT with Latin-1 text for BERTJS.
func appendAtom(b []byte, s string, p Profile) ([]byte, error) {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		if len(s) > 255 {
			return b, atomErr(s, "is longer than 255 characters, which Erlang does not accept")
		}
		if p == Erlang {
			b = append(b, tagSmallAtomUTF8, byte(len(s)))
		} else {
			b = append(b, tagAtom, 0, byte(len(s)))
		}
		return append(b, s...), nil
	}
	if !utf8.ValidString(s) {
		return b, atomErr(s, "is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(s); n > 255 {
		return b, atomErr(s, "is longer than 255 characters, which Erlang does not accept")
	}
	if p == Erlang {
		if len(s) <= 255 {
			b = append(b, tagSmallAtomUTF8, byte(len(s)))
		} else {
			b = append(b, tagAtomUTF8, byte(len(s)>>8), byte(len(s)))
		}
		return append(b, s...), nil
	}
	start := len(b)
	b = append(b, tagAtom, 0, 0)
	for _, r := range s {
		if r > 0xff {
			return b[:start], atomErr(s, "has characters above U+00FF, which ATOM_EXT in the BERTJS profile cannot carry (use the Erlang profile)")
		}
		b = append(b, byte(r))
	}
	binary.BigEndian.PutUint16(b[start+1:], uint16(len(b)-start-3))
	return b, nil
}

func atomErr(s, why string) error {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return &UnsupportedValueError{Value: reflect.ValueOf(s), Str: "atom " + strconv.Quote(s) + " " + why}
}

// appendInt appends i in its smallest integer form.
func appendInt(b []byte, i int64) []byte {
	switch {
	case i >= 0 && i <= 255:
		return append(b, tagSmallInt, byte(i))
	case i >= math.MinInt32 && i <= math.MaxInt32:
		return binary.BigEndian.AppendUint32(append(b, tagInt), uint32(i))
	case i < 0:
		return appendBigMagnitude(b, true, uint64(-i))
	default:
		return appendBigMagnitude(b, false, uint64(i))
	}
}

func appendUint(b []byte, u uint64) []byte {
	if u <= math.MaxInt64 {
		return appendInt(b, int64(u))
	}
	return appendBigMagnitude(b, false, u)
}

// appendBigMagnitude appends SMALL_BIG_EXT with the fewest digits.
func appendBigMagnitude(b []byte, neg bool, u uint64) []byte {
	n := (bitsLen(u) + 7) / 8
	sign := byte(0)
	if neg {
		sign = 1
	}
	b = append(b, tagSmallBig, byte(n), sign)
	for i := 0; i < n; i++ {
		b = append(b, byte(u>>(8*i)))
	}
	return b
}

func bitsLen(u uint64) int {
	n := 0
	for u != 0 {
		n++
		u >>= 1
	}
	return n
}

func appendBig(b []byte, x *big.Int) []byte {
	if x.IsInt64() {
		return appendInt(b, x.Int64())
	}
	mag := x.Bytes() // big-endian
	sign := byte(0)
	if x.Sign() < 0 {
		sign = 1
	}
	if len(mag) <= 255 {
		b = append(b, tagSmallBig, byte(len(mag)), sign)
	} else {
		b = binary.BigEndian.AppendUint32(append(b, tagLargeBig), uint32(len(mag)))
		b = append(b, sign)
	}
	for i := len(mag) - 1; i >= 0; i-- {
		b = append(b, mag[i])
	}
	return b
}

func (e *encodeState) writeFloat(f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return &UnsupportedValueError{Value: reflect.ValueOf(f), Str: strconv.FormatFloat(f, 'g', -1, 64) + " (Erlang floats are finite)"}
	}
	if e.profile == Erlang {
		e.buf = binary.BigEndian.AppendUint64(append(e.buf, tagNewFloat), math.Float64bits(f))
		return nil
	}
	e.buf = append(e.buf, tagFloat)
	start := len(e.buf)
	e.buf = strconv.AppendFloat(e.buf, f, 'e', 20, 64)
	for len(e.buf)-start < floatExtLen {
		e.buf = append(e.buf, 0)
	}
	return nil
}

func (e *encodeState) writeBinary(b []byte) error {
	if uint64(len(b)) > math.MaxUint32 {
		return &UnsupportedValueError{Value: reflect.ValueOf(b), Str: "binary longer than 4 GiB"}
	}
	e.buf = binary.BigEndian.AppendUint32(append(e.buf, tagBinary), uint32(len(b)))
	e.buf = append(e.buf, b...)
	return nil
}

func (e *encodeState) writeStringBinary(s string) error {
	if uint64(len(s)) > math.MaxUint32 {
		return &UnsupportedValueError{Value: reflect.ValueOf(s), Str: "string longer than 4 GiB"}
	}
	e.buf = binary.BigEndian.AppendUint32(append(e.buf, tagBinary), uint32(len(s)))
	e.buf = append(e.buf, s...)
	return nil
}

func (e *encodeState) writeAtom(s string) error {
	var err error
	e.buf, err = appendAtom(e.buf, s, e.profile)
	return err
}

func (e *encodeState) tupleHeader(n int) {
	if n <= 255 {
		e.buf = append(e.buf, tagSmallTuple, byte(n))
	} else {
		e.buf = binary.BigEndian.AppendUint32(append(e.buf, tagLargeTuple), uint32(n))
	}
}

func (e *encodeState) listHeader(n int) {
	e.buf = binary.BigEndian.AppendUint32(append(e.buf, tagList), uint32(n))
}

// writeByteList writes a list of bytes: STRING_EXT when it fits, else a
// LIST_EXT of small integers. An empty ByteList stays an empty STRING_EXT
// in both profiles: it only comes from decoding BERT-JS's "", and writing
// it as [] would turn a JavaScript string into an array.
func (e *encodeState) writeByteList(b []byte) {
	switch {
	case len(b) <= math.MaxUint16:
		e.buf = binary.BigEndian.AppendUint16(append(e.buf, tagString), uint16(len(b)))
		e.buf = append(e.buf, b...)
	default:
		e.listHeader(len(b))
		for _, c := range b {
			e.buf = append(e.buf, tagSmallInt, c)
		}
		e.buf = append(e.buf, tagNil)
	}
}

func (e *encodeState) writeBitBinary(bb BitBinary) error {
	if len(bb.Data) == 0 || bb.Bits == 0 || bb.Bits > 8 {
		return &UnsupportedValueError{Value: reflect.ValueOf(bb), Str: "BitBinary needs at least one byte and 1..8 bits in the last"}
	}
	if bb.Bits == 8 {
		return e.writeBinary(bb.Data)
	}
	n := len(bb.Data)
	e.buf = binary.BigEndian.AppendUint32(append(e.buf, tagBitBinary), uint32(n))
	e.buf = append(e.buf, bb.Bits)
	e.buf = append(e.buf, bb.Data...)
	e.buf[len(e.buf)-1] &^= byte(0xff) >> bb.Bits
	return nil
}

func (e *encodeState) writeTime(t time.Time) error {
	sec := t.Unix()
	mega, s := sec/1e6, sec%1e6
	if s < 0 {
		mega--
		s += 1e6
	}
	e.bertHeader(5, &timeAtom)
	e.buf = appendInt(e.buf, mega)
	e.buf = appendInt(e.buf, s)
	e.buf = appendInt(e.buf, int64(t.Nanosecond()/1e3))
	return nil
}

// smallInt reports whether v is an integer 0..255, for the Erlang
// profile's STRING_EXT rule.
func smallInt(v any) (byte, bool) {
	var i int64
	switch x := v.(type) {
	case int64:
		i = x
	case int:
		i = int64(x)
	case int32:
		i = int64(x)
	case int16:
		i = int64(x)
	case int8:
		i = int64(x)
	case uint8:
		return x, true
	case uint16:
		i = int64(x)
	case uint32:
		i = int64(x)
	case uint64:
		if x > 255 {
			return 0, false
		}
		i = int64(x)
	case uint:
		if x > 255 {
			return 0, false
		}
		i = int64(x)
	default:
		return 0, false
	}
	if i < 0 || i > 255 {
		return 0, false
	}
	return byte(i), true
}

func (e *encodeState) writeList(l []any) error {
	if len(l) == 0 {
		e.buf = append(e.buf, tagNil)
		return nil
	}
	if err := e.enter(); err != nil {
		return err
	}
	e.listHeader(len(l))
	for _, x := range l {
		if err := e.encode(x); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, tagNil)
	e.depth--
	return nil
}

func (e *encodeState) writeTuple(t []any) error {
	if err := e.enter(); err != nil {
		return err
	}
	e.tupleHeader(len(t))
	for _, x := range t {
		if err := e.encode(x); err != nil {
			return err
		}
	}
	e.depth--
	return nil
}

func (e *encodeState) writePairs(ps []Pair, asMap bool) error {
	if err := e.enter(); err != nil {
		return err
	}
	if asMap {
		e.buf = binary.BigEndian.AppendUint32(append(e.buf, tagMap), uint32(len(ps)))
		for _, p := range ps {
			if err := e.encode(p.Key); err != nil {
				return err
			}
			if err := e.encode(p.Value); err != nil {
				return err
			}
		}
		e.depth--
		return nil
	}
	if len(ps) == 0 {
		e.buf = append(e.buf, tagNil)
		e.depth--
		return nil
	}
	e.listHeader(len(ps))
	for _, p := range ps {
		e.buf = append(e.buf, tagSmallTuple, 2)
		if err := e.encode(p.Key); err != nil {
			return err
		}
		if err := e.encode(p.Value); err != nil {
			return err
		}
	}
	e.buf = append(e.buf, tagNil)
	e.depth--
	return nil
}

// encode appends the term for v. The common term-model and scalar types
// are handled without reflection.
func (e *encodeState) encode(v any) error {
	switch x := v.(type) {
	case nil:
		e.writeNil()
	case bool:
		e.writeBool(x)
	case Atom:
		return e.writeAtom(string(x))
	case string:
		return e.writeStringBinary(x)
	case []byte:
		return e.writeBinary(x)
	case int64:
		e.buf = appendInt(e.buf, x)
	case int:
		e.buf = appendInt(e.buf, int64(x))
	case int32:
		e.buf = appendInt(e.buf, int64(x))
	case uint8:
		e.buf = appendInt(e.buf, int64(x))
	case uint64:
		e.buf = appendUint(e.buf, x)
	case float64:
		return e.writeFloat(x)
	case *big.Int:
		if x == nil {
			e.writeNil()
			return nil
		}
		e.buf = appendBig(e.buf, x)
	case Tuple:
		return e.writeTuple(x)
	case List:
		return e.writeList(x)
	case []any:
		return e.writeList(x)
	case ByteList:
		e.writeByteList(x)
	case ImproperList:
		return e.writeImproper(x)
	case BitBinary:
		return e.writeBitBinary(x)
	case Map:
		return e.writePairs(x, e.profile == Erlang)
	case Dict:
		if err := e.enter(); err != nil {
			return err
		}
		e.bertHeader(3, &dictAtom)
		if err := e.writePairs(x, false); err != nil {
			return err
		}
		e.depth--
	case Pair:
		return e.writeTuple([]any{x.Key, x.Value})
	case Regex:
		if err := e.enter(); err != nil {
			return err
		}
		e.bertHeader(4, &regexAtom)
		if err := e.writeBinary(x.Source); err != nil {
			return err
		}
		if err := e.writeList(x.Options); err != nil {
			return err
		}
		e.depth--
	case time.Time:
		return e.writeTime(x)
	case RawTerm:
		return e.writeRaw(x, rawTermType)
	default:
		return e.reflectValue(reflect.ValueOf(v))
	}
	return nil
}

func (e *encodeState) writeImproper(l ImproperList) error {
	if len(l.Elems) == 0 {
		return e.encode(l.Tail)
	}
	if err := e.enter(); err != nil {
		return err
	}
	e.listHeader(len(l.Elems))
	for _, x := range l.Elems {
		if err := e.encode(x); err != nil {
			return err
		}
	}
	if err := e.encode(l.Tail); err != nil {
		return err
	}
	e.depth--
	return nil
}

// writeRaw embeds a complete external term (with its version byte) after
// checking it.
func (e *encodeState) writeRaw(b []byte, t reflect.Type) error {
	if len(b) == 0 {
		e.writeNil()
		return nil
	}
	lim := Limits{}.withDefaults()
	lim.MaxSize = math.MaxInt
	inner, err := checkTerm(b, lim)
	if err != nil {
		return &MarshalerError{Type: t, Err: err}
	}
	e.buf = append(e.buf, inner[1:]...)
	return nil
}

func (e *encodeState) reflectValue(v reflect.Value) error {
	if !v.IsValid() {
		e.writeNil()
		return nil
	}
	return typeEncoder(v.Type())(e, v)
}

type encoderFunc func(e *encodeState, v reflect.Value) error

var encoderCache sync.Map // map[reflect.Type]encoderFunc

// typeEncoder returns the cached encoder for t, building it on first use.
// A recursive type gets an indirect function while its encoder is being
// built, which waits for the real one.
func typeEncoder(t reflect.Type) encoderFunc {
	if fi, ok := encoderCache.Load(t); ok {
		return fi.(encoderFunc)
	}
	var (
		wg sync.WaitGroup
		f  encoderFunc
	)
	wg.Add(1)
	fi, loaded := encoderCache.LoadOrStore(t, encoderFunc(func(e *encodeState, v reflect.Value) error {
		wg.Wait()
		return f(e, v)
	}))
	if loaded {
		return fi.(encoderFunc)
	}
	f = newTypeEncoder(t, true)
	wg.Done()
	encoderCache.Store(t, f)
	return f
}

var (
	marshalerType    = reflect.TypeFor[Marshaler]()
	unmarshalerType  = reflect.TypeFor[Unmarshaler]()
	timeType         = reflect.TypeFor[time.Time]()
	bigIntType       = reflect.TypeFor[big.Int]()
	atomType         = reflect.TypeFor[Atom]()
	tupleType        = reflect.TypeFor[Tuple]()
	listType         = reflect.TypeFor[List]()
	improperListType = reflect.TypeFor[ImproperList]()
	byteListType     = reflect.TypeFor[ByteList]()
	bitBinaryType    = reflect.TypeFor[BitBinary]()
	mapType          = reflect.TypeFor[Map]()
	dictType         = reflect.TypeFor[Dict]()
	pairType         = reflect.TypeFor[Pair]()
	regexType        = reflect.TypeFor[Regex]()
	rawTermType      = reflect.TypeFor[RawTerm]()
)

// newTypeEncoder builds the encoder for t. allowAddr says whether to use
// a pointer receiver's MarshalBERT when the value is addressable.
func newTypeEncoder(t reflect.Type, allowAddr bool) encoderFunc {
	if t.Kind() != reflect.Pointer && allowAddr && reflect.PointerTo(t).Implements(marshalerType) {
		return condAddrEncoder(addrMarshalerEncoder, newTypeEncoder(t, false))
	}
	if t.Implements(marshalerType) {
		return marshalerEncoder
	}
	switch t {
	case timeType:
		return func(e *encodeState, v reflect.Value) error { return e.writeTime(v.Interface().(time.Time)) }
	case bigIntType:
		return func(e *encodeState, v reflect.Value) error {
			if v.CanAddr() {
				e.buf = appendBig(e.buf, v.Addr().Interface().(*big.Int))
			} else {
				x := v.Interface().(big.Int)
				e.buf = appendBig(e.buf, &x)
			}
			return nil
		}
	case atomType, tupleType, listType, improperListType, byteListType, bitBinaryType,
		mapType, dictType, pairType, regexType:
		return func(e *encodeState, v reflect.Value) error { return e.encode(v.Interface()) }
	}
	switch t.Kind() {
	case reflect.Bool:
		return func(e *encodeState, v reflect.Value) error { e.writeBool(v.Bool()); return nil }
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return func(e *encodeState, v reflect.Value) error { e.buf = appendInt(e.buf, v.Int()); return nil }
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return func(e *encodeState, v reflect.Value) error { e.buf = appendUint(e.buf, v.Uint()); return nil }
	case reflect.Float32, reflect.Float64:
		return func(e *encodeState, v reflect.Value) error { return e.writeFloat(v.Float()) }
	case reflect.String:
		return func(e *encodeState, v reflect.Value) error { return e.writeStringBinary(v.String()) }
	case reflect.Interface:
		return func(e *encodeState, v reflect.Value) error {
			if v.IsNil() {
				e.writeNil()
				return nil
			}
			return e.encode(v.Elem().Interface())
		}
	case reflect.Struct:
		return newStructEncoder(t)
	case reflect.Map:
		return newMapEncoder(t)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 && !reflect.PointerTo(t.Elem()).Implements(marshalerType) {
			return func(e *encodeState, v reflect.Value) error { return e.writeBinary(v.Bytes()) }
		}
		return newArrayEncoder(t)
	case reflect.Array:
		return newArrayEncoder(t)
	case reflect.Pointer:
		elem := typeEncoder(t.Elem())
		return func(e *encodeState, v reflect.Value) error {
			if v.IsNil() {
				e.writeNil()
				return nil
			}
			// Count pointers as nesting too: a pointer that points to
			// itself, directly or through an interface, is a cycle.
			if err := e.enter(); err != nil {
				return err
			}
			err := elem(e, v.Elem())
			e.depth--
			return err
		}
	}
	return func(e *encodeState, v reflect.Value) error { return &UnsupportedTypeError{Type: t} }
}

func marshalerEncoder(e *encodeState, v reflect.Value) error {
	if v.Kind() == reflect.Pointer && v.IsNil() {
		e.writeNil()
		return nil
	}
	m, ok := v.Interface().(Marshaler)
	if !ok {
		e.writeNil()
		return nil
	}
	b, err := m.MarshalBERT()
	if err != nil {
		return &MarshalerError{Type: v.Type(), Err: err}
	}
	return e.writeRaw(b, v.Type())
}

func addrMarshalerEncoder(e *encodeState, v reflect.Value) error {
	return marshalerEncoder(e, v.Addr())
}

func condAddrEncoder(canAddr, elseEnc encoderFunc) encoderFunc {
	return func(e *encodeState, v reflect.Value) error {
		if v.CanAddr() {
			return canAddr(e, v)
		}
		return elseEnc(e, v)
	}
}

func newArrayEncoder(t reflect.Type) encoderFunc {
	elemEnc := typeEncoder(t.Elem())
	intElems := false
	switch t.Elem().Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		intElems = !t.Elem().Implements(marshalerType) && !reflect.PointerTo(t.Elem()).Implements(marshalerType)
	}
	return func(e *encodeState, v reflect.Value) error {
		n := v.Len()
		if n == 0 {
			e.buf = append(e.buf, tagNil)
			return nil
		}
		if intElems && e.profile == Erlang && n <= math.MaxUint16 && smallIntValues(v) {
			e.buf = binary.BigEndian.AppendUint16(append(e.buf, tagString), uint16(n))
			for i := 0; i < n; i++ {
				el := v.Index(i)
				if el.CanInt() {
					e.buf = append(e.buf, byte(el.Int()))
				} else {
					e.buf = append(e.buf, byte(el.Uint()))
				}
			}
			return nil
		}
		if err := e.enter(); err != nil {
			return err
		}
		e.listHeader(n)
		for i := 0; i < n; i++ {
			if err := elemEnc(e, v.Index(i)); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, tagNil)
		e.depth--
		return nil
	}
}

func smallIntValues(v reflect.Value) bool {
	for i := 0; i < v.Len(); i++ {
		el := v.Index(i)
		if el.CanInt() {
			if x := el.Int(); x < 0 || x > 255 {
				return false
			}
		} else if el.Uint() > 255 {
			return false
		}
	}
	return true
}

// structEncoder writes a struct as a proplist with atom keys.
type structEncoder struct {
	fields   []field
	encoders []encoderFunc
}

func newStructEncoder(t reflect.Type) encoderFunc {
	sf := cachedTypeFields(t)
	se := &structEncoder{fields: sf.list, encoders: make([]encoderFunc, len(sf.list))}
	for i, f := range sf.list {
		se.encoders[i] = typeEncoder(f.typ)
	}
	return se.encode
}

func (se *structEncoder) encode(e *encodeState, v reflect.Value) error {
	if err := e.enter(); err != nil {
		return err
	}
	start := len(e.buf)
	e.listHeader(0)
	n := 0
	for i := range se.fields {
		f := &se.fields[i]
		fv := v
		skip := false
		for _, idx := range f.index[:len(f.index)-1] {
			fv = fv.Field(idx)
			if fv.Kind() == reflect.Pointer {
				if fv.IsNil() {
					skip = true
					break
				}
				fv = fv.Elem()
			}
		}
		if skip {
			continue
		}
		fv = fv.Field(f.index[len(f.index)-1])
		if (f.omitEmpty && isEmptyValue(fv)) || (f.omitZero && fv.IsZero()) {
			continue
		}
		e.buf = append(e.buf, tagSmallTuple, 2)
		if e.profile == Erlang {
			e.buf = append(e.buf, f.keyErlang...)
		} else {
			if f.keyErr != nil {
				return f.keyErr
			}
			e.buf = append(e.buf, f.keyBERTJS...)
		}
		if err := se.encoders[i](e, fv); err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		e.buf = append(e.buf[:start], tagNil)
	} else {
		binary.BigEndian.PutUint32(e.buf[start+1:], uint32(n))
		e.buf = append(e.buf, tagNil)
	}
	e.depth--
	return nil
}

func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

// newMapEncoder writes a map as a proplist: string keys as atoms in
// sorted order, other keys as terms ordered by their encoding, so that
// equal maps give equal bytes.
func newMapEncoder(t reflect.Type) encoderFunc {
	keyString := t.Key().Kind() == reflect.String && !t.Key().Implements(marshalerType)
	keyEnc := typeEncoder(t.Key())
	elemEnc := typeEncoder(t.Elem())
	return func(e *encodeState, v reflect.Value) error {
		if v.Len() == 0 {
			e.buf = append(e.buf, tagNil)
			return nil
		}
		if err := e.enter(); err != nil {
			return err
		}
		type kv struct {
			key []byte
			val reflect.Value
			s   string
		}
		kvs := make([]kv, 0, v.Len())
		it := v.MapRange()
		for it.Next() {
			var kb []byte
			var err error
			var s string
			if keyString {
				s = it.Key().String()
				kb, err = appendAtom(nil, s, e.profile)
			} else {
				saved := e.buf
				e.buf = nil
				err = keyEnc(e, it.Key())
				kb = e.buf
				e.buf = saved
			}
			if err != nil {
				return err
			}
			kvs = append(kvs, kv{key: kb, val: it.Value(), s: s})
		}
		if keyString {
			slices.SortFunc(kvs, func(a, b kv) int { return strings.Compare(a.s, b.s) })
		} else {
			slices.SortFunc(kvs, func(a, b kv) int { return strings.Compare(string(a.key), string(b.key)) })
		}
		e.listHeader(len(kvs))
		for _, p := range kvs {
			e.buf = append(e.buf, tagSmallTuple, 2)
			e.buf = append(e.buf, p.key...)
			if err := elemEnc(e, p.val); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, tagNil)
		e.depth--
		return nil
	}
}
