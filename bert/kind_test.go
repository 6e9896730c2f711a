package bert

import (
	"math/big"
	"testing"
)

func TestKindOf(t *testing.T) {
	for _, tt := range []struct {
		term any
		want string
	}{
		{nil, "{bert, nil}"},
		{Atom("ok"), "an atom"},
		{true, "a boolean"},
		{int64(1), "an integer"},
		{big.NewInt(1), "an integer"},
		{1.5, "a float"},
		{Tuple{1, 2, 3}, "a tuple of 3 elements"},
		{List{}, "a list"},
		{ImproperList{Elems: []any{1}, Tail: Atom("t")}, "an improper list"},
		{ByteList("ab"), "a string"},
		{[]byte("ab"), "a binary"},
		{BitBinary{Data: []byte{1}, Bits: 3}, "a bitstring"},
		{Map{}, "a map"},
		{Dict{}, "a dict"},
		{Regex{}, "a regex"},
		{struct{}{}, "a term of Go type struct {}"},
	} {
		if got := KindOf(tt.term); got != tt.want {
			t.Errorf("KindOf(%#v) = %q, want %q", tt.term, got, tt.want)
		}
	}
}
