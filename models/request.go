package models

import (
	"math"
	"math/big"
	"strconv"

	"github.com/bertsync/bertsync/bert"
)

// MaxModelNameSize is the longest model type name, in bytes, that
// [NewRequest] and [Registry.Register] accept: the longest Erlang atom.
const MaxModelNameSize = 255

// MaxIDSize is the longest id, in bytes, that [NewRequest] accepts.
const MaxIDSize = 1024

// ParseMethod returns the Method named by s, or an error wrapping
// [ErrBadRequest] if s is not one of create, read, update, patch, delete.
func ParseMethod(s string) (Method, error) {
	switch m := Method(s); m {
	case Create, Read, Update, Patch, Delete:
		return m, nil
	}
	return "", Errorf(CodeBadRequest, "unknown method %q, want create, read, update, patch or delete", s)
}

// NewRequest returns the Request of a sync call after checking it: method
// must be one of the five handler methods and model a name of 1 to
// [MaxModelNameSize] bytes, or the error wraps [ErrBadRequest].
//
// ID is taken from the "id" property: its text (an atom, a binary, a
// string or a byte list, see [bert.AsString]), or the decimal text of an
// integer id, since JavaScript front ends and REST paths use numbers and
// their text interchangeably; a whole float64 of at most 2^53, such as a
// JSON number decoded as 7.0, counts as that integer. A nil id ({bert, nil}) and the empty text
// mean no id. Any other id term, or one longer than [MaxIDSize], is a bad
// request. The "id" property stays in Props as the client sent it.
func NewRequest(method Method, model string, props Props) (Request, error) {
	if _, err := ParseMethod(string(method)); err != nil {
		return Request{}, err
	}
	if err := checkModelName(model); err != nil {
		return Request{}, err
	}
	id, err := idOf(props)
	if err != nil {
		return Request{}, err
	}
	if props == nil {
		props = Props{}
	}
	return Request{Method: method, Model: model, ID: id, Props: props}, nil
}

func checkModelName(model string) error {
	if model == "" {
		return Errorf(CodeBadRequest, "empty model name")
	}
	if len(model) > MaxModelNameSize {
		return Errorf(CodeBadRequest, "model name of %d bytes, the limit is %d", len(model), MaxModelNameSize)
	}
	return nil
}

// maxExactFloat is 2^53: every integer up to it in magnitude is exact
// in a float64, JavaScript's only number type.
const maxExactFloat = 1 << 53

// integralFloat returns f as an integer if it is a whole number that a
// float64 holds exactly: a JavaScript number that came through JSON as a
// float, such as 7.0.
func integralFloat(f float64) (int64, bool) {
	if f != math.Trunc(f) || f > maxExactFloat || f < -maxExactFloat {
		return 0, false
	}
	return int64(f), true
}

// idOf returns the text of the "id" property (see NewRequest). Its
// length is checked before any conversion: the decimal text of a large
// bignum costs time that grows faster than its size, and copying out a
// long binary or list costs its size.
func idOf(props Props) (string, error) {
	v, ok := props.Get("id")
	if !ok || v == nil {
		return "", nil
	}
	if n := textLen(v); n > MaxIDSize {
		return "", idTooLong(n)
	}
	var id string
	switch t := v.(type) {
	case int64:
		id = strconv.FormatInt(t, 10)
	case int:
		id = strconv.Itoa(t)
	case *big.Int:
		if t == nil {
			return "", nil
		}
		if t.BitLen() > 8*MaxBignumBytes {
			return "", Errorf(CodeBadRequest, "id is an integer of %d bytes, the limit is %d", (t.BitLen()+7)/8, MaxBignumBytes)
		}
		id = t.String()
	case float64:
		n, ok := integralFloat(t)
		if !ok {
			return "", Errorf(CodeBadRequest, "id is a float, want a binary, a string or an integer")
		}
		id = strconv.FormatInt(n, 10)
	default:
		s, ok := bert.AsString(v)
		if !ok {
			return "", Errorf(CodeBadRequest, "id is %s, want a binary, a string or an integer", bert.KindOf(v))
		}
		id = s
	}
	if len(id) > MaxIDSize {
		return "", idTooLong(len(id))
	}
	return id, nil
}

func idTooLong(n int) error {
	return Errorf(CodeBadRequest, "id of %d bytes, the limit is %d", n, MaxIDSize)
}
