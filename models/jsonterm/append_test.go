package jsonterm

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/models"
)

type taggedReply struct {
	ID   string `bert:"id"`
	Name string `bert:"name"`
}

// selfEncoded is a bert.Marshaler: its encoding decides its JSON.
type selfEncoded struct{}

func (selfEncoded) MarshalBERT() ([]byte, error) {
	return bert.Marshal(bert.Tuple{bert.Atom("self"), int64(1)})
}

func TestAppend(t *testing.T) {
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
		{"big exact", bigInt(t, "1180591620717411303424"), `1180591620717411303424`},
		{"big inexact", bigInt(t, "123456789012345678901234567890"), `"123456789012345678901234567890"`},
		{"floats", bert.List{1.5, 1.0, math.Copysign(0, -1), 1e21, 1e-7, 123456.789}, `[1.5,1.0,-0.0,1e+21,1e-07,123456.789]`},
		{"time", when, `"2024-05-06T07:08:09.123456Z"`},
		{"tuple", bert.Tuple{bert.Atom("ok"), int64(1)}, `["ok",1]`},
		{"empty list", bert.List{}, `[]`},
		{"proplist", pl("id", []byte("1"), "tags", bert.List{}), `{"id":"1","tags":[]}`},
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
		{"empty props", models.Props{}, `{}`},
		{"nil props", models.Props(nil), `{}`},
		{"props slice", []models.Props{{{Key: "id", Value: "a"}}, {}}, `[{"id":"a"},{}]`},
		{"props in props", models.Props{{Key: "pet", Value: models.Props{}}}, `{"pet":{}}`},
		{"props in a map", map[string]any{"doc": models.Props{}}, `{"doc":{}}`},
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
		got, err := Append(nil, tt.in)
		if err != nil {
			t.Errorf("%s: Append: %v", tt.name, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("%s: Append = %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestAppendErrors(t *testing.T) {
	t.Parallel()
	zero := 0.0
	for _, v := range []any{zero / zero, 1 / zero, bert.List{-1 / zero}} {
		if _, err := Append(nil, v); err == nil {
			t.Errorf("Append(%v): no error", v)
		}
	}
}
