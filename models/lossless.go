package models

import (
	"encoding/binary"
	"math"

	"github.com/bertsync/bertsync/bert"
)

// The store encodes documents with the bert.Erlang profile, which writes
// terms as term_to_binary does. Two of term_to_binary's choices lose the
// distinction between a list and a string, which Erlang does not make
// but BERT-JS does (STRING_EXT decodes to a JavaScript string, LIST_EXT
// to an array):
//
//   - a list of integers 0..255, such as the array [1, 2, 3], is written
//     as STRING_EXT and would read back as a string;
//   - the empty string "" (an empty STRING_EXT from BERT-JS) is written as
//     [] (NIL_EXT) and would read back as an empty array.
//
// storable rewrites those two cases, wherever they are nested, as
// pre-encoded bert.RawTerm values in the form they came in: LIST_EXT of
// SMALL_INTEGER_EXT, and STRING_EXT of length 0. Everything else is left
// to the codec.

// External term format tags and the version byte written here.
const (
	extVersion  = 131
	extSmallInt = 97
	extString   = 107
	extList     = 108
	extNil      = 106
)

// emptyString is "" as BERT-JS sends it: STRING_EXT of length 0.
var emptyString = bert.RawTerm{extVersion, extString, 0, 0}

// storable returns v with the lists and strings the Erlang profile would
// blur replaced by RawTerms (see above), and whether it changed anything.
// It copies only the containers on the way to a change.
func storable(v any) (any, bool) {
	switch t := v.(type) {
	case bert.ByteList:
		if len(t) == 0 {
			return emptyString, true
		}
	case bert.List:
		if raw, ok := smallIntList(t); ok {
			return raw, true
		}
		if out, changed := storableSlice(t); changed {
			return bert.List(out), true
		}
	case []any:
		if raw, ok := smallIntList(t); ok {
			return raw, true
		}
		if out, changed := storableSlice(t); changed {
			return out, true
		}
	case bert.Tuple:
		if out, changed := storableSlice(t); changed {
			return bert.Tuple(out), true
		}
	case bert.ImproperList:
		elems, c1 := storableSlice(t.Elems)
		tail, c2 := storable(t.Tail)
		if c1 || c2 {
			return bert.ImproperList{Elems: elems, Tail: tail}, true
		}
	case bert.Map:
		if out, changed := storablePairs(t); changed {
			return bert.Map(out), true
		}
	case bert.Dict:
		if out, changed := storablePairs(t); changed {
			return bert.Dict(out), true
		}
	}
	return v, false
}

func storableSlice(s []any) ([]any, bool) {
	var out []any
	for i, el := range s {
		after, changed := storable(el)
		if out == nil {
			if !changed {
				continue
			}
			out = make([]any, len(s))
			copy(out, s[:i])
		}
		out[i] = after
	}
	if out == nil {
		return s, false
	}
	return out, true
}

func storablePairs(ps []bert.Pair) ([]bert.Pair, bool) {
	var out []bert.Pair
	for i, p := range ps {
		k, kc := storable(p.Key)
		v, vc := storable(p.Value)
		if out == nil {
			if !kc && !vc {
				continue
			}
			out = make([]bert.Pair, len(ps))
			copy(out, ps[:i])
		}
		out[i] = bert.Pair{Key: k, Value: v}
	}
	if out == nil {
		return ps, false
	}
	return out, true
}

// smallIntList returns l as a LIST_EXT RawTerm if the Erlang profile would
// write it as STRING_EXT: not empty, at most 65535 elements, every one an
// integer 0..255.
func smallIntList(l []any) (bert.RawTerm, bool) {
	if len(l) == 0 || len(l) > math.MaxUint16 {
		return nil, false
	}
	for _, el := range l {
		if _, ok := smallIntValue(el); !ok {
			return nil, false
		}
	}
	raw := make(bert.RawTerm, 0, 7+2*len(l))
	raw = append(raw, extVersion, extList)
	raw = binary.BigEndian.AppendUint32(raw, uint32(len(l)))
	for _, el := range l {
		c, _ := smallIntValue(el)
		raw = append(raw, extSmallInt, c)
	}
	return append(raw, extNil), true
}

// smallIntValue reports whether v is an integer 0..255 of any Go integer
// kind, as the codec's STRING_EXT rule counts them.
func smallIntValue(v any) (byte, bool) {
	var n int64
	switch x := v.(type) {
	case int64:
		n = x
	case int:
		n = int64(x)
	case int32:
		n = int64(x)
	case int16:
		n = int64(x)
	case int8:
		n = int64(x)
	case uint8:
		return x, true
	case uint16:
		n = int64(x)
	case uint32:
		n = int64(x)
	case uint:
		if x > 255 {
			return 0, false
		}
		n = int64(x)
	case uint64:
		if x > 255 {
			return 0, false
		}
		n = int64(x)
	default:
		return 0, false
	}
	if n < 0 || n > 255 {
		return 0, false
	}
	return byte(n), true
}
