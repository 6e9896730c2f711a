package models

import (
	"github.com/bertsync/bertsync/bert"
)

// maxPropsLinearDup is the property count up to which ParseProps finds
// duplicate keys by comparing pairs; longer lists use a map.
const maxPropsLinearDup = 16

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
// [ErrBadRequest]. Keys keep the order of the term.
func ParseProps(term any) (Props, error) {
	var pairs []bert.Pair
	switch t := term.(type) {
	case nil:
		return Props{}, nil
	case Props:
		return t.Clone(), nil
	case bert.List:
		return parseProplist(t)
	case []any:
		return parseProplist(t)
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
		key, err := propKey(p.Key, i)
		if err != nil {
			return nil, err
		}
		props = append(props, Prop{Key: key, Value: p.Value})
	}
	return props, checkDuplicates(props)
}

func parseProplist(l []any) (Props, error) {
	props := make(Props, 0, len(l))
	for i, el := range l {
		tup, ok := el.(bert.Tuple)
		if !ok || len(tup) != 2 {
			return nil, Errorf(CodeBadRequest, "props: element %d is %s, want a {Key, Value} tuple", i, bert.KindOf(el))
		}
		key, err := propKey(tup[0], i)
		if err != nil {
			return nil, err
		}
		props = append(props, Prop{Key: key, Value: tup[1]})
	}
	return props, checkDuplicates(props)
}

func propKey(k any, i int) (string, error) {
	key, ok := bert.AsString(k)
	if !ok {
		return "", Errorf(CodeBadRequest, "props: key %d is %s, want an atom, a binary or a string", i, bert.KindOf(k))
	}
	if key == "" {
		return "", Errorf(CodeBadRequest, "props: key %d is empty", i)
	}
	return key, nil
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
