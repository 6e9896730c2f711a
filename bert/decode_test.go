package bert

import (
	"bytes"
	"errors"
	"io"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"
)

type tagged struct {
	Name  string `bert:"name"`
	Level int    `bert:"level,omitempty"`
	Skip  string `bert:"-"`
	Plain float64
	Tags  []string `bert:"tags"`
}

type Embedded struct {
	ID    string `bert:"id"`
	Inner int
}

type outer struct {
	Embedded
	Name string `bert:"name"`
}

type node struct {
	Name string `bert:"name"`
	Kids []node `bert:"kids"`
	Next *node  `bert:"next"`
}

type textUnmarshaler struct{ got []byte }

func (u *textUnmarshaler) UnmarshalBERT(b []byte) error {
	u.got = bytes.Clone(b)
	return nil
}

type unmarshalTest struct {
	name string
	in   []byte
	ptr  any // pointer to a fresh value of the target type
	out  any // the wanted value (what ptr points to)
	err  error
}

var unmarshalTests = []unmarshalTest{
	// The term model.
	{name: "small int", in: term(sint(7)), ptr: new(any), out: int64(7)},
	{name: "int", in: term(tagInt, u32(0xffffec78)), ptr: new(any), out: int64(-5000)},
	{name: "small big canonical", in: term(tagSmallBig, 8, 0, 0, 0, 0, 0, 0, 0, 0, 128), ptr: new(any), out: bigFromString("9223372036854775808")},
	{name: "small big min int64", in: term(tagSmallBig, 8, 1, 0, 0, 0, 0, 0, 0, 0, 128), ptr: new(any), out: int64(math.MinInt64)},
	{name: "small big padded", in: term(tagSmallBig, 6, 0, 5, 0, 0, 0, 0, 0), ptr: new(any), out: int64(5)},
	{name: "small big empty", in: term(tagSmallBig, 0, 1), ptr: new(any), out: int64(0)},
	{name: "large big", in: term(tagLargeBig, u32(9), 1, 1, 0, 0, 0, 0, 0, 0, 0, 1), ptr: new(any), out: bigFromString("-18446744073709551617")},
	{name: "new float", in: term(tagNewFloat, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0), ptr: new(any), out: 1.5},
	{name: "float ext", in: term(tagFloat, "1.50000000000000000000e+00", 0, 0, 0, 0, 0), ptr: new(any), out: 1.5},
	{name: "float ext short padded", in: term(tagFloat, "1.5e+0", strings.Repeat("\x00", 25)), ptr: new(any), out: 1.5},
	{name: "float ext short unpadded at end", in: term(tagFloat, "-2.5e-1"), ptr: new(any), out: -0.25},
	{name: "atom latin-1", in: term(tagAtom, u16(4), "caf\xe9"), ptr: new(any), out: Atom("café")},
	{name: "small atom", in: term(tagSmallAtom, 2, "ok"), ptr: new(any), out: Atom("ok")},
	{name: "atom utf8", in: term(tagAtomUTF8, u16(6), "αβγ"), ptr: new(any), out: Atom("αβγ")},
	{name: "small atom utf8", in: term(atomE("ατ")), ptr: new(any), out: Atom("ατ")},
	{name: "bare true stays atom", in: term(atomE("true")), ptr: new(any), out: Atom("true")},
	{name: "tuple", in: term(tup(2), atomE("a"), sint(1)), ptr: new(any), out: Tuple{Atom("a"), int64(1)}},
	{name: "empty tuple", in: term(tup(0)), ptr: new(any), out: Tuple{}},
	{name: "large tuple", in: term(tagLargeTuple, u32(1), tagNil), ptr: new(any), out: Tuple{List{}}},
	{name: "nil", in: term(tagNil), ptr: new(any), out: List{}},
	{name: "string", in: term(str("hi")), ptr: new(any), out: ByteList("hi")},
	{name: "empty string", in: term(str("")), ptr: new(any), out: ByteList{}},
	{name: "list", in: term(list(2), sint(1), atomE("b"), tagNil), ptr: new(any), out: List{int64(1), Atom("b")}},
	{name: "improper list", in: term(list(1), sint(1), atomE("t")), ptr: new(any), out: ImproperList{Elems: []any{int64(1)}, Tail: Atom("t")}},
	{name: "list with string tail", in: term(list(1), atomE("a"), str("bc")), ptr: new(any), out: List{Atom("a"), int64('b'), int64('c')}},
	{name: "list with list tail", in: term(list(1), sint(1), list(1), sint(2), tagNil), ptr: new(any), out: List{int64(1), int64(2)}},
	{name: "binary", in: term(bin("abc")), ptr: new(any), out: []byte("abc")},
	{name: "bit binary", in: term(tagBitBinary, u32(2), 3, 0xff, 0xff), ptr: new(any), out: BitBinary{Data: []byte{0xff, 0xe0}, Bits: 3}},
	{name: "bit binary of 8 bits", in: term(tagBitBinary, u32(1), 8, 0xab), ptr: new(any), out: []byte{0xab}},
	{name: "map", in: term(tagMap, u32(1), atomE("k"), sint(1)), ptr: new(any), out: Map{{Key: Atom("k"), Value: int64(1)}}},
	{name: "bert nil", in: term(bertJ("nil")), ptr: new(any), out: nil},
	{name: "bert true", in: term(bertJ("true")), ptr: new(any), out: true},
	{name: "bert false", in: term(tup(2), atomE("bert"), atomE("false")), ptr: new(any), out: false},
	{name: "bert dict", in: term(tup(3), atomJ("bert"), atomJ("dict"), list(1), tup(2), atomJ("k"), sint(1), tagNil), ptr: new(any), out: Dict{{Key: Atom("k"), Value: int64(1)}}},
	{name: "bert dict empty", in: term(tup(3), atomJ("bert"), atomJ("dict"), tagNil), ptr: new(any), out: Dict{}},
	{name: "bert dict not pairs", in: term(tup(3), atomJ("bert"), atomJ("dict"), list(1), sint(1), tagNil), ptr: new(any), out: Tuple{Atom("bert"), Atom("dict"), List{int64(1)}}},
	{name: "bert time", in: term(tup(5), atomJ("bert"), atomJ("time"), tagInt, u32(1255), tagInt, u32(295581), tagInt, u32(446228)), ptr: new(any), out: time.Date(2009, 10, 11, 21, 13, 1, 446228000, time.UTC)},
	{name: "bert time out of range", in: term(tup(5), atomJ("bert"), atomJ("time"), sint(1), tagInt, u32(1000000), sint(0)), ptr: new(any), out: Tuple{Atom("bert"), Atom("time"), int64(1), int64(1000000), int64(0)}},
	{name: "bert regex", in: term(tup(4), atomJ("bert"), atomJ("regex"), bin("^c(a*)t$"), list(1), atomJ("caseless"), tagNil), ptr: new(any), out: Regex{Source: []byte("^c(a*)t$"), Options: List{Atom("caseless")}}},
	{name: "bert alone", in: term(tup(1), atomJ("bert")), ptr: new(any), out: Tuple{Atom("bert")}},
	{name: "bert unknown", in: term(bertJ("other")), ptr: new(any), out: Tuple{Atom("bert"), Atom("other")}},
	{name: "compressed", in: compress(term(list(3), sint(1), sint(2), sint(3), tagNil)), ptr: new(any), out: List{int64(1), int64(2), int64(3)}},

	// Scalars.
	{name: "string from binary", in: term(bin("x")), ptr: new(string), out: "x"},
	{name: "string from byte list", in: term(str("x")), ptr: new(string), out: "x"},
	{name: "string from atom", in: term(atomJ("x")), ptr: new(string), out: "x"},
	{name: "string from latin-1 atom", in: term(tagAtom, u16(1), "\xe9"), ptr: new(string), out: "é"},
	{name: "string from []", in: term(tagNil), ptr: new(string), out: ""},
	{name: "string from int list", in: term(list(2), sint(104), sint(105), tagNil), ptr: new(string), out: "hi"},
	{name: "string from int", in: term(sint(1)), ptr: new(string), out: "", err: &UnmarshalTypeError{Value: "integer 1", Type: reflect.TypeFor[string](), Offset: 1}},
	{name: "Atom from binary", in: term(bin("x")), ptr: new(Atom), out: Atom("x")},
	{name: "bytes from binary", in: term(bin("x")), ptr: new([]byte), out: []byte("x")},
	{name: "bytes from string", in: term(str("x")), ptr: new([]byte), out: []byte("x")},
	{name: "bytes from []", in: term(tagNil), ptr: new([]byte), out: []byte{}},
	{name: "bytes from bert nil", in: term(bertJ("nil")), ptr: new([]byte), out: []byte(nil)},
	{name: "bool from bert true", in: term(bertJ("true")), ptr: new(bool), out: true},
	{name: "bool from atom", in: term(atomJ("true")), ptr: new(bool), out: true},
	{name: "bool from other atom", in: term(atomJ("yes")), ptr: new(bool), out: false, err: &UnmarshalTypeError{Value: "atom yes", Type: reflect.TypeFor[bool](), Offset: 1}},
	{name: "int8", in: term(tagInt, u32(0xffffff80)), ptr: new(int8), out: int8(-128)},
	{name: "int8 overflow", in: term(tagInt, u32(300)), ptr: new(int8), out: int8(0), err: &UnmarshalTypeError{Value: "integer 300", Type: reflect.TypeFor[int8](), Offset: 1}},
	{name: "int64 from big", in: term(tagSmallBig, 8, 1, 0, 0, 0, 0, 0, 0, 0, 128), ptr: new(int64), out: int64(math.MinInt64)},
	{name: "int64 overflow", in: term(tagSmallBig, 8, 0, 0, 0, 0, 0, 0, 0, 0, 128), ptr: new(int64), out: int64(0), err: &UnmarshalTypeError{Value: "integer 9223372036854775808", Type: reflect.TypeFor[int64](), Offset: 1}},
	{name: "uint64 max", in: term(tagSmallBig, 8, 0, 255, 255, 255, 255, 255, 255, 255, 255), ptr: new(uint64), out: uint64(math.MaxUint64)},
	{name: "uint negative", in: term(tagInt, u32(0xffffffff)), ptr: new(uint), out: uint(0), err: &UnmarshalTypeError{Value: "integer -1", Type: reflect.TypeFor[uint](), Offset: 1}},
	{name: "uint8 overflow", in: term(tagInt, u32(256)), ptr: new(uint8), out: uint8(0), err: &UnmarshalTypeError{Value: "integer 256", Type: reflect.TypeFor[uint8](), Offset: 1}},
	{name: "float from int", in: term(sint(3)), ptr: new(float64), out: 3.0},
	{name: "float32", in: term(tagNewFloat, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0), ptr: new(float32), out: float32(1.5)},
	{name: "float32 overflow", in: term(tagNewFloat, 0x7f, 0xef, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), ptr: new(float32), out: float32(0), err: &UnmarshalTypeError{Value: "float", Type: reflect.TypeFor[float32](), Offset: 1}},
	{name: "big.Int", in: term(tagLargeBig, u32(9), 0, 1, 0, 0, 0, 0, 0, 0, 0, 1), ptr: new(big.Int), out: *bigFromString("18446744073709551617")},
	{name: "time", in: term(tup(5), atomJ("bert"), atomJ("time"), sint(0), sint(1), sint(2)), ptr: new(time.Time), out: time.Unix(1, 2000).UTC()},
	{name: "int leaves bert nil alone", in: term(bertJ("nil")), ptr: ptrTo(5), out: 5},
	{name: "pointer from bert nil", in: term(bertJ("nil")), ptr: ptrTo(ptrTo(5)), out: (*int)(nil)},
	{name: "pointer", in: term(sint(5)), ptr: new(*int), out: ptrTo(5)},

	// Collections.
	{name: "slice from list", in: term(list(2), sint(1), sint(2), tagNil), ptr: new([]int), out: []int{1, 2}},
	{name: "slice from string", in: term(str("\x01\x02")), ptr: new([]int), out: []int{1, 2}},
	{name: "slice from tuple", in: term(tup(2), sint(1), sint(2)), ptr: new([]int), out: []int{1, 2}},
	{name: "slice from []", in: term(tagNil), ptr: new([]int), out: []int{}},
	{name: "slice from bert nil", in: term(bertJ("nil")), ptr: new([]int), out: []int(nil)},
	{name: "slice with string tail", in: term(list(1), sint(1), str("\x02")), ptr: new([]int), out: []int{1, 2}},
	{name: "slice from improper", in: term(list(1), sint(1), sint(2)), ptr: new([]int), out: []int{1}, err: &UnmarshalTypeError{Value: "improper list", Type: reflect.TypeFor[[]int](), Offset: 8}},
	{name: "slice keeps going after type error", in: term(list(3), sint(1), atomJ("x"), sint(3), tagNil), ptr: new([]int), out: []int{1, 0, 3}, err: &UnmarshalTypeError{Value: "atom x", Type: reflect.TypeFor[int](), Offset: 8}},
	{name: "array short", in: term(list(1), sint(1), tagNil), ptr: new([2]int), out: [2]int{1, 0}},
	{name: "array long", in: term(list(3), sint(1), sint(2), sint(3), tagNil), ptr: new([2]int), out: [2]int{1, 2}},
	{name: "List from string", in: term(str("\x01")), ptr: new(List), out: List{int64(1)}},
	{name: "Map from proplist", in: term(list(1), tup(2), atomJ("a"), sint(1), tagNil), ptr: new(Map), out: Map{{Key: Atom("a"), Value: int64(1)}}},
	{name: "map from proplist", in: term(list(2), tup(2), atomJ("a"), sint(1), tup(2), bin("b"), sint(2), tagNil), ptr: new(map[string]int), out: map[string]int{"a": 1, "b": 2}},
	{name: "map from map", in: term(tagMap, u32(1), str("a"), sint(1)), ptr: new(map[string]int), out: map[string]int{"a": 1}},
	{name: "map from dict", in: term(tup(3), atomJ("bert"), atomJ("dict"), list(1), tup(2), atomJ("a"), sint(1), tagNil), ptr: new(map[string]int), out: map[string]int{"a": 1}},
	{name: "map last key wins", in: term(list(2), tup(2), atomJ("a"), sint(1), tup(2), atomJ("a"), sint(2), tagNil), ptr: new(map[string]int), out: map[string]int{"a": 2}},
	{name: "map int keys", in: term(list(1), tup(2), sint(7), atomJ("x"), tagNil), ptr: new(map[int]string), out: map[int]string{7: "x"}},
	{name: "map any keys", in: term(tagMap, u32(2), atomJ("a"), sint(1), sint(2), sint(3)), ptr: new(map[any]int), out: map[any]int{Atom("a"): 1, int64(2): 3}},
	{name: "map unhashable key", in: term(tagMap, u32(1), bin("a"), sint(1)), ptr: new(map[any]int), out: map[any]int{}, err: &UnmarshalTypeError{Value: "key of type []uint8", Type: reflect.TypeFor[map[any]int](), Offset: 14}},

	// Structs.
	{name: "struct", in: term(list(4), tup(2), atomJ("name"), bin("Bob"), tup(2), atomJ("level"), sint(3), tup(2), atomJ("Plain"), sint(2), tup(2), atomJ("tags"), list(1), str("x"), tagNil, tagNil), ptr: new(tagged), out: tagged{Name: "Bob", Level: 3, Plain: 2, Tags: []string{"x"}}},
	{name: "struct binary and string keys", in: term(list(2), tup(2), bin("name"), str("Bob"), tup(2), str("level"), sint(3), tagNil), ptr: new(tagged), out: tagged{Name: "Bob", Level: 3}},
	{name: "struct ignores unknown and skipped", in: term(list(2), tup(2), atomJ("Skip"), bin("no"), tup(2), atomJ("zzz"), tup(1), sint(1), tagNil), ptr: new(tagged), out: tagged{}},
	{name: "struct keys are case-sensitive", in: term(list(1), tup(2), atomJ("Name"), bin("Bob"), tagNil), ptr: new(tagged), out: tagged{}},
	{name: "struct from dict", in: term(tup(3), atomJ("bert"), atomJ("dict"), list(1), tup(2), atomJ("name"), bin("Bob"), tagNil), ptr: new(tagged), out: tagged{Name: "Bob"}},
	{name: "struct from map", in: term(tagMap, u32(1), atomE("name"), bin("Bob")), ptr: new(tagged), out: tagged{Name: "Bob"}},
	{name: "struct from []", in: term(tagNil), ptr: new(tagged), out: tagged{}},
	{name: "struct from bert nil", in: term(bertJ("nil")), ptr: new(tagged), out: tagged{}},
	{name: "struct keeps going after type error", in: term(list(2), tup(2), atomJ("level"), bin("high"), tup(2), atomJ("name"), bin("Bob"), tagNil), ptr: new(tagged), out: tagged{Name: "Bob"}, err: &UnmarshalTypeError{Value: "binary", Type: reflect.TypeFor[int](), Offset: 16, Field: "level"}},
	{name: "struct from integer", in: term(sint(1)), ptr: new(tagged), out: tagged{}, err: &UnmarshalTypeError{Value: "integer 1", Type: reflect.TypeFor[tagged](), Offset: 1}},
	{name: "struct proplist with bare atom", in: term(list(2), atomJ("flag"), tup(2), atomJ("name"), bin("B"), tagNil), ptr: new(struct {
		Flag bool   `bert:"flag"`
		Name string `bert:"name"`
	}), out: struct {
		Flag bool   `bert:"flag"`
		Name string `bert:"name"`
	}{Flag: true, Name: "B"}},
	{name: "struct proplist with other element", in: term(list(2), sint(1), tup(2), atomJ("name"), bin("B"), tagNil), ptr: new(tagged), out: tagged{Name: "B"}, err: &UnmarshalTypeError{Value: "proplist element integer 1", Type: reflect.TypeFor[tagged](), Offset: 6}},
	{name: "struct ignores non-text keys", in: term(tagMap, u32(2), sint(1), sint(2), atomE("name"), bin("B")), ptr: new(tagged), out: tagged{Name: "B"}},
	{name: "map proplist with bare atom", in: term(list(1), atomJ("flag"), tagNil), ptr: new(map[string]any), out: map[string]any{"flag": Atom("true")}},
	{name: "embedded", in: term(list(3), tup(2), atomJ("id"), bin("7"), tup(2), atomJ("Inner"), sint(1), tup(2), atomJ("name"), bin("n"), tagNil), ptr: new(outer), out: outer{Embedded: Embedded{ID: "7", Inner: 1}, Name: "n"}},
	{name: "recursive", in: term(list(2), tup(2), atomJ("name"), bin("a"), tup(2), atomJ("kids"), list(1), list(1), tup(2), atomJ("name"), bin("b"), tagNil, tagNil, tagNil), ptr: new(node), out: node{Name: "a", Kids: []node{{Name: "b"}}}},
	{name: "any field", in: term(list(1), tup(2), atomJ("v"), tup(1), sint(1), tagNil), ptr: new(struct {
		V any `bert:"v"`
	}), out: struct {
		V any `bert:"v"`
	}{V: Tuple{int64(1)}}},
	{name: "Unmarshaler", in: term(tup(1), sint(1)), ptr: new(textUnmarshaler), out: textUnmarshaler{got: term(tup(1), sint(1))}},
	{name: "RawTerm field", in: term(list(1), tup(2), atomJ("r"), tup(1), sint(1), tagNil), ptr: new(struct {
		R RawTerm `bert:"r"`
	}), out: struct {
		R RawTerm `bert:"r"`
	}{R: RawTerm(term(tup(1), sint(1)))}},
	{name: "non-empty interface", in: term(sint(1)), ptr: new(error), out: error(nil), err: &UnmarshalTypeError{Value: "integer 1", Type: reflect.TypeFor[error](), Offset: 1}},
}

func ptrTo[T any](v T) *T { return &v }

func bigFromString(s string) *big.Int {
	b, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	return b
}

func TestUnmarshal(t *testing.T) {
	for _, tt := range unmarshalTests {
		t.Run(tt.name, func(t *testing.T) {
			err := Unmarshal(tt.in, tt.ptr)
			if !reflect.DeepEqual(err, tt.err) {
				t.Fatalf("error:\n got %#v (%v)\nwant %#v", err, err, tt.err)
			}
			got := reflect.ValueOf(tt.ptr).Elem().Interface()
			if !reflect.DeepEqual(got, tt.out) {
				t.Fatalf("value:\n got %#v\nwant %#v", got, tt.out)
			}
		})
	}
}

// TestUnmarshalReencode checks that terms decoded into any encode back
// to the same bytes (in the profile whose forms the input uses).
func TestUnmarshalReencode(t *testing.T) {
	for _, tt := range unmarshalTests {
		if _, ok := tt.ptr.(*any); !ok || tt.err != nil {
			continue
		}
		var v any
		if err := Unmarshal(tt.in, &v); err != nil {
			t.Fatal(err)
		}
		b1, err := Append(nil, v, Erlang)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		var w any
		if err := Unmarshal(b1, &w); err != nil {
			t.Errorf("%s: decode of re-encoding: %v", tt.name, err)
			continue
		}
		b2, _ := Append(nil, w, Erlang)
		if !bytes.Equal(b1, b2) {
			t.Errorf("%s: encoding not stable:\n%x\n%x", tt.name, b1, b2)
		}
	}
}

func compress(b []byte) []byte {
	var buf bytes.Buffer
	buf.Write([]byte{versionMagic, tagCompressed})
	buf.Write(raw(u32(len(b) - 1)))
	zw := newZlibWriter(&buf)
	zw.Write(b[1:])
	zw.Close()
	return buf.Bytes()
}

func TestUnmarshalZeroCopy(t *testing.T) {
	in := term(bin("abcdef"))
	var b []byte
	if err := (UnmarshalOptions{ZeroCopy: true}).Unmarshal(in, &b); err != nil {
		t.Fatal(err)
	}
	in[len(in)-1] = 'X'
	if string(b) != "abcdeX" {
		t.Errorf("zero-copy []byte does not alias the input: %q", b)
	}
	var v any
	in = term(list(1), bin("xy"), tagNil)
	if err := (UnmarshalOptions{ZeroCopy: true}).Unmarshal(in, &v); err != nil {
		t.Fatal(err)
	}
	in[len(in)-2] = 'Z'
	if got := v.(List)[0].([]byte); string(got) != "xZ" {
		t.Errorf("zero-copy any does not alias the input: %q", got)
	}
	if cap(v.(List)[0].([]byte)) != 2 {
		t.Error("zero-copy slice has capacity beyond its binary: appending would overwrite the input")
	}
	// The default copies.
	in = term(bin("abc"))
	if err := Unmarshal(in, &b); err != nil {
		t.Fatal(err)
	}
	in[len(in)-1] = 'X'
	if string(b) != "abc" {
		t.Errorf("default decode aliases the input")
	}
}

type errorTest struct {
	name string
	in   []byte
	lim  Limits
	is   error  // errors.Is target, if any
	as   any    // pointer to the wanted error type
	msg  string // substring of the message
}

var errorTests = []errorTest{
	{name: "empty", in: nil, is: io.ErrUnexpectedEOF, as: new(*SyntaxError), msg: "bert: unexpected end of input at offset 0"},
	{name: "no version byte", in: raw(tagNil), as: new(*SyntaxError), msg: "version byte"},
	{name: "version only", in: raw(versionMagic), is: io.ErrUnexpectedEOF},
	{name: "trailing", in: term(tagNil, tagNil), is: ErrTrailingData, msg: "offset 2"},
	{name: "truncated int", in: term(tagInt, 0, 0), is: io.ErrUnexpectedEOF},
	{name: "truncated binary", in: term(tagBinary, u32(10), "abc"), is: io.ErrUnexpectedEOF, msg: "BINARY_EXT of length 10 does not fit in the 3 remaining bytes"},
	{name: "huge list", in: term(tagList, u32(math.MaxUint32), tagNil, tagNil, tagNil, tagNil), is: io.ErrUnexpectedEOF, msg: "list of length 4294967295"},
	{name: "huge tuple", in: term(tagLargeTuple, u32(math.MaxUint32), tagNil), is: io.ErrUnexpectedEOF},
	{name: "huge map", in: term(tagMap, u32(3), tagNil, tagNil, tagNil, tagNil, tagNil), is: io.ErrUnexpectedEOF},
	{name: "huge string", in: term(tagString, u16(65535), "x"), is: io.ErrUnexpectedEOF},
	{name: "huge big", in: term(tagLargeBig, u32(math.MaxUint32), 0, 1), is: io.ErrUnexpectedEOF},
	{name: "list without tail", in: term(list(1), tagNil), is: io.ErrUnexpectedEOF},
	{name: "pid", in: term(tup(1), tagNewPid, "whatever"), as: new(*UnsupportedTagError), msg: "bert: unsupported tag 88 (NEW_PID_EXT) at offset 3"},
	{name: "old pid", in: term(tagPid), as: new(*UnsupportedTagError), msg: "tag 103 (PID_EXT) at offset 1"},
	{name: "port", in: term(tagPort), as: new(*UnsupportedTagError)},
	{name: "reference", in: term(tagNewerReference), as: new(*UnsupportedTagError)},
	{name: "fun", in: term(tagNewFun), as: new(*UnsupportedTagError)},
	{name: "export", in: term(tagExport), as: new(*UnsupportedTagError)},
	{name: "unknown tag", in: term(0), as: new(*SyntaxError), msg: "unknown tag 0 at offset 1"},
	{name: "nested compressed", in: term(tup(1), tagCompressed, u32(1), "x"), as: new(*SyntaxError)},
	{name: "bad utf8 atom", in: term(tagSmallAtomUTF8, 1, 0xff), as: new(*SyntaxError), msg: "UTF-8"},
	{name: "nan", in: term(tagNewFloat, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1), as: new(*SyntaxError)},
	{name: "bad float text", in: term(tagFloat, "inf", strings.Repeat("\x00", 28)), as: new(*SyntaxError)},
	{name: "bad big sign", in: term(tagSmallBig, 1, 2, 1), as: new(*SyntaxError)},
	{name: "bad bit count", in: term(tagBitBinary, u32(1), 0, 1), as: new(*SyntaxError)},
	{name: "too deep", in: term(bytes.Repeat(raw(tup(1)), 20), tagNil), lim: Limits{MaxDepth: 10}, is: ErrTooDeep, as: new(*LimitError)},
	{name: "too deep default", in: term(bytes.Repeat(raw(list(1)), 5000), tagNil), is: ErrTooDeep},
	{name: "too large", in: term(bin(strings.Repeat("x", 100))), lim: Limits{MaxSize: 50}, is: ErrTooLarge},
	{name: "decompression bomb header", in: raw(versionMagic, tagCompressed, u32(math.MaxUint32), "x"), is: ErrTooLarge},
	{name: "decompressed over limit", in: compress(term(bin(strings.Repeat("x", 1000)))), lim: Limits{MaxDecompressed: 500}, is: ErrTooLarge},
	{name: "decompressed size lies", in: lieSize(compress(term(bin("abc"))), 3), as: new(*SyntaxError), msg: "declares"},
	{name: "bad zlib", in: raw(versionMagic, tagCompressed, u32(3), "not zlib data"), as: new(*SyntaxError)},
	{name: "truncated zlib", in: compress(term(bin(strings.Repeat("xyz", 100))))[:12], is: io.ErrUnexpectedEOF},
	{name: "trailing in compressed", in: compress(term(tagNil, tagNil)), is: ErrTrailingData},
}

// lieSize rewrites the uncompressed size of a compressed term.
func lieSize(b []byte, size uint32) []byte {
	b = bytes.Clone(b)
	copy(b[2:6], raw(u32(size)))
	return b
}

func TestUnmarshalErrors(t *testing.T) {
	for _, tt := range errorTests {
		t.Run(tt.name, func(t *testing.T) {
			v := any("untouched")
			err := UnmarshalOptions{Limits: tt.lim}.Unmarshal(tt.in, &v)
			if err == nil {
				t.Fatalf("no error; decoded %#v", v)
			}
			if v != "untouched" {
				t.Errorf("v was written: %#v", v)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			if tt.as != nil && !errors.As(err, tt.as) {
				t.Errorf("error %v (%T) is not a %T", err, err, tt.as)
			}
			if !strings.HasPrefix(err.Error(), "bert: ") {
				t.Errorf("message %q does not start with bert: ", err)
			}
			if tt.msg != "" && !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("message %q does not contain %q", err, tt.msg)
			}
			// Decoding into a Go type goes through the scanner first;
			// it must report the same error as decoding into any.
			var ft fuzzTarget
			err2 := UnmarshalOptions{Limits: tt.lim}.Unmarshal(tt.in, &ft)
			if err2 == nil || err2.Error() != err.Error() {
				t.Errorf("into a struct: %v; into any: %v", err2, err)
			}
			if !reflect.ValueOf(ft).IsZero() {
				t.Errorf("struct was written: %+v", ft)
			}
		})
	}
}

func TestUnsupportedTagError(t *testing.T) {
	err := Unmarshal(term(list(1), tagNewPid, tagNil), new(any))
	var ute *UnsupportedTagError
	if !errors.As(err, &ute) || ute.Tag != tagNewPid || ute.Offset != 6 {
		t.Fatalf("got %#v", err)
	}
}

func TestInvalidUnmarshal(t *testing.T) {
	for _, v := range []any{nil, 1, (*int)(nil)} {
		err := Unmarshal(term(sint(1)), v)
		var iue *InvalidUnmarshalError
		if !errors.As(err, &iue) || !strings.HasPrefix(err.Error(), "bert: Unmarshal(") {
			t.Errorf("Unmarshal into %#v: %v", v, err)
		}
	}
}
