package bert

import (
	"bytes"
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"
)

type marshalTest struct {
	name string
	in   any
	p    Profile
	want []byte // without the version byte
}

type omitter struct {
	A string         `bert:"a,omitempty"`
	B int            `bert:"b,omitempty"`
	C []int          `bert:"c,omitempty"`
	D *int           `bert:"d,omitempty"`
	E map[string]int `bert:"e,omitempty"`
	T time.Time      `bert:"t,omitzero"`
}

type selfMarshaler struct{ n int }

func (s selfMarshaler) MarshalBERT() ([]byte, error) {
	return Append(nil, Tuple{Atom("self"), s.n}, BERTJS)
}

type ptrMarshaler struct{ n int }

func (s *ptrMarshaler) MarshalBERT() ([]byte, error) {
	return Append(nil, Atom("ptr"), BERTJS)
}

var marshalTests = []marshalTest{
	{name: "nil", in: nil, want: bertJ("nil")},
	{name: "nil erlang", in: nil, p: Erlang, want: raw(tup(2), atomE("bert"), atomE("nil"))},
	{name: "true", in: true, want: bertJ("true")},
	{name: "false erlang", in: false, p: Erlang, want: raw(tup(2), atomE("bert"), atomE("false"))},
	{name: "atom", in: Atom("hello"), want: atomJ("hello")},
	{name: "atom erlang", in: Atom("hello"), p: Erlang, want: atomE("hello")},
	{name: "latin-1 atom", in: Atom("café"), want: raw(tagAtom, u16(4), "caf\xe9")},
	{name: "utf8 atom erlang", in: Atom("ατομο"), p: Erlang, want: atomE("ατομο")},
	{name: "long utf8 atom erlang", in: Atom(strings.Repeat("α", 200)), p: Erlang, want: raw(tagAtomUTF8, u16(400), strings.Repeat("α", 200))},
	{name: "string", in: "hi", want: bin("hi")},
	{name: "bytes", in: []byte("hi"), want: bin("hi")},
	{name: "nil bytes", in: []byte(nil), want: bin("")},
	{name: "byte list", in: ByteList("hi"), want: str("hi")},
	{name: "empty byte list bertjs", in: ByteList{}, want: str("")},
	{name: "empty byte list erlang", in: ByteList{}, p: Erlang, want: str("")},
	{name: "long byte list", in: ByteList(make([]byte, 65536)), want: raw(list(65536), bytes.Repeat(sint(0), 65536), tagNil)},
	{name: "0", in: 0, want: sint(0)},
	{name: "255", in: int64(255), want: sint(255)},
	{name: "256", in: 256, want: raw(tagInt, u32(256))},
	{name: "-1", in: -1, want: raw(tagInt, u32(0xffffffff))},
	{name: "max int32", in: int32(math.MaxInt32), want: raw(tagInt, u32(math.MaxInt32))},
	{name: "987654321", in: 987654321, want: raw(tagInt, u32(987654321))},
	{name: "2^31", in: int64(1) << 31, want: raw(tagSmallBig, 4, 0, 0, 0, 0, 128)},
	{name: "min int64", in: int64(math.MinInt64), want: raw(tagSmallBig, 8, 1, 0, 0, 0, 0, 0, 0, 0, 128)},
	{name: "max uint64", in: uint64(math.MaxUint64), want: raw(tagSmallBig, 8, 0, 255, 255, 255, 255, 255, 255, 255, 255)},
	{name: "uint8", in: uint8(7), want: sint(7)},
	{name: "uint16", in: uint16(300), want: raw(tagInt, u32(300))},
	{name: "big small", in: big.NewInt(5), want: sint(5)},
	{name: "big", in: bigFromString("-18446744073709551617"), want: raw(tagSmallBig, 9, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1)},
	{name: "big large", in: new(big.Int).Lsh(big.NewInt(1), 2048), want: raw(tagLargeBig, u32(257), 0, make([]byte, 256), 1)},
	{name: "big value", in: *big.NewInt(300), want: raw(tagInt, u32(300))},
	{name: "float bertjs", in: 1.5, want: raw(tagFloat, "1.50000000000000000000e+00", 0, 0, 0, 0, 0)},
	{name: "negative float bertjs", in: -3.14159, want: raw(tagFloat, "-3.14158999999999988262e+00", 0, 0, 0, 0)},
	{name: "big float bertjs", in: 1e300, want: raw(tagFloat, "1.00000000000000005250e+300", 0, 0, 0, 0)},
	{name: "float erlang", in: 1.5, p: Erlang, want: raw(tagNewFloat, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0)},
	{name: "float32", in: float32(0.5), p: Erlang, want: raw(tagNewFloat, 0x3f, 0xe0, 0, 0, 0, 0, 0, 0)},
	{name: "tuple", in: Tuple{Atom("a"), 1}, want: raw(tup(2), atomJ("a"), sint(1))},
	{name: "large tuple", in: Tuple(make([]any, 256)), want: raw(tagLargeTuple, u32(256), bytes.Repeat(bertJ("nil"), 256))},
	{name: "empty list", in: List{}, want: raw(tagNil)},
	{name: "nil list", in: List(nil), want: raw(tagNil)},
	{name: "list", in: List{1, Atom("b")}, want: raw(list(2), sint(1), atomJ("b"), tagNil)},
	{name: "int list bertjs", in: List{1, 2}, want: raw(list(2), sint(1), sint(2), tagNil)},
	{name: "int list erlang", in: List{int64(1), 2, uint8(3)}, p: Erlang, want: raw(list(3), sint(1), sint(2), sint(3), tagNil)},
	{name: "int slice erlang", in: []int{104, 105}, p: Erlang, want: str("hi")},
	{name: "int slice not small erlang", in: []int{1, 256}, p: Erlang, want: raw(list(2), sint(1), raw(tagInt, u32(256)), tagNil)},
	{name: "improper", in: ImproperList{Elems: []any{1}, Tail: Atom("t")}, want: raw(list(1), sint(1), atomJ("t"))},
	{name: "bit binary", in: BitBinary{Data: []byte{0xff, 0xff}, Bits: 3}, want: raw(tagBitBinary, u32(2), 3, 0xff, 0xe0)},
	{name: "bit binary 8", in: BitBinary{Data: []byte{1}, Bits: 8}, want: bin("\x01")},
	{name: "map erlang", in: Map{{Key: Atom("k"), Value: 1}}, p: Erlang, want: raw(tagMap, u32(1), atomE("k"), sint(1))},
	{name: "map bertjs", in: Map{{Key: Atom("k"), Value: 1}}, want: raw(list(1), tup(2), atomJ("k"), sint(1), tagNil)},
	{name: "empty map bertjs", in: Map{}, want: raw(tagNil)},
	{name: "dict", in: Dict{{Key: Atom("k"), Value: 1}}, want: raw(tup(3), atomJ("bert"), atomJ("dict"), list(1), tup(2), atomJ("k"), sint(1), tagNil)},
	{name: "empty dict", in: Dict{}, want: raw(tup(3), atomJ("bert"), atomJ("dict"), tagNil)},
	{name: "pair", in: Pair{Key: 1, Value: 2}, want: raw(tup(2), sint(1), sint(2))},
	{name: "regex", in: Regex{Source: []byte("a+"), Options: List{Atom("caseless")}}, want: raw(tup(4), atomJ("bert"), atomJ("regex"), bin("a+"), list(1), atomJ("caseless"), tagNil)},
	{name: "time", in: time.Date(2009, 10, 11, 21, 13, 1, 446228999, time.UTC), want: raw(tup(5), atomJ("bert"), atomJ("time"), raw(tagInt, u32(1255)), raw(tagInt, u32(295581)), raw(tagInt, u32(446228)))},
	{name: "time before 1970", in: time.Unix(-1, 0), want: raw(tup(5), atomJ("bert"), atomJ("time"), raw(tagInt, u32(0xffffffff)), raw(tagInt, u32(999999)), sint(0))},
	{name: "struct", in: tagged{Name: "Bob", Level: 3, Skip: "x", Plain: 0.5}, p: Erlang, want: raw(list(4), tup(2), atomE("name"), bin("Bob"), tup(2), atomE("level"), sint(3), tup(2), atomE("Plain"), raw(tagNewFloat, 0x3f, 0xe0, 0, 0, 0, 0, 0, 0), tup(2), atomE("tags"), tagNil, tagNil)},
	{name: "omitempty", in: omitter{}, want: raw(tagNil)},
	{name: "omitempty set", in: omitter{B: 1, D: ptrTo(0), T: time.Unix(0, 0)}, want: raw(list(3), tup(2), atomJ("b"), sint(1), tup(2), atomJ("d"), sint(0), tup(2), atomJ("t"), tup(5), atomJ("bert"), atomJ("time"), sint(0), sint(0), sint(0), tagNil)},
	{name: "embedded", in: outer{Embedded: Embedded{ID: "1", Inner: 2}, Name: "n"}, want: raw(list(3), tup(2), atomJ("id"), bin("1"), tup(2), atomJ("Inner"), sint(2), tup(2), atomJ("name"), bin("n"), tagNil)},
	{name: "recursive", in: &node{Name: "a", Next: &node{Name: "b"}}, want: raw(list(3), tup(2), atomJ("name"), bin("a"), tup(2), atomJ("kids"), tagNil, tup(2), atomJ("next"), list(3), tup(2), atomJ("name"), bin("b"), tup(2), atomJ("kids"), tagNil, tup(2), atomJ("next"), bertJ("nil"), tagNil, tagNil)},
	{name: "nil pointer", in: (*int)(nil), want: bertJ("nil")},
	{name: "go map", in: map[string]any{"b": 2, "a": true}, want: raw(list(2), tup(2), atomJ("a"), bertJ("true"), tup(2), atomJ("b"), sint(2), tagNil)},
	{name: "go map int keys", in: map[int]string{2: "b", 1: "a"}, want: raw(list(2), tup(2), sint(1), bin("a"), tup(2), sint(2), bin("b"), tagNil)},
	{name: "empty go map", in: map[string]int{}, want: raw(tagNil)},
	{name: "nil slice", in: []string(nil), want: raw(tagNil)},
	{name: "array", in: [2]bool{true, false}, want: raw(list(2), bertJ("true"), bertJ("false"), tagNil)},
	{name: "any slice", in: []any{nil, "x"}, want: raw(list(2), bertJ("nil"), bin("x"), tagNil)},
	{name: "named string", in: Atom("x"), want: atomJ("x")},
	{name: "marshaler", in: selfMarshaler{n: 1}, want: raw(tup(2), atomJ("self"), sint(1))},
	{name: "marshaler in slice", in: []selfMarshaler{{n: 2}}, want: raw(list(1), tup(2), atomJ("self"), sint(2), tagNil)},
	{name: "pointer marshaler addressable", in: &struct{ P ptrMarshaler }{}, want: raw(list(1), tup(2), atomJ("P"), atomJ("ptr"), tagNil)},
	{name: "raw term", in: RawTerm(term(tup(1), sint(9))), want: raw(tup(1), sint(9))},
	{name: "empty raw term", in: RawTerm(nil), want: bertJ("nil")},
	{name: "compressed raw term", in: RawTerm(compress(term(sint(3)))), want: sint(3)},
}

func TestMarshal(t *testing.T) {
	for _, tt := range marshalTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Append(nil, tt.in, tt.p)
			if err != nil {
				t.Fatal(err)
			}
			want := append([]byte{versionMagic}, tt.want...)
			if !bytes.Equal(got, want) {
				t.Fatalf("\n got %x\nwant %x", trunc(got), trunc(want))
			}
			if tt.p == BERTJS {
				m, err := Marshal(tt.in)
				if err != nil || !bytes.Equal(m, got) {
					t.Fatalf("Marshal differs from Append(BERTJS): %x, %v", trunc(m), err)
				}
			}
			// Whatever we write, we read.
			var v any
			if err := Unmarshal(got, &v); err != nil {
				t.Fatalf("decoding our own output: %v", err)
			}
		})
	}
}

func TestAppendKeepsPrefix(t *testing.T) {
	dst := []byte("prefix")
	out, err := Append(dst, Atom("a"), Erlang)
	if err != nil {
		t.Fatal(err)
	}
	if want := append([]byte("prefix\x83"), atomE("a")...); !bytes.Equal(out, want) {
		t.Fatalf("got %q", out)
	}
	out, err = Append([]byte("p"), make(chan int), Erlang)
	if err == nil || string(out) != "p" {
		t.Fatalf("on error got %q, %v", out, err)
	}
}

type cyclic struct {
	Next *cyclic
}

type badMarshaler struct{}

func (badMarshaler) MarshalBERT() ([]byte, error) { return []byte{versionMagic, tagPid}, nil }

type failingMarshaler struct{}

var errMarshal = errors.New("no")

func (failingMarshaler) MarshalBERT() ([]byte, error) { return nil, errMarshal }

func TestMarshalErrors(t *testing.T) {
	cyc := &cyclic{}
	cyc.Next = cyc
	tests := []struct {
		name string
		in   any
		p    Profile
		as   any
		is   error
		msg  string
	}{
		{name: "chan", in: make(chan int), as: new(*UnsupportedTypeError), msg: "bert: unsupported type: chan int"},
		{name: "func field", in: struct{ F func() }{}, as: new(*UnsupportedTypeError)},
		{name: "complex", in: complex(1, 2), as: new(*UnsupportedTypeError)},
		{name: "nan", in: math.NaN(), as: new(*UnsupportedValueError), msg: "NaN"},
		{name: "inf erlang", in: math.Inf(1), p: Erlang, as: new(*UnsupportedValueError)},
		{name: "non-latin-1 atom", in: Atom("ατομο"), as: new(*UnsupportedValueError), msg: "above U+00FF"},
		{name: "non-latin-1 key", in: map[string]int{"κ": 1}, as: new(*UnsupportedValueError)},
		{name: "non-latin-1 field", in: struct {
			K int `bert:"κλειδί"`
		}{}, as: new(*UnsupportedValueError)},
		{name: "long atom", in: Atom(strings.Repeat("a", 256)), p: Erlang, as: new(*UnsupportedValueError), msg: "255"},
		{name: "invalid utf8 atom", in: Atom("\xff"), p: Erlang, as: new(*UnsupportedValueError)},
		{name: "bad bit binary", in: BitBinary{Bits: 3}, as: new(*UnsupportedValueError)},
		{name: "cycle", in: cyc, is: ErrTooDeep},
		{name: "bad marshaler output", in: badMarshaler{}, as: new(*MarshalerError), msg: "MarshalBERT"},
		{name: "marshaler error", in: failingMarshaler{}, is: errMarshal},
		{name: "bad raw term", in: RawTerm{1, 2}, as: new(*MarshalerError)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Append(nil, tt.in, tt.p)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.as != nil && !errors.As(err, tt.as) {
				t.Errorf("error %v (%T) is not %T", err, err, tt.as)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			if !strings.HasPrefix(err.Error(), "bert: ") {
				t.Errorf("message %q does not start with bert: ", err)
			}
			if tt.msg != "" && !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("message %q does not contain %q", err, tt.msg)
			}
		})
	}
}

// TestMarshalUnmarshalStruct round-trips Go values through both profiles.
func TestMarshalUnmarshalStruct(t *testing.T) {
	type all struct {
		S   string            `bert:"s"`
		B   []byte            `bert:"b"`
		I8  int8              `bert:"i8"`
		U64 uint64            `bert:"u64"`
		F32 float32           `bert:"f32"`
		F   float64           `bert:"f"`
		Ok  bool              `bert:"ok"`
		Big *big.Int          `bert:"big"`
		T   time.Time         `bert:"t"`
		L   []string          `bert:"l"`
		A   [2]int            `bert:"a"`
		M   map[string]int    `bert:"m"`
		P   *int              `bert:"p"`
		Any any               `bert:"any"`
		N   *node             `bert:"n"`
		MM  map[string][]bool `bert:"mm"`
	}
	in := all{
		S: "héllo", B: []byte{0, 1}, I8: -8, U64: math.MaxUint64, F32: 0.25, F: -1e-300, Ok: true,
		Big: bigFromString("123456789012345678901234567890"), T: time.Unix(1700000000, 123456000).UTC(),
		L: []string{"a", ""}, A: [2]int{1, 2}, M: map[string]int{"x": 1}, P: ptrTo(7),
		Any: Tuple{Atom("a"), List{}}, N: &node{Name: "n", Kids: []node{{Name: "k", Kids: []node{}}}},
		MM: map[string][]bool{"f": {false}},
	}
	for _, p := range []Profile{BERTJS, Erlang} {
		b, err := Append(nil, in, p)
		if err != nil {
			t.Fatal(err)
		}
		var out all
		if err := Unmarshal(b, &out); err != nil {
			t.Fatalf("%v: %v", p, err)
		}
		b2, err := Append(nil, out, p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, b2) {
			t.Errorf("%v: round trip changed the bytes:\n%x\n%x", p, b, b2)
		}
		if out.S != in.S || out.Big.Cmp(in.Big) != 0 || !out.T.Equal(in.T) || *out.P != 7 || out.N.Kids[0].Name != "k" {
			t.Errorf("%v: got %+v", p, out)
		}
	}
}

func TestAsString(t *testing.T) {
	tests := []struct {
		in   any
		want string
		ok   bool
	}{
		{Atom("a"), "a", true},
		{[]byte("b"), "b", true},
		{ByteList("c"), "c", true},
		{"d", "d", true},
		{List{int64(101), 102}, "ef", true},
		{List{}, "", true},
		{List{int64(256)}, "", false},
		{List{Atom("x")}, "", false},
		{int64(1), "", false},
		{nil, "", false},
	}
	for _, tt := range tests {
		got, ok := AsString(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("AsString(%#v) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseProfile(t *testing.T) {
	for _, p := range []Profile{BERTJS, Erlang} {
		got, err := ParseProfile(p.String())
		if err != nil || got != p {
			t.Errorf("ParseProfile(%q) = %v, %v", p.String(), got, err)
		}
	}
	if _, err := ParseProfile("json"); err == nil {
		t.Error("ParseProfile(json) succeeded")
	}
}
