package jsonterm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

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
		term, err := Parse([]byte(in))
		if err != nil {
			t.Errorf("Parse(%s): %v", in, err)
			continue
		}
		out, err := Append(nil, term)
		if err != nil {
			t.Errorf("Append(%s): %v", in, err)
			continue
		}
		if string(out) != in {
			t.Errorf("round trip of %s gave %s", in, out)
		}
		again, err := Parse(out)
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
		term, err := Parse([]byte(tt.in))
		if err != nil {
			t.Fatal(err)
		}
		out, err := Append(nil, term)
		if err != nil || string(out) != tt.out {
			t.Errorf("%s → %s, %v; want %s", tt.in, out, err, tt.out)
		}
	}
}

func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5,"x",null,true]}`, `"\u00e9"`, `[[[]]]`, `-0`, `1e308`, `{"k":{"k":{}}}`,
		" { \"a\\\"b\" : [ \"\\ud83d\\ude00\" , \"\xff\" ] } ", `1e400`, `123456789012345678901234567890`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		term, err := Parse(data)
		if err != nil {
			return
		}
		out, err := Append(nil, term)
		if err != nil {
			t.Fatalf("Append of parsed %q: %v", data, err)
		}
		term2, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse of printed %q: %v", out, err)
		}
		out2, err := Append(nil, term2)
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
// document as a baseline: Parse against json.Unmarshal into any (with
// UseNumber), Append against json.Marshal of that any.
func BenchmarkJSON(b *testing.B) {
	doc := benchDoc()
	term, err := Parse(doc)
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
			if _, err := Parse(doc); err != nil {
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
			if _, err := Append(buf[:0], term); err != nil {
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
