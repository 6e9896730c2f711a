package models

import (
	"fmt"
	"math/big"

	"github.com/bertsync/bertsync/bert"
)

// maxPropsLinearDup is the property count up to which ParseProps finds
// duplicate keys by comparing pairs; longer lists use a map.
const maxPropsLinearDup = 16

// The bounds [ParseProps] puts on what a client sends, so that whatever
// is accepted can be committed, answered and read back (docs/limits.md).
const (
	// MaxKeySize is the longest property key, in bytes. Replies carry keys
	// as atoms, and an atom has at most 255 characters; a key must also
	// be an atom the BERT-JS profile can write (ATOM_EXT: Latin-1
	// characters, U+0000 to U+00FF).
	MaxKeySize = 255
	// MaxBignumBytes is the largest integer a property value may hold, in
	// bytes of its magnitude: 256 bytes, 2048 bits, up to
	// [MaxBignumDigits] decimal digits. Converting an integer to decimal
	// text (a JSON reply, an id) costs time that grows faster than its
	// size; this bound keeps it to microseconds.
	MaxBignumBytes = 256
	// MaxBignumDigits is the number of decimal digits of the largest
	// integer of MaxBignumBytes bytes, 2^2048 - 1: the most digits a JSON
	// integer may have.
	MaxBignumDigits = 617
	// MaxValueDepth bounds the nesting of a property value: tuples,
	// lists and pairs count one level, maps two and dicts three (their
	// form in the BERT-JS profile). A reply, a push or a stored record
	// puts a value at most five levels deeper, so every one of them stays
	// within the codec's nesting limit ([bert.DefaultMaxDepth]) and
	// decodes with its default limits; and it is twice what the REST
	// API's JSON allows (an object is a list of pairs).
	MaxValueDepth = 512
)

// ParseProps turns the Props term of a request into [Props]. It accepts
//
//   - a proplist [{Key, Value}, ...],
//   - the BERT dict {bert, dict, [{Key, Value}, ...]} ([bert.Dict]),
//   - an Erlang map ([bert.Map]),
//   - the empty list [] (also as the empty string "") and {bert, nil}
//     (nil), which mean no properties.
//
// A key may be an atom, a binary, a Go string, a byte list (STRING_EXT, how
// BERT-JS sends strings) or a list of small integers: all with the same
// text are the same key. Values are kept as they came.
//
// Anything else, a list element that is not a 2-tuple, a key that is not
// text, an empty key or the same key twice is an error wrapping
// [ErrBadRequest]. So is what could be taken but not answered or read
// back: a key longer than [MaxKeySize] bytes or that the BERT-JS profile
// cannot write as an atom, an integer anywhere in a value larger than
// [MaxBignumBytes], a value nested deeper than [MaxValueDepth]. Keys keep
// the order of the term.
func ParseProps(term any) (Props, error) {
	return parseProps(term, true)
}

// parseProps is ParseProps; strict says the props come from a client
// and must pass the bounds above. What the server wrote itself (a stored
// record) or a handler returned is read without them: a record written
// before a bound existed must still read.
func parseProps(term any, strict bool) (Props, error) {
	var pairs []bert.Pair
	switch t := term.(type) {
	case nil:
		return Props{}, nil
	case Props:
		if strict {
			for i, p := range t {
				if err := checkProp(p.Key, p.Value, i); err != nil {
					return nil, err
				}
			}
		}
		return t.Clone(), nil
	case bert.List:
		return parseProplist(t, strict)
	case []any:
		return parseProplist(t, strict)
	case bert.ByteList:
		// "" is [] in Erlang, and BERT-JS may send either.
		if len(t) == 0 {
			return Props{}, nil
		}
		return nil, Errorf(CodeBadRequest, "props: got a string, want a proplist, a {bert, dict, ...} or a map")
	case bert.Dict:
		pairs = t
	case bert.Map:
		pairs = t
	default:
		return nil, Errorf(CodeBadRequest, "props: got %s, want a proplist, a {bert, dict, ...} or a map", bert.KindOf(term))
	}
	props := make(Props, 0, len(pairs))
	for i, p := range pairs {
		key, err := propKey(p.Key, i, strict)
		if err != nil {
			return nil, err
		}
		if strict {
			if err := checkProp(key, p.Value, i); err != nil {
				return nil, err
			}
		}
		props = append(props, Prop{Key: key, Value: p.Value})
	}
	return props, checkDuplicates(props)
}

func parseProplist(l []any, strict bool) (Props, error) {
	// The shapes first: Props take 32 bytes a property, and a list of
	// one-byte elements that are no pairs must not cost that.
	for i, el := range l {
		if tup, ok := el.(bert.Tuple); !ok || len(tup) != 2 {
			return nil, Errorf(CodeBadRequest, "props: element %d is %s, want a {Key, Value} tuple", i, bert.KindOf(el))
		}
	}
	props := make(Props, 0, len(l))
	for i, el := range l {
		tup := el.(bert.Tuple)
		key, err := propKey(tup[0], i, strict)
		if err != nil {
			return nil, err
		}
		if strict {
			if err := checkProp(key, tup[1], i); err != nil {
				return nil, err
			}
		}
		props = append(props, Prop{Key: key, Value: tup[1]})
	}
	return props, checkDuplicates(props)
}

func propKey(k any, i int, strict bool) (string, error) {
	if strict && textLen(k) > MaxKeySize {
		// Before the text is copied out of a long list or binary.
		return "", keyTooLong(i, textLen(k))
	}
	key, ok := bert.AsString(k)
	if !ok {
		return "", Errorf(CodeBadRequest, "props: key %d is %s, want an atom, a binary or a string", i, bert.KindOf(k))
	}
	if key == "" {
		return "", Errorf(CodeBadRequest, "props: key %d is empty", i)
	}
	return key, nil
}

func keyTooLong(i, n int) error {
	return Errorf(CodeBadRequest, "props: key %d is %d bytes, the limit is %d", i, n, MaxKeySize)
}

// textLen is a lower bound of the length in bytes of the text of a term
// [bert.AsString] reads, found without copying it: exact for binaries,
// strings and atoms, the element count for a list.
func textLen(v any) int {
	switch x := v.(type) {
	case bert.Atom:
		return len(x)
	case []byte:
		return len(x)
	case bert.ByteList:
		return len(x)
	case string:
		return len(x)
	case bert.List:
		return len(x)
	case []any:
		return len(x)
	}
	return 0
}

// checkProp checks a client's property i against the bounds of
// ParseProps: its key as the atom replies carry, its value's integers
// and nesting.
func checkProp(key string, value any, i int) error {
	if len(key) > MaxKeySize {
		return keyTooLong(i, len(key))
	}
	for j := 0; j < len(key); j++ {
		if key[j] >= 0x80 {
			// Not ASCII: ask the encoder, which is what replies use.
			if _, err := bert.Append(nil, bert.Atom(key), bert.BERTJS); err != nil {
				return Errorf(CodeBadRequest, "props: key %d cannot be sent back as an atom: %v", i, err)
			}
			break
		}
	}
	if err := checkValue(value, 0); err != nil {
		return Errorf(CodeBadRequest, "props: value of %q: %v", truncateKey(key), err)
	}
	return nil
}

// errTooDeep is the error of checkValue for a value nested too deep.
var errTooDeep = fmt.Errorf("nested deeper than %d levels", MaxValueDepth)

// checkValue walks v, found depth levels down in a property value, for
// integers over MaxBignumBytes and nesting beyond MaxValueDepth. Its
// recursion is bounded by MaxValueDepth, whatever v is (a Go value with
// a cycle included).
func checkValue(v any, depth int) error {
	switch x := v.(type) {
	case *big.Int:
		if x != nil && x.BitLen() > 8*MaxBignumBytes {
			return fmt.Errorf("an integer of %d bytes, the limit is %d", (x.BitLen()+7)/8, MaxBignumBytes)
		}
		return nil
	case bert.Tuple:
		return checkElems(x, depth+1)
	case bert.List:
		return checkElems(x, depth+1)
	case []any:
		return checkElems(x, depth+1)
	case bert.ImproperList:
		if err := checkElems(x.Elems, depth+1); err != nil {
			return err
		}
		return checkValue(x.Tail, depth+1)
	case bert.Pair:
		return checkPairs([]bert.Pair{x}, depth+1)
	case bert.Map:
		return checkPairs(x, depth+2)
	case bert.Dict:
		return checkPairs(x, depth+3)
	case bert.Regex:
		return checkElems(x.Options, depth+2)
	}
	return nil
}

func checkElems(l []any, depth int) error {
	if depth > MaxValueDepth {
		return errTooDeep
	}
	for _, x := range l {
		if err := checkValue(x, depth); err != nil {
			return err
		}
	}
	return nil
}

func checkPairs(ps []bert.Pair, depth int) error {
	if depth > MaxValueDepth {
		return errTooDeep
	}
	for _, p := range ps {
		if err := checkValue(p.Key, depth); err != nil {
			return err
		}
		if err := checkValue(p.Value, depth); err != nil {
			return err
		}
	}
	return nil
}

func truncateKey(key string) string {
	if len(key) > 40 {
		return key[:40] + "…"
	}
	return key
}

func checkDuplicates(props Props) error {
	if len(props) <= maxPropsLinearDup {
		for i := range props {
			for j := range i {
				if props[i].Key == props[j].Key {
					return Errorf(CodeBadRequest, "props: key %q appears twice", props[i].Key)
				}
			}
		}
		return nil
	}
	seen := make(map[string]struct{}, len(props))
	for _, p := range props {
		if _, dup := seen[p.Key]; dup {
			return Errorf(CodeBadRequest, "props: key %q appears twice", p.Key)
		}
		seen[p.Key] = struct{}{}
	}
	return nil
}

// Get returns the value of key and whether p has it.
func (p Props) Get(key string) (any, bool) {
	for _, prop := range p {
		if prop.Key == key {
			return prop.Value, true
		}
	}
	return nil, false
}

// Has reports whether p has key.
func (p Props) Has(key string) bool {
	_, ok := p.Get(key)
	return ok
}

// Text returns the text of key's value (see [bert.AsString]) and whether
// p has key with a text value.
func (p Props) Text(key string) (string, bool) {
	v, ok := p.Get(key)
	if !ok {
		return "", false
	}
	return bert.AsString(v)
}

// Set returns props with key set to value: the value of key replaced where
// it is, or key appended. p itself is not changed.
func (p Props) Set(key string, value any) Props {
	out := make(Props, len(p), len(p)+1)
	copy(out, p)
	for i := range out {
		if out[i].Key == key {
			out[i].Value = value
			return out
		}
	}
	return append(out, Prop{Key: key, Value: value})
}

// Delete returns props without key. p itself is not changed.
func (p Props) Delete(key string) Props {
	out := make(Props, 0, len(p))
	for _, prop := range p {
		if prop.Key != key {
			out = append(out, prop)
		}
	}
	return out
}

// Merge returns p with every property of q set on it, in q's order: keys
// of p keep their place, new keys come after. p itself is not changed.
func (p Props) Merge(q Props) Props {
	out := p.Clone()
	for _, prop := range q {
		found := false
		for i := range out {
			if out[i].Key == prop.Key {
				out[i].Value = prop.Value
				found = true
				break
			}
		}
		if !found {
			out = append(out, prop)
		}
	}
	return out
}

// Clone returns a copy of p's list. The values are shared.
func (p Props) Clone() Props {
	out := make(Props, len(p))
	copy(out, p)
	return out
}

// Term returns p as a proplist with atom keys, [{Key, Value}, ...], the
// form replies and pushes carry.
func (p Props) Term() bert.List {
	l := make(bert.List, len(p))
	// The pairs share one backing array: every reply and push is made
	// this way, and one allocation for all of them beats one per pair.
	// Each pair is capped at its two elements, so that appending to one
	// cannot overwrite the next.
	elems := make([]any, 2*len(p))
	for i, prop := range p {
		kv := elems[2*i : 2*i+2 : 2*i+2]
		kv[0], kv[1] = bert.Atom(prop.Key), prop.Value
		l[i] = bert.Tuple(kv)
	}
	return l
}
