package bert

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// The external format is walked in three places: the scanner (wire.go)
// checks it, the term decoder (decode_term.go) builds the term model, on
// unchecked input when Unmarshal decodes into an interface, and the
// value decoders (decode_value.go) write Go values from checked input.
// FuzzDecodePaths runs every input through all of them, and through the
// stream Decoder, and fails where they disagree:
//
//   - the scanner and the term decoder accept exactly the same inputs;
//   - Unmarshal reports the same error whatever it decodes into, and the
//     error's offset points at what it names;
//   - decoding into any gives one term along every path: the term
//     decoder on unchecked input, the value decoders' interface decoder,
//     zero-copy decoding, and the Decoder fed one byte at a time;
//   - decoding into Go types gives what the term model says it should
//     (see pathTargets), following the rules documented on Unmarshal;
//   - the Decoder reports the error Unmarshal reports, except that it
//     says io.ErrUnexpectedEOF for a term the input ends inside of (or
//     ErrTooLarge when the missing bytes are more than MaxSize), and that
//     it returns a term followed by trailing data, which is the next
//     term's business.
//
// go test -run='^$' -fuzz=FuzzDecodePaths -fuzztime=30s ./bert/
func FuzzDecodePaths(f *testing.F) {
	addDecodeSeeds(f)
	for _, tt := range pathTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, lim := range pathLimits {
			checkPaths(t, data, lim)
		}
	})
}

// pathLimits are the limits each input is decoded under: roomy ones, and
// tight ones so that the limits themselves are compared too.
var pathLimits = []Limits{
	{MaxSize: 1 << 20, MaxDepth: 200, MaxDecompressed: 1 << 20},
	{MaxSize: 100, MaxDepth: 3, MaxDecompressed: 200},
}

// pathTests are inputs on which the paths once disagreed, checked by
// TestDecodePaths on every run.
var pathTests = []struct {
	name string
	in   []byte
}{
	// Decoding into a map with string keys crashed on a key that is not
	// text.
	{"string-keyed map, integer key", term(list(1), tup(2), sint(7), atomJ("x"), tagNil)},
	// The term model has a BIT_BINARY_EXT with a whole last byte as a
	// binary; decoding into string and []byte refused it.
	{"bit binary of 8 bits", term(tagBitBinary, u32(2), 8, "ab")},
	// [ | T] is T, but the value decoders saw a list.
	{"empty list header before an integer", term(list(0), sint(48))},
	{"empty list headers before a map", term(list(0), list(0), tagMap, u32(1), atomE("a"), sint(1))},
	{"empty list headers before a proplist key", term(list(1), tup(2), list(0), list(0), bin("c"), sint(1), tagNil)},
	// zlib data that inflates past the declared size before it breaks
	// off: the Decoder, which inflates as the bytes arrive, must report
	// the size, as Unmarshal does, not the missing bytes.
	{"compressed, over its size, then truncated", fromHex("835000000330789c3238300a46c128633030303030")},
	// A FLOAT_EXT ending the input short of its 31 bytes, where 31
	// bytes would pass MaxSize (100 in pathLimits): the Decoder called
	// the term too large instead of looking for the end of the input.
	// And when the end showed a bad float, it said unexpected EOF
	// instead of what was wrong.
	{"short float at the end, bad", term(tup(2), bin(strings.Repeat("x", 62)), tagFloat, "1e")},
	{"short float at the end, good", term(tup(2), bin(strings.Repeat("x", 80)), tagFloat, "-2.5e-1")},
	{"short float at the end, 100 bytes", term(tup(2), bin(strings.Repeat("x", 83)), tagFloat, "-2.5e-01")},
	{"short float at the end, 101 bytes", term(tup(2), bin(strings.Repeat("x", 84)), tagFloat, "-2.5e-01")}, // too large either way
	// The term model reads BERT complex types written as LARGE_TUPLE_EXT
	// (and pairs so written in proplists); the value decoders looked for
	// SMALL_TUPLE_EXT only.
	{"bert true, large tuple", term(largeTup(2), atomJ("bert"), atomJ("true"))},
	{"bert nil, large tuple", term(largeTup(2), atomJ("bert"), atomJ("nil"))},
	{"bert time, large tuple", term(largeTup(5), atomJ("bert"), atomJ("time"), sint(0), sint(1), sint(2))},
	{"bert dict, large tuple", term(largeTup(3), atomJ("bert"), atomJ("dict"), list(1), tup(2), atomJ("a"), sint(1), tagNil)},
	{"proplist pair, large tuple", term(list(1), largeTup(2), atomJ("a"), sint(1), tagNil)},
	// [{a, 1} | ""] is [{a, 1}], but struct and map decoding called it
	// improper.
	{"proplist with an empty string tail", term(list(1), tup(2), atomJ("a"), sint(1), str(""))},
	{"dict with an empty string tail", term(tup(3), atomJ("bert"), atomJ("dict"), list(1), tup(2), atomJ("a"), sint(1), str(""))},
	{"proplist with a string tail", term(list(1), tup(2), atomJ("a"), sint(1), str("x"))}, // not a proplist either way
	// A bare atom c is {c, true}; the type error for true had an offset
	// in the decoder's scratch copy of the pair, not in the input.
	{"bare atom for a field that is not bool", term(list(1), atomE("c"), tagNil)},
}

func largeTup(n int) []byte { return raw(tagLargeTuple, u32(n)) }

func fromHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestDecodePaths(t *testing.T) {
	for _, tt := range pathTests {
		t.Run(tt.name, func(t *testing.T) {
			for _, lim := range pathLimits {
				checkPaths(t, tt.in, lim)
			}
		})
	}
}

// checkPaths decodes data along every path under lim and fails where they
// disagree.
func checkPaths(t *testing.T, data []byte, lim Limits) {
	t.Helper()
	opts := UnmarshalOptions{Limits: lim}
	inner, scanErr := checkTerm(data, lim.withDefaults())

	// The term decoder on unchecked input, as Unmarshal's fast path runs
	// it, accepts what the scanner accepts (MaxSize aside: the fast path
	// is not taken for input over it).
	fast := len(data) > 1 && data[0] == versionMagic && data[1] != tagCompressed
	var fastTerm any
	if fast {
		var fastOK bool
		fastTerm, fastOK = decodeUnchecked(data, lim.withDefaults().MaxDepth)
		big := lim
		big.MaxSize = max(len(data), lim.MaxSize)
		_, bigErr := checkTerm(data, big.withDefaults())
		if fastOK != (bigErr == nil) {
			t.Fatalf("%x: the term decoder accepts it: %v; the scanner says %v", data, fastOK, bigErr)
		}
	}

	var v any
	errAny := opts.Unmarshal(data, &v)
	if !sameError(errAny, scanErr) {
		t.Fatalf("%x: Unmarshal into any: %v; the scanner: %v", data, errAny, scanErr)
	}
	if scanErr != nil {
		checkScanError(t, data, scanErr)
		// Every Go type gets the same error and is left alone.
		for _, target := range pathTargets {
			p := target.ptr()
			err := opts.Unmarshal(data, p)
			if !sameError(err, scanErr) {
				t.Fatalf("%x: Unmarshal into %T: %v; into any: %v", data, p, err, scanErr)
			}
			if !reflect.ValueOf(p).Elem().IsZero() {
				t.Fatalf("%x: Unmarshal into %T wrote %#v", data, p, reflect.ValueOf(p).Elem())
			}
		}
		checkStreamError(t, data, lim, scanErr)
		return
	}
	if fast && !reflect.DeepEqual(fastTerm, v) {
		t.Fatalf("%x: unchecked decoding gives %#v, Unmarshal %#v", data, fastTerm, v)
	}

	// The value decoders' own interface decoder.
	var w any
	d := decodeStatePool.Get().(*decodeState)
	d.init(inner, false)
	d.value(reflect.ValueOf(&w))
	err, end := d.savedError, d.off
	d.release()
	if err != nil || end != len(inner) {
		t.Fatalf("%x: value decoder into any: %v, stopped at %d of %d", data, err, end, len(inner))
	}
	if !reflect.DeepEqual(w, v) {
		t.Fatalf("%x: value decoder into any gives %#v, the term decoder %#v", data, w, v)
	}
	var zc any
	if err := (UnmarshalOptions{Limits: lim, ZeroCopy: true}).Unmarshal(data, &zc); err != nil || !reflect.DeepEqual(zc, v) {
		t.Fatalf("%x: zero-copy decoding gives %#v, %v; copying %#v", data, zc, err, v)
	}

	// Go types.
	for _, target := range pathTargets {
		p := target.ptr()
		err := opts.Unmarshal(data, p)
		got := reflect.ValueOf(p).Elem().Interface()
		want, ok := target.expect(v, inner)
		if err == nil && !ok {
			t.Fatalf("%x: Unmarshal into %T gives %#v; want a type error (term %#v)", data, p, got, v)
		}
		if err != nil {
			var ute *UnmarshalTypeError
			if !errors.As(err, &ute) {
				t.Fatalf("%x: Unmarshal into %T of a valid term: %v", data, p, err)
			}
			if ok {
				t.Fatalf("%x: Unmarshal into %T: %v; want %#v (term %#v)", data, p, err, want, v)
			}
			checkTypeErrorOffset(t, data, inner, ute, target.scalar)
			continue
		}
		if !equalValues(got, want) {
			t.Fatalf("%x: Unmarshal into %T gives %#v; want %#v (term %#v)", data, p, got, want, v)
		}
	}

	// The stream decoder, fed one byte at a time.
	dec := NewDecoder(iotest.OneByteReader(bytes.NewReader(data)))
	dec.SetLimits(lim)
	var s any
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("%x: Decoder: %v; Unmarshal accepts it", data, err)
	}
	if !reflect.DeepEqual(s, v) {
		t.Fatalf("%x: Decoder gives %#v, Unmarshal %#v", data, s, v)
	}
	if err := dec.Decode(&s); err != io.EOF {
		t.Fatalf("%x: Decoder after the only term: %v", data, err)
	}
}

// decodeUnchecked runs the term decoder on unchecked input, as Unmarshal
// into an interface does first.
func decodeUnchecked(data []byte, maxDepth int) (any, bool) {
	d := decodeStatePool.Get().(*decodeState)
	d.init(data, false)
	d.maxDepth = maxDepth
	v := d.term()
	ok := !d.bad && d.off == len(data)
	d.release()
	return v, ok
}

// sameError reports whether a and b are the same error: same type, same
// message.
func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return reflect.TypeOf(a) == reflect.TypeOf(b) && a.Error() == b.Error()
}

// checkScanError checks that a scanner error is one of the documented
// types and that its offset points at what it names.
func checkScanError(t *testing.T, data []byte, err error) {
	t.Helper()
	compressed := len(data) > 1 && data[0] == versionMagic && data[1] == tagCompressed
	var (
		se  *SyntaxError
		ute *UnsupportedTagError
		le  *LimitError
	)
	switch {
	case errors.As(err, &se):
		if se.Offset < 0 || !compressed && se.Offset > int64(len(data)) {
			t.Fatalf("%x: %v: offset out of the input", data, err)
		}
	case errors.As(err, &ute):
		if !isUnsupportedTag(ute.Tag) {
			t.Fatalf("%x: %v: not an unsupported tag", data, err)
		}
		if !compressed && (ute.Offset >= int64(len(data)) || data[ute.Offset] != ute.Tag) {
			t.Fatalf("%x: %v: the tag is not at that offset", data, err)
		}
	case errors.As(err, &le):
		if errors.Is(err, ErrTooDeep) && !compressed {
			if le.Offset >= int64(len(data)) {
				t.Fatalf("%x: %v: offset out of the input", data, err)
			}
			switch data[le.Offset] {
			case tagSmallTuple, tagLargeTuple, tagList, tagMap:
			default:
				t.Fatalf("%x: %v: no container at that offset", data, err)
			}
		}
	default:
		t.Fatalf("%x: scanner error of type %T: %v", data, err, err)
	}
}

// checkTypeErrorOffset checks that a type error's offset is that of a
// term in the checked input: for a scalar target, the whole term's.
func checkTypeErrorOffset(t *testing.T, data, inner []byte, ute *UnmarshalTypeError, scalar bool) {
	t.Helper()
	if scalar {
		if want := int64(termStart(inner)); ute.Offset != want {
			t.Fatalf("%x: %v: want offset %d", data, ute, want)
		}
		return
	}
	if ute.Offset < 1 || ute.Offset >= int64(len(inner)) {
		t.Fatalf("%x: %v: offset out of the term", data, ute)
	}
	s := scanner{data: inner, maxDepth: math.MaxInt, final: true}
	if _, err := s.scan(int(ute.Offset), 0); err != nil {
		t.Fatalf("%x: %v: no term at that offset: %v", data, ute, err)
	}
}

// termStart returns where the term that inner holds starts once the
// empty list headers of [ | T], which stands for T, are passed.
func termStart(inner []byte) int {
	p := 1
	for inner[p] == tagList && string(inner[p+1:p+5]) == "\x00\x00\x00\x00" {
		p += 5
	}
	switch inner[p] {
	case tagNil, tagString, tagList:
		// A list after all.
		return 1
	}
	return p
}

// checkStreamError checks what the Decoder says about data, which
// Unmarshal refuses with err.
func checkStreamError(t *testing.T, data []byte, lim Limits, err error) {
	t.Helper()
	dec := NewDecoder(iotest.OneByteReader(bytes.NewReader(data)))
	dec.SetLimits(lim)
	var v any
	got := dec.Decode(&v)
	if len(data) > lim.withDefaults().MaxSize {
		// Unmarshal refuses it for its size; the Decoder, which cannot
		// see the size up front, may find something else first.
		if got == nil {
			raw, _ := NewDecoder(bytes.NewReader(data)).ReadTerm()
			if len(raw) > lim.MaxSize {
				t.Fatalf("%x: Decoder returns a term of %d bytes, over MaxSize", data, len(raw))
			}
		}
		return
	}
	var se *SyntaxError
	switch {
	case len(data) == 0:
		// No term at all is the clean end of a stream.
		if got != io.EOF {
			t.Fatalf("Decoder of no input: %v", got)
		}
	case errors.As(err, &se) && errors.Is(err, ErrTrailingData) && se.msg == "trailing data after term":
		// The Decoder returns the term and leaves the rest.
		var want any
		if e := (UnmarshalOptions{Limits: lim}).Unmarshal(data[:se.Offset], &want); e != nil {
			t.Fatalf("%x: the term before the trailing data: %v", data, e)
		}
		if got != nil || !reflect.DeepEqual(v, want) {
			t.Fatalf("%x: Decoder gives %#v, %v; want %#v", data, v, got, want)
		}
	case errors.As(err, &se) && se.need > 0:
		// Truncated: the Decoder waits for more and gets EOF, unless
		// what is missing would take it past MaxSize.
		var le *LimitError
		switch {
		case got == io.ErrUnexpectedEOF:
		case errors.As(got, &le) && errors.Is(got, ErrTooLarge) && se.need > lim.withDefaults().MaxSize:
		default:
			t.Fatalf("%x: Decoder: %v; Unmarshal: %v (need %d)", data, got, err, se.need)
		}
	default:
		if !sameError(got, err) {
			t.Fatalf("%x: Decoder: %v; Unmarshal: %v", data, got, err)
		}
	}
}

// A pathTarget is a Go type to decode into, with what decoding a term
// into it should give.
type pathTarget struct {
	ptr func() any // a pointer to a new zero value
	// expect returns the value Unmarshal should store for term (whose
	// checked bytes are inner), or false if it should report a type
	// error.
	expect func(term any, inner []byte) (any, bool)
	// scalar says that a type error is always about the whole term.
	scalar bool
}

type pathStruct struct {
	A any    `bert:"a"`
	B string `bert:"b"`
	C int64  `bert:"c"`
}

var pathTargets = []pathTarget{
	{ptr: func() any { return new(bool) }, scalar: true, expect: func(t any, _ []byte) (any, bool) {
		switch x := t.(type) {
		case nil:
			return false, true
		case bool:
			return x, true
		case Atom:
			return x == "true", x == "true" || x == "false"
		}
		return nil, false
	}},
	{ptr: func() any { return new(int64) }, scalar: true, expect: func(t any, _ []byte) (any, bool) {
		return expectInt(t)
	}},
	{ptr: func() any { return new(uint8) }, scalar: true, expect: func(t any, _ []byte) (any, bool) {
		switch x := t.(type) {
		case nil:
			return uint8(0), true
		case int64:
			return uint8(x), x >= 0 && x <= 255
		}
		return nil, false
	}},
	{ptr: func() any { return new(float64) }, scalar: true, expect: func(t any, _ []byte) (any, bool) {
		switch x := t.(type) {
		case nil:
			return 0.0, true
		case float64:
			return x, true
		case int64:
			return float64(x), true
		case *big.Int:
			f, _ := new(big.Float).SetInt(x).Float64()
			return f, true
		}
		return nil, false
	}},
	{ptr: func() any { return new(big.Int) }, scalar: true, expect: func(t any, _ []byte) (any, bool) {
		switch x := t.(type) {
		case nil:
			return big.Int{}, true
		case int64:
			return *big.NewInt(x), true
		case *big.Int:
			return *x, true
		}
		return nil, false
	}},
	{ptr: func() any { return new(time.Time) }, scalar: true, expect: func(t any, _ []byte) (any, bool) {
		switch x := t.(type) {
		case nil:
			return time.Time{}, true
		case time.Time:
			return x, true
		}
		return nil, false
	}},
	{ptr: func() any { return new(string) }, scalar: true, expect: func(t any, _ []byte) (any, bool) {
		return expectString(t)
	}},
	{ptr: func() any { return new([]byte) }, scalar: true, expect: func(t any, _ []byte) (any, bool) {
		switch x := t.(type) {
		case nil:
			return []byte(nil), true
		case []byte:
			return x, true
		case ByteList:
			return []byte(x), true
		case List:
			b := make([]byte, len(x))
			for i, e := range x {
				c, ok := e.(int64)
				if !ok || c < 0 || c > 255 {
					return nil, false
				}
				b[i] = byte(c)
			}
			return b, true
		}
		return nil, false
	}},
	{ptr: func() any { return new(*int64) }, scalar: true, expect: func(t any, _ []byte) (any, bool) {
		if t == nil {
			return (*int64)(nil), true
		}
		i, ok := expectInt(t)
		if !ok {
			return nil, false
		}
		return &[]int64{i.(int64)}[0], true
	}},
	{ptr: func() any { return new(RawTerm) }, scalar: true, expect: func(_ any, inner []byte) (any, bool) {
		return RawTerm(inner), true
	}},
	{ptr: func() any { return new([]any) }, expect: func(t any, _ []byte) (any, bool) {
		if t == nil {
			return []any(nil), true
		}
		switch x := wireForm(t).(type) {
		case List:
			return append([]any{}, x...), true
		case Tuple:
			return append([]any{}, x...), true
		case ByteList:
			l := make([]any, len(x))
			for i, c := range x {
				l[i] = int64(c)
			}
			return l, true
		}
		return nil, false
	}},
	{ptr: func() any { return new(map[string]any) }, expect: func(t any, _ []byte) (any, bool) {
		if t == nil {
			return map[string]any(nil), true
		}
		pairs, ok := expectPairs(t)
		if !ok {
			return nil, false
		}
		m := map[string]any{}
		for _, p := range pairs {
			k, ok := AsString(p.Key)
			if !ok {
				return nil, false
			}
			m[k] = p.Value
		}
		return m, true
	}},
	{ptr: func() any { return new(pathStruct) }, expect: func(t any, _ []byte) (any, bool) {
		var s pathStruct
		if t == nil {
			return s, true
		}
		pairs, ok := expectPairs(t)
		if !ok {
			return nil, false
		}
		for _, p := range pairs {
			k, _ := AsString(p.Key)
			switch k {
			case "a":
				s.A = p.Value
			case "b":
				v, ok := expectString(p.Value)
				if !ok {
					return nil, false
				}
				s.B = v.(string)
			case "c":
				v, ok := expectInt(p.Value)
				if !ok {
					return nil, false
				}
				s.C = v.(int64)
			}
		}
		return s, true
	}},
}

func expectInt(t any) (any, bool) {
	switch x := t.(type) {
	case nil:
		return int64(0), true
	case int64:
		return x, true
	}
	return nil, false
}

func expectString(t any) (any, bool) {
	if t == nil {
		return "", true
	}
	s, ok := AsString(t)
	return s, ok
}

// expectPairs returns the key/value pairs that struct and map decoding
// read from a term: a proplist, where a bare atom A is {A, true}, a
// {bert, dict, Proplist} or a map. ok is false if the term is none of
// them or a proplist has an element that is neither a pair nor an atom.
func expectPairs(t any) (pairs []Pair, ok bool) {
	switch x := t.(type) {
	case Map:
		return x, true
	case Dict:
		return x, true
	case List:
		return expectProplist(x)
	case Tuple:
		if len(x) == 3 && x[0] == Atom("bert") && x[1] == Atom("dict") {
			if l, ok := x[2].(List); ok {
				return expectProplist(l)
			}
		}
	}
	return nil, false
}

func expectProplist(l List) ([]Pair, bool) {
	var pairs []Pair
	for _, e := range l {
		switch x := wireForm(e).(type) {
		case Tuple:
			if len(x) != 2 {
				return nil, false
			}
			pairs = append(pairs, Pair{Key: x[0], Value: x[1]})
		case Atom:
			pairs = append(pairs, Pair{Key: x, Value: Atom("true")})
		default:
			return nil, false
		}
	}
	return pairs, true
}

// wireForm returns a BERT complex type as the tuple it is on the wire,
// which is what the value decoders see of it where they want a tuple;
// other terms it returns as they are.
func wireForm(t any) any {
	bert := Atom("bert")
	switch x := t.(type) {
	case nil:
		return Tuple{bert, Atom("nil")}
	case bool:
		return Tuple{bert, Atom(fmt.Sprint(x))}
	case Dict:
		l := make(List, len(x))
		for i, p := range x {
			l[i] = Tuple{p.Key, p.Value}
		}
		return Tuple{bert, Atom("dict"), l}
	case time.Time:
		sec := x.Unix()
		mega := sec / 1e6
		if sec%1e6 < 0 {
			mega--
		}
		return Tuple{bert, Atom("time"), mega, sec - mega*1e6, int64(x.Nanosecond() / 1000)}
	case Regex:
		return Tuple{bert, Atom("regex"), x.Source, x.Options}
	}
	return t
}

// equalValues compares decoded Go values, big.Int by value.
func equalValues(a, b any) bool {
	if x, ok := a.(big.Int); ok {
		y, ok := b.(big.Int)
		return ok && x.Cmp(&y) == 0
	}
	return reflect.DeepEqual(a, b)
}
