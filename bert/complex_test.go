package bert

import (
	"testing"
	"time"
)

func TestComplexValue(t *testing.T) {
	when := time.Unix(1255295581, 446228000).UTC()
	tests := []struct {
		in   Tuple
		want any
		ok   bool
	}{
		{Tuple{Atom("bert"), Atom("nil")}, nil, true},
		{Tuple{Atom("bert"), Atom("true")}, true, true},
		{Tuple{Atom("bert"), Atom("false")}, false, true},
		{Tuple{Atom("bert"), Atom("dict"), List{Tuple{Atom("a"), int64(1)}}}, Dict{{Key: Atom("a"), Value: int64(1)}}, true},
		{Tuple{Atom("bert"), Atom("time"), int64(1255), int64(295581), int64(446228)}, when, true},
		{Tuple{Atom("bert"), Atom("regex"), []byte("^a"), List{Atom("caseless")}}, Regex{Source: []byte("^a"), Options: List{Atom("caseless")}}, true},
		// Anything else stands for itself.
		{Tuple{}, nil, false},
		{Tuple{Atom("bert")}, nil, false},
		{Tuple{Atom("other"), Atom("nil")}, nil, false},
		{Tuple{[]byte("bert"), Atom("nil")}, nil, false},
		{Tuple{Atom("bert"), Atom("nil"), Atom("extra")}, nil, false},
		{Tuple{Atom("bert"), Atom("dict"), List{Atom("a")}}, nil, false},
		{Tuple{Atom("bert"), Atom("time"), int64(1), int64(1e6), int64(0)}, nil, false},
		{Tuple{Atom("bert"), Atom("regex"), []byte("^a")}, nil, false},
		{Tuple{Atom("bert"), Atom("a"), Atom("b"), Atom("c"), Atom("d"), Atom("e")}, nil, false},
	}
	for _, tt := range tests {
		got, ok := ComplexValue(tt.in)
		if ok != tt.ok || !Equal(got, tt.want) {
			t.Errorf("ComplexValue(%#v) = %#v, %v; want %#v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	// Decoding gives the same values.
	for _, tt := range tests[:6] {
		data, err := Marshal(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		var dec any
		if err := Unmarshal(data, &dec); err != nil {
			t.Fatal(err)
		}
		if v, _ := ComplexValue(tt.in); !Equal(dec, v) {
			t.Errorf("decoding %#v gives %#v, ComplexValue %#v", tt.in, dec, v)
		}
	}
}
