package bert

import (
	"bytes"
	"math"
	"math/big"
	"reflect"
	"time"
)

// Equal reports whether a and b are the same term of the term model. It
// answers as reflect.DeepEqual does, except where Go forms differ for one
// term:
//
//   - a [Map] equals a Map holding the same associations in any order:
//     Erlang maps have none, and the external format lists them in the
//     sender's internal order, which text and maps built in Go do not keep;
//   - floats are equal when their bits are (0.0 and -0.0 differ, as under
//     =:= since OTP 27; a NaN equals itself), *big.Int values when their
//     numbers are, times when their instants are, and a nil binary equals
//     an empty one.
//
// Otherwise each Go form stands for itself: a [ByteList] is never equal to
// the [List] of the same integers, nor an int64 to a *big.Int, though
// Erlang sees one term in each pair. Decoding term_to_binary's output and
// package erltext's Parse give every term the same one form, so for their
// results Equal is Erlang's =:=. Maps listed in different orders take time
// quadratic in their size.
func Equal(a, b any) bool {
	switch x := a.(type) {
	case Tuple:
		y, ok := b.(Tuple)
		return ok && equalElems(x, y)
	case List:
		y, ok := b.(List)
		return ok && equalElems(x, y)
	case []any:
		y, ok := b.([]any)
		return ok && equalElems(x, y)
	case ImproperList:
		y, ok := b.(ImproperList)
		return ok && equalElems(x.Elems, y.Elems) && Equal(x.Tail, y.Tail)
	case Map:
		y, ok := b.(Map)
		return ok && equalAssocs(x, y)
	case Dict:
		// A dict is a list of pairs: its order is part of the term.
		y, ok := b.(Dict)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalPair(x[i], y[i]) {
				return false
			}
		}
		return true
	case Pair:
		y, ok := b.(Pair)
		return ok && equalPair(x, y)
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case ByteList:
		y, ok := b.(ByteList)
		return ok && bytes.Equal(x, y)
	case BitBinary:
		y, ok := b.(BitBinary)
		return ok && x.Bits == y.Bits && bytes.Equal(x.Data, y.Data)
	case float64:
		y, ok := b.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(y)
	case *big.Int:
		y, ok := b.(*big.Int)
		if !ok || x == nil || y == nil {
			return ok && x == y
		}
		return x.Cmp(y) == 0
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case Regex:
		y, ok := b.(Regex)
		return ok && bytes.Equal(x.Source, y.Source) && equalElems(x.Options, y.Options)
	}
	return reflect.DeepEqual(a, b)
}

func equalElems(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func equalPair(p, q Pair) bool {
	return Equal(p.Key, q.Key) && Equal(p.Value, q.Value)
}

// equalAssocs compares the associations of two maps as multisets: the
// common prefix in one pass, the rest by matching each association to an
// unused equal one, so that a Go-built Map repeating a key still compares
// correctly.
func equalAssocs(x, y Map) bool {
	if len(x) != len(y) {
		return false
	}
	i := 0
	for i < len(x) && equalPair(x[i], y[i]) {
		i++
	}
	rest := y[i:]
	used := make([]bool, len(rest))
next:
	for _, p := range x[i:] {
		for j, q := range rest {
			if !used[j] && equalPair(p, q) {
				used[j] = true
				continue next
			}
		}
		return false
	}
	return true
}
