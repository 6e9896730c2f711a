package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/models"
)

func jsonBigInt(t testing.TB, s string) *big.Int {
	t.Helper()
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		t.Fatalf("bad big int %q", s)
	}
	return n
}

func jsonPL(kv ...any) bert.List {
	l := bert.List{}
	for i := 0; i < len(kv); i += 2 {
		l = append(l, bert.Tuple{bert.Atom(kv[i].(string)), kv[i+1]})
	}
	return l
}

func TestJSONParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want any
	}{
		{`"hi"`, []byte("hi")},
		{`"é\u0000"`, []byte("é\x00")},
		{`true`, true},
		{`false`, false},
		{`null`, nil},
		{`0`, int64(0)},
		{`-42`, int64(-42)},
		{`9223372036854775807`, int64(9223372036854775807)},
		{`-9223372036854775808`, int64(-9223372036854775808)},
		{`9223372036854775808`, jsonBigInt(t, "9223372036854775808")},
		{`-123456789012345678901234567890`, jsonBigInt(t, "-123456789012345678901234567890")},
		{`1.5`, 1.5},
		{`1.0`, 1.0},
		{`1e3`, 1000.0},
		{`-2.5E-3`, -0.0025},
		{`[]`, bert.List{}},
		{`{}`, bert.List{}},
		{`[1,"a",[null]]`, bert.List{int64(1), []byte("a"), bert.List{nil}}},
		{`{"b":1,"a":{"c":[true]}}`, jsonPL("b", int64(1), "a", jsonPL("c", bert.List{true}))},
		{" \n{\"x\" : \"y\"} \t", jsonPL("x", []byte("y"))},
	}
	for _, tt := range tests {
		got, err := ParseJSON([]byte(tt.in))
		if err != nil {
			t.Errorf("ParseJSON(%s): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseJSON(%s) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

func TestJSONParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{``, "unexpected EOF"},
		{`{`, "unexpected EOF"},
		{`{"a" 1}`, "invalid character"},
		{`[1,]`, "invalid character"},
		{`{} {}`, "data after"},
		{`"a" x`, "data after"},
		{`1e400`, "out of the range"},
		{`{"":1}`, "keys become atoms"},
		{`{"` + strings.Repeat("k", 256) + `":1}`, "keys become atoms"},
		{strings.Repeat("[", maxJSONDepth+1) + strings.Repeat("]", maxJSONDepth+1), "nested deeper"},
	}
	for _, tt := range tests {
		_, err := ParseJSON([]byte(tt.in))
		if err == nil {
			t.Errorf("ParseJSON(%.30s): no error", tt.in)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) || !errors.Is(err, models.ErrBadRequest) {
			t.Errorf("ParseJSON(%.30s) = %v, want a bad_request error containing %q", tt.in, err, tt.want)
		}
	}
	// The deepest accepted nesting still parses.
	ok := strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth)
	if _, err := ParseJSON([]byte(ok)); err != nil {
		t.Errorf("depth %d: %v", maxJSONDepth, err)
	}
	// A key of 255 multi-byte characters is one atom.
	if _, err := ParseJSON([]byte(`{"` + strings.Repeat("é", 255) + `":1}`)); err != nil {
		t.Errorf("255-character key: %v", err)
	}
}

func TestJSONParseProps(t *testing.T) {
	t.Parallel()
	p, err := parseJSONProps([]byte(`{"name":"Ann","n":3}`))
	if err != nil {
		t.Fatal(err)
	}
	want := models.Props{{Key: "name", Value: []byte("Ann")}, {Key: "n", Value: int64(3)}}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("props = %#v, want %#v", p, want)
	}
	if p, err := parseJSONProps([]byte("  ")); err != nil || len(p) != 0 {
		t.Errorf("empty body: %v, %v", p, err)
	}
	for _, in := range []string{`[1]`, `"x"`, `3`, `null`, `{"a":1,"a":2}`} {
		if _, err := parseJSONProps([]byte(in)); !errors.Is(err, models.ErrBadRequest) {
			t.Errorf("parseJSONProps(%s) = %v, want bad_request", in, err)
		}
	}
}

type taggedReply struct {
	ID   string `bert:"id"`
	Name string `bert:"name"`
}

// selfEncoded is a bert.Marshaler: its encoding decides its JSON.
type selfEncoded struct{}

func (selfEncoded) MarshalBERT() ([]byte, error) {
	return bert.Marshal(bert.Tuple{bert.Atom("self"), int64(1)})
}

func TestJSONAppend(t *testing.T) {
	t.Parallel()
	when := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"nil", nil, `null`},
		{"bools", bert.List{true, false}, `[true,false]`},
		{"atom", bert.Atom("hello"), `"hello"`},
		{"atom true", bert.Atom("true"), `true`},
		{"atom nil", bert.Atom("nil"), `"nil"`},
		{"binary", []byte("a\"b\\c\n<&>"), `"a\"b\\c\n\u003c\u0026\u003e"`},
		{"binary utf8", []byte("Ünïcode ✓"), `"Ünïcode ✓"`},
		{"binary latin1", []byte{'a', 0xE9, 0xFF, 0x00}, "\"a\u00e9\u00ff\\u0000\""},
		{"byte list", bert.ByteList("abc"), `"abc"`},
		{"string", "line\u2028sep", `"line\u2028sep"`},
		{"ints", bert.List{int64(0), int64(-7), int64(1 << 53), int64(-(1 << 53))}, `[0,-7,9007199254740992,-9007199254740992]`},
		{"int over 2^53", int64(1<<53 + 1), `"9007199254740993"`},
		{"int 2^60 exact", int64(1 << 60), `1152921504606846976`},
		{"max int64", int64(9223372036854775807), `"9223372036854775807"`},
		{"min int64 exact", int64(-9223372036854775808), `-9223372036854775808`},
		{"big exact", jsonBigInt(t, "1180591620717411303424"), `1180591620717411303424`},
		{"big inexact", jsonBigInt(t, "123456789012345678901234567890"), `"123456789012345678901234567890"`},
		{"floats", bert.List{1.5, 1.0, math.Copysign(0, -1), 1e21, 1e-7, 123456.789}, `[1.5,1.0,-0.0,1e+21,1e-07,123456.789]`},
		{"time", when, `"2024-05-06T07:08:09.123456Z"`},
		{"tuple", bert.Tuple{bert.Atom("ok"), int64(1)}, `["ok",1]`},
		{"empty list", bert.List{}, `[]`},
		{"proplist", jsonPL("id", []byte("1"), "tags", bert.List{}), `{"id":"1","tags":[]}`},
		{"binary keys", bert.List{bert.Tuple{[]byte("k"), int64(1)}, bert.Tuple{bert.ByteList("l"), int64(2)}}, `{"k":1,"l":2}`},
		{"not a proplist", bert.List{bert.Tuple{bert.Atom("a"), int64(1)}, bert.Atom("b")}, `[["a",1],"b"]`},
		{"3-tuples", bert.List{bert.Tuple{bert.Atom("a"), int64(1), int64(2)}}, `[["a",1,2]]`},
		{"int-keyed tuples", bert.List{bert.Tuple{int64(1), int64(2)}}, `[[1,2]]`},
		{"map", bert.Map{{Key: bert.Atom("a"), Value: int64(1)}, {Key: int64(2), Value: []byte("b")}}, `{"a":1,"2":"b"}`},
		{"map other keys", bert.Map{{Key: bert.Tuple{int64(1)}, Value: int64(1)}}, `[[[1],1]]`},
		{"dict", bert.Dict{{Key: bert.Atom("x"), Value: nil}}, `{"x":null}`},
		{"bitstring", bert.BitBinary{Data: []byte{0xFF, 0x80}, Bits: 1}, `{"bitstring":"/4A=","bits":1}`},
		{"regex", bert.Regex{Source: []byte("^a+$"), Options: bert.List{bert.Atom("caseless")}}, `{"regex":"^a+$","options":["caseless"]}`},
		{"improper", bert.ImproperList{Elems: []any{int64(1)}, Tail: bert.Atom("t")}, `{"improper":[1],"tail":"t"}`},
		{"props", models.Props{{Key: "id", Value: []byte("x")}, {Key: "n", Value: int64(1)}}, `{"id":"x","n":1}`},
		{"props slice", []models.Props{{{Key: "id", Value: "a"}}, {}}, `[{"id":"a"},{}]`},
		{"go map", map[string]any{"b": 2, "a": []string{"x"}}, `{"a":["x"],"b":2}`},
		{"go ints", []any{int8(-1), uint16(2), uint64(1 << 63)}, `[-1,2,9223372036854775808]`},
		{"nil slice", []int(nil), `[]`},
		{"byte array", [3]byte{1, 2, 3}, `[1,2,3]`},
		{"named bytes", json.RawMessage("hi"), `"hi"`},
		{"nil pointer", (*taggedReply)(nil), `null`},
		{"struct", taggedReply{ID: "1", Name: "Ann"}, `{"id":"1","name":"Ann"}`},
		{"struct pointers", []*taggedReply{{ID: "2", Name: "é"}}, `[{"id":"2","name":"é"}]`},
		{"marshaler", selfEncoded{}, `["self",1]`},
	}
	for _, tt := range tests {
		got, err := AppendJSON(nil, tt.in)
		if err != nil {
			t.Errorf("%s: AppendJSON: %v", tt.name, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("%s: AppendJSON = %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestJSONAppendErrors(t *testing.T) {
	t.Parallel()
	zero := 0.0
	for _, v := range []any{zero / zero, 1 / zero, bert.List{-1 / zero}} {
		if _, err := AppendJSON(nil, v); err == nil {
			t.Errorf("AppendJSON(%v): no error", v)
		}
	}
}

// TestJSONRoundTrip checks that canonical JSON comes back byte for byte
// through the term model, and that the terms it maps to come back equal.
func TestJSONRoundTrip(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		`null`, `true`, `false`, `0`, `-1`, `9007199254740992`, `1.5`, `2.0`, `-0.0`, `1e+21`, `1e-07`,
		`""`, `"text"`, `"\u0000\u001f\"\\"`, `"Ünïcode ✓ 😀"`,
		`[]`, `[[],[[]]]`, `[1,"two",3.0,null,true]`,
		`{"a":1}`, `{"z":{"y":{"x":[1,{"w":null}]}},"a":"b"}`,
		`1180591620717411303424`, `-1180591620717411303424`,
	} {
		term, err := ParseJSON([]byte(in))
		if err != nil {
			t.Errorf("ParseJSON(%s): %v", in, err)
			continue
		}
		out, err := AppendJSON(nil, term)
		if err != nil {
			t.Errorf("AppendJSON(%s): %v", in, err)
			continue
		}
		if string(out) != in {
			t.Errorf("round trip of %s gave %s", in, out)
		}
		again, err := ParseJSON(out)
		if err != nil || !reflect.DeepEqual(again, term) {
			t.Errorf("term round trip of %s: %#v, %v; want %#v", in, again, err, term)
		}
	}
}

// TestJSONOneWay documents what does not come back the same way.
func TestJSONOneWay(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, out string }{
		{`{}`, `[]`},
		{`9007199254740993`, `"9007199254740993"`},
		{`123456789012345678901234567890`, `"123456789012345678901234567890"`},
		{`1E3`, `1000.0`},
		{`0.10`, `0.1`},
	}
	for _, tt := range tests {
		term, err := ParseJSON([]byte(tt.in))
		if err != nil {
			t.Fatal(err)
		}
		out, err := AppendJSON(nil, term)
		if err != nil || string(out) != tt.out {
			t.Errorf("%s → %s, %v; want %s", tt.in, out, err, tt.out)
		}
	}
}

func FuzzJSONRoundTrip(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5,"x",null,true]}`, `"\u00e9"`, `[[[]]]`, `-0`, `1e308`, `{"k":{"k":{}}}`,
		" { \"a\\\"b\" : [ \"\\ud83d\\ude00\" , \"\xff\" ] } ", `1e400`, `123456789012345678901234567890`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		term, err := ParseJSON(data)
		if err != nil {
			return
		}
		out, err := AppendJSON(nil, term)
		if err != nil {
			t.Fatalf("AppendJSON of parsed %q: %v", data, err)
		}
		term2, err := ParseJSON(out)
		if err != nil {
			t.Fatalf("ParseJSON of printed %q: %v", out, err)
		}
		out2, err := AppendJSON(nil, term2)
		if err != nil || string(out2) != string(out) {
			t.Fatalf("not stable: %s then %s (%v)", out, out2, err)
		}
	})
}

// benchDoc is a collection of 100 Backbone-sized models as JSON.
func benchDoc() []byte {
	var b strings.Builder
	b.WriteString("[")
	for i := range 100 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id":"%d","name":"Character %d","n":%d,"score":%d.5,"alive":true,"tags":["a","b"],"pet":null}`, i, i, i, i)
	}
	b.WriteString("]")
	return []byte(b.String())
}

// BenchmarkJSON compares the mapping with encoding/json on the same
// document as a baseline: ParseJSON against json.Unmarshal into any (with
// UseNumber), AppendJSON against json.Marshal of that any.
func BenchmarkJSON(b *testing.B) {
	doc := benchDoc()
	term, err := ParseJSON(doc)
	if err != nil {
		b.Fatal(err)
	}
	var generic any
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	if err := d.Decode(&generic); err != nil {
		b.Fatal(err)
	}
	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			if _, err := ParseJSON(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parse-baseline-encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			var v any
			d := json.NewDecoder(bytes.NewReader(doc))
			d.UseNumber()
			if err := d.Decode(&v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(doc)))
		buf := make([]byte, 0, 2*len(doc))
		for b.Loop() {
			if _, err := AppendJSON(buf[:0], term); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("append-baseline-encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			if _, err := json.Marshal(generic); err != nil {
				b.Fatal(err)
			}
		}
	})
}
