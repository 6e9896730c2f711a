package jsonterm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/models"
)

// maxDepth is the deepest nesting of arrays and objects Parse accepts. It
// bounds the recursion on attacker-controlled input; Backbone models are
// rarely more than a few levels deep.
const maxDepth = 128

// maxAtomLen is the longest Erlang atom, in characters.
const maxAtomLen = 255

// ParseError reports data that is not JSON the mapping accepts: bad JSON
// syntax, data after the value, or JSON that has no term (see [Parse]).
// Every error of Parse is one; Err describes the fault and Offset counts
// the bytes of data read before it was found.
type ParseError struct {
	Offset int64
	Err    error
}

func (e *ParseError) Error() string {
	return "jsonterm: " + e.Err.Error() + " at offset " + strconv.FormatInt(e.Offset, 10)
}

func (e *ParseError) Unwrap() error { return e.Err }

// Parse decodes one JSON value from data into the bert term model, the way
// the REST API reads request bodies:
//
//	JSON                      term
//	string                    binary ([]byte)
//	object                    proplist with atom keys, [{Key, Value}] (a bert.List
//	                          of 2-element bert.Tuple) in the order sent; {} is []
//	array                     list (bert.List)
//	true, false               {bert, true}, {bert, false} (Go bool)
//	null                      {bert, nil} (Go nil)
//	integer in int64 range    integer (int64)
//	larger integer            integer (*big.Int), never rounded
//	number with . e or E      float (float64)
//
// Object keys become atoms, so they must be 1 to 255 characters long.
// Nesting deeper than 128 arrays and objects, a number beyond the range of
// a double, an integer of more than [models.MaxBignumDigits] digits and
// anything after the value but white space are errors, all of them a
// *[ParseError].
//
// [Append] prints these terms back as the same JSON text, for JSON written
// canonically (no exponent without a fraction, no trailing zeros), except
// that {} comes back as [] and integers a double cannot hold exactly come
// back as strings.
func Parse(data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	v, err := parseValue(d, 0)
	if err != nil {
		return nil, parseError(d, data, err)
	}
	end := d.InputOffset()
	if _, err := d.Token(); err != io.EOF {
		return nil, &ParseError{Offset: end, Err: errors.New("data after the JSON value")}
	}
	return v, nil
}

// parseError wraps err with the offset where it was found: the syntax
// error's own, the end of data when data ended inside the value, else the
// position just past the last token read.
func parseError(d *json.Decoder, data []byte, err error) *ParseError {
	off := d.InputOffset()
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &syn):
		off = syn.Offset
	case errors.Is(err, io.ErrUnexpectedEOF):
		off = int64(len(data))
	}
	return &ParseError{Offset: off, Err: err}
}

// nextToken is d.Token with the end of input inside a value an error.
func nextToken(d *json.Decoder) (json.Token, error) {
	tok, err := d.Token()
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return tok, err
}

func parseValue(d *json.Decoder, depth int) (any, error) {
	tok, err := nextToken(d)
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= maxDepth {
			return nil, fmt.Errorf("nested deeper than %d", maxDepth)
		}
		switch t {
		case '[':
			l := bert.List{}
			for d.More() {
				v, err := parseValue(d, depth+1)
				if err != nil {
					return nil, err
				}
				l = append(l, v)
			}
			_, err := nextToken(d) // ']'
			return l, err
		case '{':
			l := bert.List{}
			for d.More() {
				kt, err := nextToken(d)
				if err != nil {
					return nil, err
				}
				key := kt.(string) // the decoder guarantees string keys
				if key == "" || utf8.RuneCountInString(key) > maxAtomLen {
					return nil, fmt.Errorf("object key %.40q: keys become atoms, 1 to %d characters", key, maxAtomLen)
				}
				v, err := parseValue(d, depth+1)
				if err != nil {
					return nil, err
				}
				l = append(l, bert.Tuple{bert.Atom(key), v})
			}
			_, err := nextToken(d) // '}'
			return l, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	case string:
		return []byte(t), nil
	case json.Number:
		return parseNumber(string(t))
	case bool:
		return t, nil
	case nil:
		return nil, nil
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

// parseNumber keeps integers exact: int64 when they fit, *big.Int when
// they do not; only numbers written with a fraction or exponent are floats.
func parseNumber(s string) (any, error) {
	if !strings.ContainsAny(s, ".eE") {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
		// Before the conversion, whose cost grows faster than the
		// number of digits: props refuse larger integers anyway.
		if digits := len(strings.TrimPrefix(s, "-")); digits > models.MaxBignumDigits {
			return nil, fmt.Errorf("integer of %d digits, the limit is %d", digits, models.MaxBignumDigits)
		}
		if n, ok := new(big.Int).SetString(s, 10); ok {
			return n, nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, fmt.Errorf("number %.40s is out of the range of a double", s)
	}
	return f, nil
}
