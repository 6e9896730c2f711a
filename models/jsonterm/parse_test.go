package jsonterm

import (
	"errors"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/bertsync/bertsync/bert"
)

func bigInt(t testing.TB, s string) *big.Int {
	t.Helper()
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		t.Fatalf("bad big int %q", s)
	}
	return n
}

func pl(kv ...any) bert.List {
	l := bert.List{}
	for i := 0; i < len(kv); i += 2 {
		l = append(l, bert.Tuple{bert.Atom(kv[i].(string)), kv[i+1]})
	}
	return l
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want any
	}{
		{`"hi"`, []byte("hi")},
		{`"é\u0000"`, []byte("é\x00")},
		{`true`, true},
		{`false`, false},
		{`null`, nil},
		{`0`, int64(0)},
		{`-42`, int64(-42)},
		{`9223372036854775807`, int64(9223372036854775807)},
		{`-9223372036854775808`, int64(-9223372036854775808)},
		{`9223372036854775808`, bigInt(t, "9223372036854775808")},
		{`-123456789012345678901234567890`, bigInt(t, "-123456789012345678901234567890")},
		{`1.5`, 1.5},
		{`1.0`, 1.0},
		{`1e3`, 1000.0},
		{`-2.5E-3`, -0.0025},
		{`[]`, bert.List{}},
		{`{}`, bert.List{}},
		{`[1,"a",[null]]`, bert.List{int64(1), []byte("a"), bert.List{nil}}},
		{`{"b":1,"a":{"c":[true]}}`, pl("b", int64(1), "a", pl("c", bert.List{true}))},
		{" \n{\"x\" : \"y\"} \t", pl("x", []byte("y"))},
	}
	for _, tt := range tests {
		got, err := Parse([]byte(tt.in))
		if err != nil {
			t.Errorf("Parse(%s): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Parse(%s) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	// off is the offset of the error: the bytes read before the fault,
	// which ends the offending token.
	tests := []struct {
		in, want string
		off      int64
	}{
		{``, "unexpected EOF", 0},
		{`{`, "unexpected EOF", 1},
		{`{"a":1,"b":`, "unexpected EOF", 11},
		{`{"a" 1}`, "invalid character", 5},
		{`[1,]`, "invalid character", 3},
		{`{} {}`, "data after", 2},
		{`"a" x`, "data after", 3},
		{`1e400`, "out of the range", 5},
		{` [1, 2e999]`, "out of the range", 10},
		{`{"":1}`, "keys become atoms", 3},
		{`{"` + strings.Repeat("k", 256) + `":1}`, "keys become atoms", 259},
		{strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1), "nested deeper", maxDepth + 1},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.in))
		if err == nil {
			t.Errorf("Parse(%.30s): no error", tt.in)
			continue
		}
		var pe *ParseError
		if !errors.As(err, &pe) || !strings.Contains(pe.Err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "jsonterm: ") {
			t.Errorf("Parse(%.30s) = %v, want a *ParseError containing %q", tt.in, err, tt.want)
			continue
		}
		if pe.Offset != tt.off {
			t.Errorf("Parse(%.30s): offset %d, want %d", tt.in, pe.Offset, tt.off)
		}
	}
	// The deepest accepted nesting still parses.
	ok := strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth)
	if _, err := Parse([]byte(ok)); err != nil {
		t.Errorf("depth %d: %v", maxDepth, err)
	}
	// A key of 255 multi-byte characters is one atom.
	if _, err := Parse([]byte(`{"` + strings.Repeat("é", 255) + `":1}`)); err != nil {
		t.Errorf("255-character key: %v", err)
	}
}
