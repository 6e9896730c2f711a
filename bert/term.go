package bert

import (
	"fmt"
	"math/big"
)

// The term model. Decoding into an interface value (any) yields these Go
// types, and encoding accepts them; together they represent every term the
// codec supports without losing anything:
//
//	Erlang term                       Go value
//	atom                              Atom
//	integer                           int64, or *big.Int outside the int64 range
//	float                             float64
//	tuple                             Tuple
//	[] and proper lists               List (never nil after decoding)
//	[a, b | Tail]                     ImproperList
//	byte list (STRING_EXT)            ByteList
//	binary                            []byte
//	bit binary                        BitBinary
//	map                               Map
//	{bert, nil}                       nil
//	{bert, true}, {bert, false}       bool
//	{bert, dict, Pairs}               Dict
//	{bert, time, Mega, Sec, Micro}    time.Time (UTC)
//	{bert, regex, Source, Options}    Regex
//
// The bare atoms true, false and nil stay atoms: only the BERT complex
// types map to Go's bool and nil, so a decoded term encodes back to itself.

// Atom is an Erlang atom. It holds the atom's text as UTF-8.
type Atom string

// Tuple is an Erlang tuple.
type Tuple []any

// List is a proper Erlang list. The empty list [] is an empty List.
type List []any

// ImproperList is a list whose tail is not []: [Elems... | Tail].
type ImproperList struct {
	Elems []any
	Tail  any
}

// ByteList is a list of integers 0..255 sent as STRING_EXT: how Erlang
// sends short strings and how BERT-JS sends every JavaScript string.
type ByteList []byte

// BitBinary is a bitstring whose length is not a multiple of eight. Bits
// says how many bits of the last byte of Data are used (1..8); the unused
// low-order bits are zero.
type BitBinary struct {
	Data []byte
	Bits uint8
}

// Pair is one association of a Map or a Dict.
type Pair struct {
	Key   any
	Value any
}

// Map is an Erlang map, its associations in the order they were decoded.
type Map []Pair

// Dict is the BERT complex type {bert, dict, [{Key, Value}]}.
type Dict []Pair

// Regex is the BERT complex type {bert, regex, Source, Options}. Source is
// the binary source of the expression and Options its list of options,
// such as the atoms caseless or multiline.
type Regex struct {
	Source  []byte
	Options List
}

// AsString returns the text of a term that carries text: an Atom, a
// binary ([]byte), a ByteList, a string, or a List (including []) of
// integers 0..255. Erlang code, Erlang-side clients and BERT-JS send the
// same text in these different forms; AsString treats them alike.
func AsString(term any) (string, bool) {
	switch x := term.(type) {
	case Atom:
		return string(x), true
	case []byte:
		return string(x), true
	case ByteList:
		return string(x), true
	case string:
		return x, true
	case List:
		return smallIntString(x)
	case []any:
		return smallIntString(x)
	}
	return "", false
}

func smallIntString(l []any) (string, bool) {
	b := make([]byte, len(l))
	for i, x := range l {
		c, ok := smallInt(x)
		if !ok {
			return "", false
		}
		b[i] = c
	}
	return string(b), true
}

// KindOf names the kind of a term ("an atom", "a tuple of 3 elements", ...)
// for error messages, without printing the term, which may be large.
func KindOf(term any) string {
	switch t := term.(type) {
	case nil:
		return "{bert, nil}"
	case Atom:
		return "an atom"
	case bool:
		return "a boolean"
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, *big.Int:
		return "an integer"
	case float32, float64:
		return "a float"
	case Tuple:
		return fmt.Sprintf("a tuple of %d elements", len(t))
	case List, []any:
		return "a list"
	case ImproperList:
		return "an improper list"
	case ByteList, string:
		return "a string"
	case []byte:
		return "a binary"
	case BitBinary:
		return "a bitstring"
	case Map:
		return "a map"
	case Dict:
		return "a dict"
	case Regex:
		return "a regex"
	}
	return fmt.Sprintf("a term of Go type %T", term)
}
