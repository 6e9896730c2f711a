package bert

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

// bertjsVectors are the byte sequences of BERT-JS's own test suite
// (rustyio/BERT-JS, tests.js), both the ones it encodes and the ones it
// decodes, with the term each stands for. same says that encoding the
// term in the BERTJS profile gives these exact bytes; where it does not,
// note says why.
var bertjsVectors = []struct {
	name string
	in   []byte
	want any
	same bool
	err  error
	note string
}{
	{name: "atom hello", in: term(atomJ("hello")), want: Atom("hello"), same: true},
	{name: "binary hello", in: term(bin("hello")), want: []byte("hello"), same: true},
	{name: "true as bare atom", in: term(atomJ("true")), want: Atom("true"), same: true,
		note: "old BERT-JS sent JS booleans as bare atoms; they stay atoms"},
	{name: "false as bare atom", in: term(atomJ("false")), want: Atom("false"), same: true},
	{name: "zero", in: term(97, 0), want: int64(0), same: true},
	{name: "minus one", in: term(98, 255, 255, 255, 255), want: int64(-1), same: true},
	{name: "42", in: term(97, 42), want: int64(42), same: true},
	{name: "5000", in: term(98, 0, 0, 19, 136), want: int64(5000), same: true},
	{name: "-5000", in: term(98, 255, 255, 236, 120), want: int64(-5000), same: true},
	{name: "987654321 as small big", in: term(110, 4, 0, 177, 104, 222, 58), want: int64(987654321),
		note: "BERT-JS uses SMALL_BIG above 2^27; we write the canonical INTEGER_EXT"},
	{name: "-987654321 as small big", in: term(110, 4, 1, 177, 104, 222, 58), want: int64(-987654321)},
	{name: "2.5", in: term(99, "2.50000000000000000000e+00", 0, 0, 0, 0, 0), want: 2.5, same: true},
	{name: "3.14159 with one NUL", in: term(99, "3.14158999999999988262e+00", 0), want: 3.14159,
		note: "the test vector stops 4 bytes short of the 31-byte field; read up to the end of input"},
	{name: "-3.14159 without NULs", in: term(99, "-3.14158999999999988262e+00"), want: -3.14159,
		note: "the test vector stops short of the 31-byte field"},
	{name: "-3.14159 decode", in: term(99, "-3.14158999999999988262e+00", 0, 0, 0, 0), want: -3.14159, same: true},
	{name: "toExponential 2.5", in: term(99, "2.5e+0", bytes.Repeat([]byte{0}, 25)), want: 2.5,
		note: "bert.js pads toExponential() output to 31 bytes"},
	{name: "array of strings", in: term(108, 0, 0, 0, 3, 107, 0, 1, 49, 107, 0, 1, 50, 107, 0, 1, 51, 106),
		want: List{ByteList("1"), ByteList("2"), ByteList("3")}, same: true},
	{name: "numeric array", in: term(107, 0, 3, 1, 2, 3), want: ByteList{1, 2, 3}, same: true},
	{name: "assoc array", in: term(108, 0, 0, 0, 3, 104, 2, 107, 0, 1, 97, 97, 1, 104, 2, 107, 0, 1, 98, 97, 2, 104, 2, 107, 0, 1, 99, 97, 3, 106),
		want: List{Tuple{ByteList("a"), int64(1)}, Tuple{ByteList("b"), int64(2)}, Tuple{ByteList("c"), int64(3)}}, same: true},
	{name: "tuple", in: term(104, 2, 107, 0, 5, "Hello", 97, 1), want: Tuple{ByteList("Hello"), int64(1)}, same: true},
	{name: "empty list", in: term(106), want: List{}, same: true},
	{name: "complex, truncated", in: term(108, 0, 0, 0, 2, 104, 2, 107, 0, 1, 97, 104, 3, 97, 1, 97, 2, 97, 3, 104, 2, 107, 0, 1, 98, 107, 0, 3),
		err: io.ErrUnexpectedEOF, note: "the vector ends inside the STRING_EXT of [4,5,6]"},
	{name: "decode complex", in: term(108, 0, 0, 0, 4,
		104, 2, 100, 0, 4, "atom", 100, 0, 6, "myAtom",
		104, 2, 100, 0, 6, "binary", 109, 0, 0, 0, 9, "My Binary",
		104, 2, 100, 0, 4, "bool", 100, 0, 4, "true",
		104, 2, 100, 0, 6, "string", 107, 0, 11, "Hello there", 106),
		want: List{
			Tuple{Atom("atom"), Atom("myAtom")},
			Tuple{Atom("binary"), []byte("My Binary")},
			Tuple{Atom("bool"), Atom("true")},
			Tuple{Atom("string"), ByteList("Hello there")},
		}, same: true},
	{name: "decode negative int", in: term(98, 255, 255, 255, 255), want: int64(-1), same: true},
	{name: "decode ints", in: term(108, 0, 0, 0, 5,
		104, 2, 100, 0, 13, "small_integer", 97, 42,
		104, 2, 100, 0, 8, "integer1", 98, 0, 0, 19, 136,
		104, 2, 100, 0, 8, "integer2", 98, 255, 255, 236, 120,
		104, 2, 100, 0, 8, "big_int1", 110, 4, 0, 177, 104, 222, 58,
		104, 2, 100, 0, 8, "big_int2", 110, 4, 1, 177, 104, 222, 58, 106),
		want: List{
			Tuple{Atom("small_integer"), int64(42)},
			Tuple{Atom("integer1"), int64(5000)},
			Tuple{Atom("integer2"), int64(-5000)},
			Tuple{Atom("big_int1"), int64(987654321)},
			Tuple{Atom("big_int2"), int64(-987654321)},
		}},
	{name: "empty string", in: term(107, 0, 0), want: ByteList{}, same: true, note: "BERT-JS sends \"\" as STRING_EXT of length 0"},
}

func TestBERTJSVectors(t *testing.T) {
	for _, tt := range bertjsVectors {
		t.Run(tt.name, func(t *testing.T) {
			var got any
			err := Unmarshal(tt.in, &got)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("error %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
			enc, err := Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if tt.same && !bytes.Equal(enc, tt.in) {
				t.Errorf("BERTJS encoding\n got %v\nwant %v", enc, tt.in)
			}
			if !tt.same && bytes.Equal(enc, tt.in) {
				t.Errorf("expected a canonical re-encoding different from the vector (%s)", tt.note)
			}
		})
	}
}

// TestBERTJSStrings decodes BERT-JS-style input (text as STRING_EXT,
// keys as byte lists) into Go types.
func TestBERTJSStrings(t *testing.T) {
	type char struct {
		ID   string  `bert:"id"`
		Name string  `bert:"name"`
		HP   float64 `bert:"hp"`
	}
	in := term(108, 0, 0, 0, 3,
		104, 2, 107, 0, 2, "id", 107, 0, 2, "c1",
		104, 2, 107, 0, 4, "name", 107, 0, 0,
		104, 2, 107, 0, 2, "hp", 99, "1.25e+1", bytes.Repeat([]byte{0}, 24), 106)
	var c char
	if err := Unmarshal(in, &c); err != nil {
		t.Fatal(err)
	}
	if c != (char{ID: "c1", Name: "", HP: 12.5}) {
		t.Fatalf("got %+v", c)
	}
}
