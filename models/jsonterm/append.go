package jsonterm

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/models"
)

// maxExactInt is the magnitude up to which every integer is a double.
const maxExactInt = 1 << 53

// Append appends the JSON of v to dst, the way the REST API writes
// replies. v is a term of the bert term model or a handler's reply:
// [models.Props] (an object, {} when empty), a slice, a map with string
// keys, a struct (through its bert encoding, so bert struct tags name the
// keys), or any value [bert.Marshal] accepts. Terms print as:
//
//	term                                        JSON
//	binary, byte list, atom, Go string          string (see Text below)
//	the atoms true and false                    true, false
//	{bert, true}, {bert, false}, {bert, nil}    true, false, null
//	non-empty list of {Key, Value} whose keys   object
//	  are atoms, binaries or byte lists
//	map, {bert, dict, Pairs}                    object
//	other list, tuple                           array
//	integer a double holds exactly              number
//	other integer                               string of its decimal digits
//	float                                       number, with ".0" when integral
//	{bert, time, ...} (time.Time)               RFC 3339 string in UTC
//	bit binary                                  {"bitstring": Base64, "bits": N}
//	{bert, regex, Source, Options}              {"regex": Source, "options": [...]}
//	improper list [A, B | T]                    {"improper": [A, B], "tail": T}
//
// Text: bytes that are valid UTF-8 print as that text; other bytes print one
// character per byte (U+0000..U+00FF), the "binary string" convention of
// BERT-JS, so nothing is replaced or lost. <, >, &, U+2028 and U+2029 are
// escaped.
//
// A map or dict prints as an object when every key is text or an integer
// (printed as its digits), and as an array of [Key, Value] arrays otherwise.
// Integers beyond 2^53 that a double cannot hold become strings because
// JavaScript, the usual reader, would round them. NaN and infinite floats,
// which JSON cannot hold, are an error, as is nesting deeper than 512
// levels.
func Append(dst []byte, v any) ([]byte, error) {
	return appendValue(dst, v, 0)
}

func appendValue(b []byte, v any, depth int) ([]byte, error) {
	if depth > maxDepth*4 {
		return b, fmt.Errorf("jsonterm: nested deeper than %d", maxDepth*4)
	}
	depth++
	switch t := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, t), nil
	case bert.Atom:
		if t == "true" || t == "false" {
			return append(b, t...), nil
		}
		return AppendText(b, []byte(t)), nil
	case string:
		return AppendText(b, []byte(t)), nil
	case []byte:
		return AppendText(b, t), nil
	case bert.ByteList:
		return AppendText(b, t), nil
	case int64:
		return appendInt(b, t), nil
	case int:
		return appendInt(b, int64(t)), nil
	case int32:
		return appendInt(b, int64(t)), nil
	case uint8:
		return appendInt(b, int64(t)), nil
	case uint64:
		return appendBig(b, new(big.Int).SetUint64(t)), nil
	case *big.Int:
		if t == nil {
			return append(b, "null"...), nil
		}
		return appendBig(b, t), nil
	case float64:
		return appendFloat(b, t)
	case float32:
		return appendFloat(b, float64(t))
	case time.Time:
		b = append(b, '"')
		b = t.UTC().AppendFormat(b, time.RFC3339Nano)
		return append(b, '"'), nil
	case bert.Tuple:
		return appendArray(b, t, depth)
	case []any:
		return appendArray(b, t, depth)
	case bert.List:
		if len(t) > 0 && isProplist(t) {
			return appendProplist(b, t, depth)
		}
		return appendArray(b, t, depth)
	case bert.ImproperList:
		b = append(b, `{"improper":`...)
		b, err := appendArray(b, t.Elems, depth)
		if err != nil {
			return b, err
		}
		b = append(b, `,"tail":`...)
		if b, err = appendValue(b, t.Tail, depth); err != nil {
			return b, err
		}
		return append(b, '}'), nil
	case bert.Map:
		return appendPairs(b, t, depth)
	case bert.Dict:
		return appendPairs(b, t, depth)
	case bert.BitBinary:
		b = append(b, `{"bitstring":"`...)
		b = base64.StdEncoding.AppendEncode(b, t.Data)
		b = append(b, `","bits":`...)
		b = strconv.AppendUint(b, uint64(t.Bits), 10)
		return append(b, '}'), nil
	case bert.Regex:
		b = append(b, `{"regex":`...)
		b = AppendText(b, t.Source)
		b = append(b, `,"options":`...)
		b, err := appendArray(b, t.Options, depth)
		if err != nil {
			return b, err
		}
		return append(b, '}'), nil
	case models.Props:
		b = append(b, '{')
		for i, p := range t {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendText(b, []byte(p.Key))
			b = append(b, ':')
			var err error
			if b, err = appendValue(b, p.Value, depth); err != nil {
				return b, err
			}
		}
		return append(b, '}'), nil
	case []models.Props:
		return appendSlice(b, reflect.ValueOf(t), depth)
	case json.Number:
		n, err := parseNumber(string(t))
		if err != nil {
			return b, fmt.Errorf("jsonterm: %w", err)
		}
		return appendValue(b, n, depth)
	}
	return appendReflect(b, v, depth)
}

// appendReflect handles the Go values a handler may reply with that are
// not terms: slices and string-keyed maps element by element (so that a
// []models.Props or a map[string]any keeps the mapping above), other
// integer kinds directly, and everything else (structs, pointers,
// Marshalers) through its bert encoding, so that bert struct tags decide
// the keys.
func appendReflect(b []byte, v any, depth int) ([]byte, error) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return append(b, "[]"...), nil
		}
		if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8 && !implementsMarshaler(rv.Type()) {
			return AppendText(b, rv.Bytes()), nil
		}
		if !implementsMarshaler(rv.Type()) {
			return appendSlice(b, rv, depth)
		}
	case reflect.Map:
		if rv.Type().Key().Kind() == reflect.String && !implementsMarshaler(rv.Type()) {
			keys := make([]string, 0, rv.Len())
			for _, k := range rv.MapKeys() {
				keys = append(keys, k.String())
			}
			slices.Sort(keys)
			b = append(b, '{')
			for i, k := range keys {
				if i > 0 {
					b = append(b, ',')
				}
				b = AppendText(b, []byte(k))
				b = append(b, ':')
				var err error
				kv := reflect.ValueOf(k).Convert(rv.Type().Key())
				if b, err = appendValue(b, rv.MapIndex(kv).Interface(), depth); err != nil {
					return b, err
				}
			}
			return append(b, '}'), nil
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if !implementsMarshaler(rv.Type()) {
			return appendInt(b, rv.Int()), nil
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if !implementsMarshaler(rv.Type()) {
			return appendBig(b, new(big.Int).SetUint64(rv.Uint())), nil
		}
	case reflect.String:
		if !implementsMarshaler(rv.Type()) {
			return AppendText(b, []byte(rv.String())), nil
		}
	case reflect.Bool:
		if !implementsMarshaler(rv.Type()) {
			return strconv.AppendBool(b, rv.Bool()), nil
		}
	case reflect.Float32, reflect.Float64:
		if !implementsMarshaler(rv.Type()) {
			return appendFloat(b, rv.Float())
		}
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return append(b, "null"...), nil
		}
	}
	term, err := termOf(v)
	if err != nil {
		return b, err
	}
	return appendValue(b, term, depth)
}

// termOf turns any value bert can encode into the term model by encoding
// and decoding it.
func termOf(v any) (any, error) {
	data, err := bert.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("jsonterm: JSON of %T: %w", v, err)
	}
	var term any
	if err := bert.Unmarshal(data, &term); err != nil {
		return nil, fmt.Errorf("jsonterm: JSON of %T: %w", v, err)
	}
	return term, nil
}

var marshalerType = reflect.TypeFor[bert.Marshaler]()

// implementsMarshaler reports whether t encodes itself, in which case its
// bert encoding decides its JSON.
func implementsMarshaler(t reflect.Type) bool {
	return t.Implements(marshalerType) || reflect.PointerTo(t).Implements(marshalerType)
}

func appendSlice(b []byte, rv reflect.Value, depth int) ([]byte, error) {
	b = append(b, '[')
	for i := range rv.Len() {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendValue(b, rv.Index(i).Interface(), depth); err != nil {
			return b, err
		}
	}
	return append(b, ']'), nil
}

func appendArray(b []byte, elems []any, depth int) ([]byte, error) {
	b = append(b, '[')
	for i, el := range elems {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendValue(b, el, depth); err != nil {
			return b, err
		}
	}
	return append(b, ']'), nil
}

// isProplist reports whether every element of l is a {Key, Value} tuple
// with a text key (atom, binary or byte list): such a list prints as an
// object.
func isProplist(l bert.List) bool {
	for _, el := range l {
		tup, ok := el.(bert.Tuple)
		if !ok || len(tup) != 2 {
			return false
		}
		if _, ok := keyText(tup[0]); !ok {
			return false
		}
	}
	return true
}

// keyText returns the text of a proplist key.
func keyText(k any) ([]byte, bool) {
	switch t := k.(type) {
	case bert.Atom:
		return []byte(t), true
	case []byte:
		return t, true
	case bert.ByteList:
		return t, true
	case string:
		return []byte(t), true
	}
	return nil, false
}

func appendProplist(b []byte, l bert.List, depth int) ([]byte, error) {
	b = append(b, '{')
	for i, el := range l {
		if i > 0 {
			b = append(b, ',')
		}
		tup := el.(bert.Tuple)
		key, _ := keyText(tup[0])
		b = AppendText(b, key)
		b = append(b, ':')
		var err error
		if b, err = appendValue(b, tup[1], depth); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

// appendPairs prints a map or dict as an object when every key is text
// or an integer, and as an array of [Key, Value] arrays otherwise, so that
// no key is lost to a string conversion.
func appendPairs(b []byte, pairs []bert.Pair, depth int) ([]byte, error) {
	objectKeys := true
	for _, p := range pairs {
		if _, ok := pairKey(p.Key); !ok {
			objectKeys = false
			break
		}
	}
	var err error
	if !objectKeys {
		b = append(b, '[')
		for i, p := range pairs {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '[')
			if b, err = appendValue(b, p.Key, depth); err != nil {
				return b, err
			}
			b = append(b, ',')
			if b, err = appendValue(b, p.Value, depth); err != nil {
				return b, err
			}
			b = append(b, ']')
		}
		return append(b, ']'), nil
	}
	b = append(b, '{')
	for i, p := range pairs {
		if i > 0 {
			b = append(b, ',')
		}
		key, _ := pairKey(p.Key)
		b = AppendText(b, key)
		b = append(b, ':')
		if b, err = appendValue(b, p.Value, depth); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

func pairKey(k any) ([]byte, bool) {
	switch t := k.(type) {
	case int64:
		return strconv.AppendInt(nil, t, 10), true
	case *big.Int:
		if t != nil {
			return t.Append(nil, 10), true
		}
	}
	return keyText(k)
}

// appendInt prints n as a number when a double holds it exactly, which
// is what JavaScript reads numbers into, and as a string of digits
// otherwise so that no digit is silently rounded away.
func appendInt(b []byte, n int64) []byte {
	if n >= -maxExactInt && n <= maxExactInt {
		return strconv.AppendInt(b, n, 10)
	}
	f := float64(n)
	// float64(MaxInt64) rounds up to 2^63, outside the int64 range.
	if f < math.MaxInt64 && int64(f) == n {
		return strconv.AppendInt(b, n, 10)
	}
	b = append(b, '"')
	b = strconv.AppendInt(b, n, 10)
	return append(b, '"')
}

func appendBig(b []byte, n *big.Int) []byte {
	if n.IsInt64() {
		return appendInt(b, n.Int64())
	}
	if _, acc := new(big.Float).SetInt(n).Float64(); acc == big.Exact {
		return n.Append(b, 10)
	}
	b = append(b, '"')
	b = n.Append(b, 10)
	return append(b, '"')
}

// appendFloat prints f in the shortest form that reads back as the same
// double, with ".0" added to integral values so that they read back as
// floats rather than integers.
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, fmt.Errorf("jsonterm: JSON cannot hold the float %v", f)
	}
	start := len(b)
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if !bytes.ContainsAny(b[start:], ".e") {
		b = append(b, ".0"...)
	}
	return b, nil
}

const hexDigits = "0123456789abcdef"

// AppendText appends text as a JSON string, as [Append] prints binaries:
// as UTF-8 text when it is valid UTF-8, else one character per byte. <, >
// and & are escaped so that the JSON is safe inside HTML. It is for JSON
// a caller writes around terms, such as the REST API's error bodies.
func AppendText(b, text []byte) []byte {
	latin1 := !utf8.Valid(text)
	b = append(b, '"')
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		if latin1 {
			b = utf8.AppendRune(b, rune(c))
			i++
			continue
		}
		r, size := utf8.DecodeRune(text[i:])
		if r == '\u2028' || r == '\u2029' {
			// Valid JSON, but not valid JavaScript source before ES2019.
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		} else {
			b = append(b, text[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
