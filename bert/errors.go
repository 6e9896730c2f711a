package bert

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
)

// ErrTooDeep is wrapped by the *LimitError returned when a term nests
// deeper than Limits.MaxDepth, or a Go value deeper than the encoder's
// MaxDepth (which usually means a cycle).
var ErrTooDeep = errors.New("bert: term nested too deeply")

// ErrTooLarge is wrapped by the *LimitError returned when a term is longer
// than Limits.MaxSize, or decompresses to more than Limits.MaxDecompressed.
var ErrTooLarge = errors.New("bert: term too large")

// ErrTrailingData is wrapped by the *SyntaxError that [Unmarshal] returns
// when bytes follow the term.
var ErrTrailingData = errors.New("bert: trailing data after term")

// A SyntaxError describes bytes that are not a valid external term.
// Truncated input wraps io.ErrUnexpectedEOF.
type SyntaxError struct {
	msg    string
	Offset int64 // bytes from the start of the input where the error was found
	Err    error // the underlying cause, if any

	need int // for truncation: the input length that would let scanning go on
}

func (e *SyntaxError) Error() string {
	return "bert: " + e.msg + " at offset " + strconv.FormatInt(e.Offset, 10)
}

// Unwrap returns the underlying cause, such as io.ErrUnexpectedEOF.
func (e *SyntaxError) Unwrap() error { return e.Err }

// An UnsupportedTagError reports a valid external term tag that this
// package does not decode: pids, ports, references and funs only make
// sense inside an Erlang node.
type UnsupportedTagError struct {
	Tag    byte
	Offset int64
}

func (e *UnsupportedTagError) Error() string {
	return fmt.Sprintf("bert: unsupported tag %d (%s) at offset %d", e.Tag, tagName(e.Tag), e.Offset)
}

// A LimitError reports input that exceeds one of the [Limits]. Err is
// [ErrTooDeep] or [ErrTooLarge], so errors.Is works on it.
type LimitError struct {
	Err    error
	Limit  int   // the limit that was exceeded
	Offset int64 // where decoding stopped
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%s at offset %d (limit %d)", e.Err, e.Offset, e.Limit)
}

// Unwrap returns ErrTooDeep or ErrTooLarge.
func (e *LimitError) Unwrap() error { return e.Err }

// An UnmarshalTypeError describes a term that cannot be stored in a Go
// value of a specific type.
type UnmarshalTypeError struct {
	Value  string       // description of the term: "atom", "integer 300", ...
	Type   reflect.Type // type of the Go value it could not be assigned to
	Offset int64        // offset of the term in the input
	Field  string       // the full path of the struct field, if any
}

func (e *UnmarshalTypeError) Error() string {
	if e.Field != "" {
		return "bert: cannot unmarshal " + e.Value + " into Go struct field " + e.Field + " of type " + e.Type.String() + " at offset " + strconv.FormatInt(e.Offset, 10)
	}
	return "bert: cannot unmarshal " + e.Value + " into Go value of type " + e.Type.String() + " at offset " + strconv.FormatInt(e.Offset, 10)
}

// An InvalidUnmarshalError describes an invalid argument passed to
// [Unmarshal]: it must be a non-nil pointer.
type InvalidUnmarshalError struct {
	Type reflect.Type
}

func (e *InvalidUnmarshalError) Error() string {
	if e.Type == nil {
		return "bert: Unmarshal(nil)"
	}
	if e.Type.Kind() != reflect.Pointer {
		return "bert: Unmarshal(non-pointer " + e.Type.String() + ")"
	}
	return "bert: Unmarshal(nil " + e.Type.String() + ")"
}

// An UnsupportedTypeError is returned by [Marshal] for a Go type that has
// no term form, such as a channel, func or complex number.
type UnsupportedTypeError struct {
	Type reflect.Type
}

func (e *UnsupportedTypeError) Error() string {
	return "bert: unsupported type: " + e.Type.String()
}

// An UnsupportedValueError is returned by [Marshal] for a value of a
// supported type that has no term form in the chosen profile: NaN and
// infinite floats, atoms too long for Erlang, atoms outside Latin-1 in the
// [BERTJS] profile, invalid bit binaries.
type UnsupportedValueError struct {
	Value reflect.Value
	Str   string
}

func (e *UnsupportedValueError) Error() string {
	return "bert: unsupported value: " + e.Str
}

// A MarshalerError wraps an error from a MarshalBERT or UnmarshalBERT
// method, or reports invalid bytes returned by MarshalBERT.
type MarshalerError struct {
	Type       reflect.Type
	Err        error
	sourceFunc string
}

func (e *MarshalerError) Error() string {
	src := e.sourceFunc
	if src == "" {
		src = "MarshalBERT"
	}
	return "bert: error calling " + src + " for type " + e.Type.String() + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *MarshalerError) Unwrap() error { return e.Err }

var (
	_ error = (*SyntaxError)(nil)
	_ error = (*UnsupportedTagError)(nil)
	_ error = (*LimitError)(nil)
	_ error = (*UnmarshalTypeError)(nil)
	_ error = (*InvalidUnmarshalError)(nil)
	_ error = (*UnsupportedTypeError)(nil)
	_ error = (*UnsupportedValueError)(nil)
	_ error = (*MarshalerError)(nil)
)
