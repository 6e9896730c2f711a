package models

import (
	"fmt"

	"github.com/bertsync/bertsync/bert"
)

// Bind stores the properties in the struct (or map, or other value) that
// v points to, as [bert.Unmarshal] would from the proplist [Props.Term]:
// fields match keys by their `bert:"name"` tags, text fits string fields
// whether it came as a binary or a byte list, and so on. Keys without a
// field are ignored. An error, such as a value of the wrong type for its
// field, wraps [ErrBadRequest]: props come from the client.
func (p Props) Bind(v any) error {
	data, err := bert.Append(nil, p.Term(), bert.Erlang)
	if err != nil {
		return Errorf(CodeBadRequest, "props: %w", err)
	}
	if err := bert.Unmarshal(data, v); err != nil {
		return Errorf(CodeBadRequest, "props: %w", err)
	}
	return nil
}

// FromValue returns the properties of v, a handler's reply for one model:
// Props, a proplist, a dict or a map term, a Go map with string keys or a
// struct (through its bert tags), or a pointer to one. nil has no
// properties. Anything else is an error: it is the handler's fault, so the
// error is not a bad request.
func FromValue(v any) (Props, error) {
	switch t := v.(type) {
	case nil:
		return Props{}, nil
	case Props:
		return t.Clone(), nil
	case bert.List, bert.Dict, bert.Map:
		return fromTerm(v, t)
	}
	data, err := bert.Append(nil, v, bert.Erlang)
	if err != nil {
		return nil, fmt.Errorf("models: props of %T: %w", v, err)
	}
	var term any
	if err := bert.Unmarshal(data, &term); err != nil {
		return nil, fmt.Errorf("models: props of %T: %w", v, err)
	}
	return fromTerm(v, term)
}

func fromTerm(v, term any) (Props, error) {
	// Without the bounds on a client's props: a handler's reply is the
	// handler's to shape, and the encoder judges it.
	p, err := parseProps(term, false)
	if err != nil {
		// %v: a handler's bad reply is an internal error, not a bad request.
		return nil, fmt.Errorf("models: props of %T: %s", v, MessageOf(err))
	}
	return p, nil
}

// ReplyTerm returns the term to send for a handler's reply v: the proplist
// of Props ([Props.Term]), a list of proplists for []Props, and v itself
// otherwise, for the codec to encode as it encodes any Go value.
func ReplyTerm(v any) any {
	switch t := v.(type) {
	case Props:
		return t.Term()
	case []Props:
		l := make(bert.List, len(t))
		for i, p := range t {
			l[i] = p.Term()
		}
		return l
	}
	return v
}

// MarshalBERT encodes p as its proplist [Props.Term] in the BERTJS
// profile, so that Props, and slices and structs holding Props, marshal
// as the wire contract wants and not as a list of Prop structs.
// [ReplyTerm] does the same without a second encoding pass and in the
// caller's profile.
func (p Props) MarshalBERT() ([]byte, error) {
	return bert.Marshal(p.Term())
}

// UnmarshalBERT decodes a props term into p as [ParseProps] does.
func (p *Props) UnmarshalBERT(data []byte) error {
	var term any
	if err := bert.Unmarshal(data, &term); err != nil {
		return err
	}
	parsed, err := ParseProps(term)
	if err != nil {
		return err
	}
	*p = parsed
	return nil
}

var (
	_ bert.Marshaler   = Props(nil)
	_ bert.Unmarshaler = (*Props)(nil)
)
