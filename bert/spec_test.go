package bert

import (
	"bytes"
	"reflect"
	"testing"
	"time"
)

// specExamples are the examples of the BERT specification (bert-rpc.org):
// simple types and the complex types that BERT builds from tuples. Each
// Go value must encode, in both profiles, to bytes that decode back to
// the same value, and the Erlang text given is what Erlang writes for it
// (the erl interop tests check that text against a real node).
var specExamples = []struct {
	erlang string
	value  any
}{
	{"4", int64(4)},
	{"8.1516", 8.1516},
	{"foo", Atom("foo")},
	{"{coord, 23, 42}", Tuple{Atom("coord"), int64(23), int64(42)}},
	{"[1, 2, 3]", ByteList{1, 2, 3}},
	{"[a, [1, 2]]", List{Atom("a"), ByteList{1, 2}}},
	{`<<"Roses are red\0Violets are purple">>`, []byte("Roses are red\x00Violets are purple")},
	{"{bert, nil}", nil},
	{"{bert, true}", true},
	{"{bert, false}", false},
	{`{bert, dict, [{name, <<"Tom">>}, {age, 30}]}`, Dict{{Key: Atom("name"), Value: []byte("Tom")}, {Key: Atom("age"), Value: int64(30)}}},
	{"{bert, time, 1255, 295581, 446228}", time.Date(2009, 10, 11, 21, 13, 1, 446228000, time.UTC)},
	{`{bert, regex, <<"^c(a*)t$">>, [caseless]}`, Regex{Source: []byte("^c(a*)t$"), Options: List{Atom("caseless")}}},
}

func TestSpecExamples(t *testing.T) {
	for _, ex := range specExamples {
		for _, p := range []Profile{BERTJS, Erlang} {
			b, err := Append(nil, ex.value, p)
			if err != nil {
				t.Fatalf("%s (%v): %v", ex.erlang, p, err)
			}
			var got any
			if err := Unmarshal(b, &got); err != nil {
				t.Fatalf("%s (%v): %v", ex.erlang, p, err)
			}
			if !reflect.DeepEqual(got, ex.value) {
				t.Errorf("%s (%v): got %#v, want %#v", ex.erlang, p, got, ex.value)
			}
		}
	}
}

// TestSpecComplexBytes pins the exact bytes of the complex types, as
// term_to_binary writes them with minor_version 0 (ATOM_EXT atoms).
func TestSpecComplexBytes(t *testing.T) {
	got, err := Marshal(Dict{{Key: Atom("name"), Value: []byte("Tom")}, {Key: Atom("age"), Value: 30}})
	if err != nil {
		t.Fatal(err)
	}
	want := term(tup(3), atomJ("bert"), atomJ("dict"), list(2),
		tup(2), atomJ("name"), bin("Tom"), tup(2), atomJ("age"), sint(30), tagNil)
	if !bytes.Equal(got, want) {
		t.Errorf("dict:\n got %v\nwant %v", got, want)
	}
	got, err = Marshal(time.Date(2009, 10, 11, 21, 13, 1, 446228000, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	want = term(tup(5), atomJ("bert"), atomJ("time"), tagInt, u32(1255), tagInt, u32(295581), tagInt, u32(446228))
	if !bytes.Equal(got, want) {
		t.Errorf("time:\n got %v\nwant %v", got, want)
	}
}
