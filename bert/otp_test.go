package bert

import (
	"bytes"
	"errors"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
)

// readTerms splits a file of back-to-back external terms.
func readTerms(t testing.TB, name string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	dec := NewDecoder(bytes.NewReader(data))
	var out [][]byte
	for {
		raw, err := dec.ReadTerm()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: term %d: %v", name, len(out), err)
		}
		out = append(out, bytes.Clone(raw))
	}
}

// TestOTPRoundTrip checks terms written by term_to_binary (testdata/otp,
// made by gen.escript): every form decodes to the same term, and the
// Erlang profile writes the minor_version 2 bytes back exactly.
func TestOTPRoundTrip(t *testing.T) {
	mv2 := readTerms(t, "testdata/otp/mv2.bert")
	if len(mv2) < 50 {
		t.Fatalf("only %d terms in mv2.bert", len(mv2))
	}
	want := make([]any, len(mv2))
	for i, b := range mv2 {
		if err := Unmarshal(b, &want[i]); err != nil {
			t.Fatalf("term %d: %v", i, err)
		}
		got, err := Append(nil, want[i], Erlang)
		if err != nil {
			t.Errorf("term %d (%v): encode: %v", i, want[i], err)
			continue
		}
		if !bytes.Equal(got, b) {
			t.Errorf("term %d: re-encoded\n got %x\nwant %x", i, trunc(got), trunc(b))
		}
	}
	for _, name := range []string{"mv1.bert", "mv0.bert", "compressed.bert"} {
		terms := readTerms(t, "testdata/otp/"+name)
		if len(terms) != len(mv2) {
			t.Fatalf("%s has %d terms, mv2.bert %d", name, len(terms), len(mv2))
		}
		for i, b := range terms {
			var got any
			if err := Unmarshal(b, &got); err != nil {
				t.Errorf("%s term %d: %v", name, i, err)
				continue
			}
			if !reflect.DeepEqual(got, want[i]) {
				t.Errorf("%s term %d: got %#v, want %#v", name, i, got, want[i])
			}
		}
	}
}

func trunc(b []byte) []byte {
	if len(b) > 80 {
		return b[:80]
	}
	return b
}

// TestOTPMinorVersion0 checks the BERTJS profile against term_to_binary
// with minor_version 0 (ATOM_EXT atoms, FLOAT_EXT floats): the bytes are
// the same except where the profile differs on purpose, for maps (which
// BERT-JS cannot read) and atoms outside Latin-1 (which ATOM_EXT cannot
// carry).
func TestOTPMinorVersion0(t *testing.T) {
	for i, b := range readTerms(t, "testdata/otp/mv0.bert") {
		var v any
		if err := Unmarshal(b, &v); err != nil {
			t.Fatalf("term %d: %v", i, err)
		}
		got, err := Append(nil, v, BERTJS)
		if err != nil {
			var uve *UnsupportedValueError
			if !errors.As(err, &uve) || !strings.Contains(err.Error(), "U+00FF") {
				t.Errorf("term %d: %v", i, err)
			}
			continue
		}
		if !bytes.Equal(got, b) && !hasMap(v) {
			t.Errorf("term %d: BERTJS profile\n got %x\nwant %x", i, trunc(got), trunc(b))
		}
	}
}

func hasMap(v any) bool {
	switch x := v.(type) {
	case Map:
		return true
	case List:
		for _, e := range x {
			if hasMap(e) {
				return true
			}
		}
	case Tuple:
		for _, e := range x {
			if hasMap(e) {
				return true
			}
		}
	}
	return false
}
