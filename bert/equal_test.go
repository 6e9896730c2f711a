package bert

import (
	"math"
	"math/big"
	"testing"
	"time"
)

func TestEqual(t *testing.T) {
	nan := math.NaN()
	big1, big2 := new(big.Int).Lsh(big.NewInt(1), 70), new(big.Int).Lsh(big.NewInt(1), 70)
	when := time.Unix(1255295581, 446228000)
	tests := []struct {
		a, b any
		want bool
	}{
		{Atom("a"), Atom("a"), true},
		{Atom("a"), Atom("b"), false},
		{int64(1), int64(1), true},
		{int64(1), 1.0, false},
		{nil, nil, true},
		{nil, Atom("nil"), false},
		{true, true, true},
		{0.0, math.Copysign(0, -1), false},
		{nan, nan, true},
		{1.5, 1.5, true},
		{big1, big2, true},
		{big1, new(big.Int).Add(big2, big.NewInt(1)), false},
		{(*big.Int)(nil), (*big.Int)(nil), true},
		{(*big.Int)(nil), big1, false},
		{big1, (*big.Int)(nil), false},
		{big.NewInt(5), int64(5), false},
		{when.UTC(), when.In(time.FixedZone("x", 3600)), true},
		{when, when.Add(time.Microsecond), false},
		{[]byte(nil), []byte{}, true},
		{[]byte("ab"), []byte("ab"), true},
		{[]byte("ab"), ByteList("ab"), false},
		{ByteList("ab"), List{int64('a'), int64('b')}, false},
		{ByteList{}, ByteList(nil), true},
		{BitBinary{Data: []byte{0x80}, Bits: 1}, BitBinary{Data: []byte{0x80}, Bits: 1}, true},
		{BitBinary{Data: []byte{0x80}, Bits: 1}, BitBinary{Data: []byte{0x80}, Bits: 2}, false},
		{Tuple{Atom("a"), 1.5}, Tuple{Atom("a"), 1.5}, true},
		{Tuple{Atom("a")}, List{Atom("a")}, false},
		{Tuple{Atom("a")}, Tuple{Atom("a"), Atom("b")}, false},
		{List{}, List(nil), true},
		{[]any{int64(1)}, []any{int64(1)}, true},
		{[]any{int64(1)}, List{int64(1)}, false},
		{ImproperList{Elems: []any{int64(1)}, Tail: Atom("t")}, ImproperList{Elems: []any{int64(1)}, Tail: Atom("t")}, true},
		{ImproperList{Elems: []any{int64(1)}, Tail: Atom("t")}, ImproperList{Elems: []any{int64(1)}, Tail: Atom("u")}, false},
		// Maps compare as sets of associations, recursively.
		{
			Map{{Key: Atom("a"), Value: int64(1)}, {Key: Atom("b"), Value: Map{{Key: int64(1), Value: nan}, {Key: int64(2), Value: List{}}}}},
			Map{{Key: Atom("b"), Value: Map{{Key: int64(2), Value: List{}}, {Key: int64(1), Value: nan}}}, {Key: Atom("a"), Value: int64(1)}},
			true,
		},
		{Map{{Key: Atom("a"), Value: int64(1)}}, Map{{Key: Atom("a"), Value: int64(2)}}, false},
		{Map{{Key: Atom("a"), Value: int64(1)}}, Map{{Key: Atom("b"), Value: int64(1)}}, false},
		{Map{{Key: Atom("a"), Value: int64(1)}}, Map{}, false},
		{Map{{Key: Atom("a"), Value: int64(1)}}, Dict{{Key: Atom("a"), Value: int64(1)}}, false},
		// A Go-built map repeating a key matches association for association.
		{Map{{Key: Atom("a"), Value: int64(1)}, {Key: Atom("a"), Value: int64(1)}}, Map{{Key: Atom("a"), Value: int64(1)}, {Key: Atom("b"), Value: int64(2)}}, false},
		{Map{{Key: Atom("a"), Value: int64(1)}, {Key: Atom("a"), Value: int64(2)}}, Map{{Key: Atom("a"), Value: int64(2)}, {Key: Atom("a"), Value: int64(1)}}, true},
		// A dict is a list: order counts.
		{Dict{{Key: Atom("a"), Value: 0.5}, {Key: Atom("b"), Value: nil}}, Dict{{Key: Atom("a"), Value: 0.5}, {Key: Atom("b"), Value: nil}}, true},
		{Dict{{Key: Atom("a"), Value: nil}, {Key: Atom("b"), Value: nil}}, Dict{{Key: Atom("b"), Value: nil}, {Key: Atom("a"), Value: nil}}, false},
		{Pair{Key: Atom("k"), Value: nan}, Pair{Key: Atom("k"), Value: nan}, true},
		{Regex{Source: []byte("^a"), Options: List{Atom("caseless")}}, Regex{Source: []byte("^a"), Options: List{Atom("caseless")}}, true},
		{Regex{Source: []byte("^a")}, Regex{Source: []byte("^a"), Options: List{}}, true},
		{Regex{Source: []byte("^a")}, Regex{Source: []byte("^b")}, false},
		// Values outside the term model compare as reflect.DeepEqual does.
		{struct{ N int }{1}, struct{ N int }{1}, true},
		{"text", []byte("text"), false},
	}
	for _, tt := range tests {
		if got := Equal(tt.a, tt.b); got != tt.want {
			t.Errorf("Equal(%#v, %#v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := Equal(tt.b, tt.a); got != tt.want {
			t.Errorf("Equal(%#v, %#v) = %v, want %v (swapped)", tt.b, tt.a, got, tt.want)
		}
	}
}

// TestEqualDecodedMaps checks the case Equal exists for: the same map
// decoded from bytes that list its associations in different orders.
func TestEqualDecodedMaps(t *testing.T) {
	m1 := Map{{Key: Atom("x"), Value: int64(1)}, {Key: []byte("y"), Value: Tuple{Atom("z")}}}
	m2 := Map{m1[1], m1[0]}
	var terms [2]any
	for i, m := range []Map{m1, m2} {
		data, err := Append(nil, Tuple{Atom("wrap"), m}, Erlang)
		if err != nil {
			t.Fatal(err)
		}
		if err := Unmarshal(data, &terms[i]); err != nil {
			t.Fatal(err)
		}
	}
	if !Equal(terms[0], terms[1]) {
		t.Errorf("decoded maps in two orders: Equal = false for %#v and %#v", terms[0], terms[1])
	}
}
