package erltext

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bertsync/bertsync/bert"
)

var parseTests = []struct {
	in   string
	want any
}{
	{"hello", bert.Atom("hello")},
	{"hello.", bert.Atom("hello")},
	{"  hello . % trailing comment", bert.Atom("hello")},
	{"'hello world'", bert.Atom("hello world")},
	{"'Caps'", bert.Atom("Caps")},
	{"'and'", bert.Atom("and")},
	{"a@b_C9", bert.Atom("a@b_C9")},
	{"héllo", bert.Atom("héllo")},
	{"''", bert.Atom("")},
	{`'a\nb\tc\\d\'e\"f'`, bert.Atom("a\nb\tc\\d'e\"f")},
	{`'\x41\x{3D2}\101\^A\s\d\e\z'`, bert.Atom("A\u03d2A\x01 \x7f\x1bz")},
	{"'日本'", bert.Atom("日本")},
	{"true", bert.Atom("true")},
	{"0", int64(0)},
	{"42", int64(42)},
	{"-42", int64(-42)},
	{"- 42", int64(-42)},
	{"+7", int64(7)},
	{"16#FF", int64(255)},
	{"16#ff", int64(255)},
	{"-16#10", int64(-16)},
	{"2#101", int64(5)},
	{"36#zz", int64(1295)},
	{"1_000_000", int64(1000000)},
	{"$a", int64('a')},
	{`$\n`, int64('\n')},
	{"$ ", int64(' ')},
	{`$\x{3D2}`, int64(0x3d2)},
	{"9223372036854775807", int64(math.MaxInt64)},
	{"-9223372036854775808", int64(math.MinInt64)},
	{"9223372036854775808", mustBig("9223372036854775808")},
	{"-123456789012345678901234567890", mustBig("-123456789012345678901234567890")},
	{"1.5", 1.5},
	{"-0.25", -0.25},
	{"1.0e-10", 1e-10},
	{"2.5E3", 2500.0},
	{"1.0e+06", 1e6},
	{"1_0.5", 10.5},
	{`"abc"`, bert.ByteList("abc")},
	{`"a" "bc"`, bert.ByteList("abc")},
	{`""`, bert.List{}},
	{`"é"`, bert.ByteList{0xe9}},
	{`"\x{3D2}a"`, bert.List{int64(0x3d2), int64('a')}},
	{`"日"`, bert.List{int64(0x65e5)}},
	{"[1,2,3]", bert.ByteList{1, 2, 3}},
	{"[256]", bert.List{int64(256)}},
	{"[-1]", bert.List{int64(-1)}},
	{"[]", bert.List{}},
	{"[a,[]]", bert.List{bert.Atom("a"), bert.List{}}},
	{"[$a|\"bc\"]", bert.ByteList("abc")},
	{"[1|[2]]", bert.ByteList{1, 2}},
	{"[a|b]", bert.ImproperList{Elems: []any{bert.Atom("a")}, Tail: bert.Atom("b")}},
	{"[a,b|[c|d]]", bert.ImproperList{Elems: []any{bert.Atom("a"), bert.Atom("b"), bert.Atom("c")}, Tail: bert.Atom("d")}},
	{"[1|<<>>]", bert.ImproperList{Elems: []any{int64(1)}, Tail: []byte{}}},
	{"{}", bert.Tuple{}},
	{"{a, 1, <<\"x\">>}", bert.Tuple{bert.Atom("a"), int64(1), []byte("x")}},
	{"<<>>", []byte{}},
	{`<<"text">>`, []byte("text")},
	{"<<1,2,3>>", []byte{1, 2, 3}},
	{`<<"a", 1, "bc">>`, []byte("a\x01bc")},
	{"<<\"ab\"\n  \"cd\">>", []byte("abcd")},
	{"<<1,2:3>>", bert.BitBinary{Data: []byte{1, 0x40}, Bits: 3}},
	{"<<1:1>>", bert.BitBinary{Data: []byte{0x80}, Bits: 1}},
	{"<<1,11:5>>", bert.BitBinary{Data: []byte{1, 0x58}, Bits: 5}},
	{"<<1:16>>", []byte{0, 1}},
	{"<<1:16/little>>", []byte{1, 0}},
	{"<<300>>", []byte{44}},
	{"<<-1>>", []byte{255}},
	{"<<-1:16/signed-big>>", []byte{255, 255}},
	{`<<"ab":16>>`, []byte{0, 'a', 0, 'b'}},
	{`<<"é"/utf8>>`, []byte("é")},
	{`<<"\x{3D2}">>`, []byte{0xd2}},
	{`<<$a/utf16>>`, []byte{0, 'a'}},
	{"<<1.5/float>>", []byte{63, 248, 0, 0, 0, 0, 0, 0}},
	{"<<1.5:32/float>>", []byte{63, 192, 0, 0}},
	{"<<1:4/unit:2>>", []byte{1}},
	{"<<123456789012345678901234567890:104>>", []byte{0, 0x01, 0x8e, 0xe9, 0x0f, 0xf6, 0xc3, 0x73, 0xe0, 0xee, 0x4e, 0x3f, 0x0a, 0xd2}[1:]},
	{"#{}", bert.Map{}},
	{"#{k => v, \"s\" => []}", bert.Map{{Key: bert.Atom("k"), Value: bert.Atom("v")}, {Key: bert.ByteList("s"), Value: bert.List{}}}},
	{"#{a => 1, a => 2}", bert.Map{{Key: bert.Atom("a"), Value: int64(2)}}},
	{"{bert,nil}", nil},
	{"{bert,true}", true},
	{"{bert,false}", false},
	{"{bert,dict,[{a,1}]}", bert.Dict{{Key: bert.Atom("a"), Value: int64(1)}}},
	{"{bert,dict,[]}", bert.Dict{}},
	{"{bert,dict,[a]}", bert.Tuple{bert.Atom("bert"), bert.Atom("dict"), bert.List{bert.Atom("a")}}},
	{"{bert,time,1255,295581,446228}", time.Unix(1255295581, 446228000).UTC()},
	{`{bert,regex,<<"^c(a*)t$">>,[caseless]}`, bert.Regex{Source: []byte("^c(a*)t$"), Options: bert.List{bert.Atom("caseless")}}},
	{"{bert,maybe}", bert.Tuple{bert.Atom("bert"), bert.Atom("maybe")}},
	{"{bert}", bert.Tuple{bert.Atom("bert")}},
	{"% leading comment\n{sync,\n  create, % why\n  character, []}.\n", bert.Tuple{bert.Atom("sync"), bert.Atom("create"), bert.Atom("character"), bert.List{}}},
}

func TestParse(t *testing.T) {
	for _, tt := range parseTests {
		got, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Parse(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in        string
		line, col int
		msg       string
	}{
		{"", 1, 1, "expected a term"},
		{"X", 1, 1, "variable"},
		{"_", 1, 1, "variable"},
		{"{a,b", 1, 5, "end of input"},
		{"{a b}", 1, 4, "expected ','"},
		{"[a|b|c]", 1, 5, "expected ']'"},
		{"[|a]", 1, 2, "'|'"},
		{"{a}\n{b}", 2, 1, "after the term"},
		{"and", 1, 1, "reserved word"},
		{"'abc", 1, 1, "unterminated atom"},
		{"\"abc", 1, 1, "unterminated string"},
		{"1.5e", 1, 1, "exponent"},
		{"1.0e400", 1, 1, "out of range"},
		{"1e3", 1, 2, "after the term"},
		{"- -1", 1, 3, "expected a number"},
		{"-a", 1, 2, "expected a number"},
		{"#{a}", 1, 4, "'=>'"},
		{"<<a>>", 1, 3, "in a binary"},
		{"<<1.5>>", 1, 3, ""},
		{"<<\"é\":3/utf8>>", 1, 3, "no size"},
		{"<<1:3/little>>", 1, 3, "whole bytes"},
		{"<<1/foo>>", 1, 5, "type specifier"},
		{"<0.1.0>", 1, 1, "pids"},
		{"#Fun<erl_eval.1>", 1, 1, "funs"},
		{"{a}.b", 1, 4, "'.'"},
		{`"\x{110000}"`, 1, 2, "Unicode"},
		{`"\xZ"`, 1, 2, `\x`},
		{"'" + strings.Repeat("a", 256) + "'", 1, 1, "longer than 255"},
		{"\n\n   ]", 3, 4, "expected a term"},
		{"[1,\n 2,\n )]", 3, 2, "unexpected character"},
		{"99#1", 1, 1, "bad base"},
		{"16#", 1, 4, "digits"},
		{"a\xff", 1, 2, "UTF-8"},
		{strings.Repeat("9", maxIntDigits+1), 1, 1, "digits"},
		{"<<1:16777217>>", 1, 5, "bad segment size"},
		{"<<1:16777216/unit:2>>", 1, 3, "larger than"},
		{"<<1.0:64/float-unit:2>>", 1, 3, "32 or 64"},
		{"[" + strings.Repeat("<<1:16777216>>,", 33) + "a]", 1, 484, "in all"},
		{"16#" + strings.Repeat("f", maxIntDigits+1), 1, 1, "digits"},
		{strings.Repeat("[", maxTextDepth+1) + strings.Repeat("]", maxTextDepth+1), 1, maxTextDepth + 1, "nested deeper"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%.40q) error = %v, want a *ParseError", tt.in, err)
			continue
		}
		if pe.Line != tt.line || pe.Column != tt.col || !strings.Contains(pe.Msg, tt.msg) {
			t.Errorf("Parse(%.40q) = %v, want line %d column %d containing %q", tt.in, err, tt.line, tt.col, tt.msg)
		}
		if !strings.HasPrefix(err.Error(), "erltext: line ") {
			t.Errorf("Parse(%.40q) error %q lacks the erltext: prefix", tt.in, err)
		}
	}
}

// TestParseDeep checks that deep nesting within the bound works and that
// a hostile input far past it fails fast instead of exhausting the stack.
func TestParseDeep(t *testing.T) {
	n := maxTextDepth
	got, err := Parse(strings.Repeat("{", n) + strings.Repeat("}", n))
	if err != nil {
		t.Fatalf("nesting %d: %v", n, err)
	}
	for range n - 1 {
		got = got.(bert.Tuple)[0]
	}
	if !reflect.DeepEqual(got, bert.Tuple{}) {
		t.Fatalf("innermost = %#v", got)
	}
	if _, err := Parse(strings.Repeat("[", 1<<20)); err == nil {
		t.Fatal("a million open brackets parsed")
	}
}

func TestParseLongByteList(t *testing.T) {
	// term_to_binary writes STRING_EXT up to 65535 elements, LIST_EXT past it.
	for _, n := range []int{maxByteListLen, maxByteListLen + 1} {
		text := `"` + strings.Repeat("x", n) + `"`
		got, err := Parse(text)
		if err != nil {
			t.Fatal(err)
		}
		switch v := got.(type) {
		case bert.ByteList:
			if n > maxByteListLen || len(v) != n {
				t.Errorf("%d chars gave a ByteList of %d", n, len(v))
			}
		case bert.List:
			if n <= maxByteListLen || len(v) != n {
				t.Errorf("%d chars gave a List of %d", n, len(v))
			}
		default:
			t.Errorf("%d chars gave %T", n, got)
		}
	}
}

func TestParseBigBinarySegment(t *testing.T) {
	n := new(big.Int).Lsh(big.NewInt(1), 100)
	got, err := Parse("<<" + n.String() + ":101>>")
	if err != nil {
		t.Fatal(err)
	}
	bb, ok := got.(bert.BitBinary)
	if !ok || bb.Bits != 5 || len(bb.Data) != 13 || bb.Data[0] != 0x80 {
		t.Fatalf("got %#v", got)
	}
}

func FuzzParse(f *testing.F) {
	for _, tt := range parseTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, text string) {
		term, err := Parse(text)
		if err != nil {
			return
		}
		out, err := Format(term)
		if err != nil {
			t.Fatalf("Format(Parse(%q)): %v", text, err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(Format(Parse(%q)) = %q): %v", text, out, err)
		}
		if !bert.Equal(term, again) {
			t.Fatalf("round trip of %q changed %#v to %#v", text, term, again)
		}
	})
}

// erlangFixture is one line of testdata/erlang/terms.txt: a term as real
// Erlang/OTP's term_to_binary encoded it and io_lib:format("~w") wrote it.
type erlangFixture struct {
	name, form string
	data       []byte
	text       string
}

func loadErlangFixtures(t testing.TB) []erlangFixture {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "erlang", "terms.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var out []erlangFixture
	for i, line := range strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.SplitN(line, "\t", 4)
		if len(cols) != 4 {
			t.Fatalf("terms.txt line %d: %d columns", i+1, len(cols))
		}
		data, err := hex.DecodeString(cols[2])
		if err != nil {
			t.Fatalf("terms.txt line %d: %v", i+1, err)
		}
		out = append(out, erlangFixture{cols[0], cols[1], data, cols[3]})
	}
	if len(out) < 100 {
		t.Fatalf("terms.txt holds only %d fixtures", len(out))
	}
	return out
}

// TestErlangFixtures checks text against real Erlang output: Parse of
// Erlang's ~w text equals the decoded bytes, Format's text parses back to
// them, and the Erlang profile re-encodes minor_version 2 bytes exactly.
func TestErlangFixtures(t *testing.T) {
	for _, fx := range loadErlangFixtures(t) {
		var term any
		if err := bert.Unmarshal(fx.data, &term); err != nil {
			t.Errorf("%s/%s: Unmarshal: %v", fx.name, fx.form, err)
			continue
		}
		parsed, err := Parse(fx.text)
		if err != nil {
			t.Errorf("%s/%s: Parse(%.200s): %v", fx.name, fx.form, fx.text, err)
			continue
		}
		if !bert.Equal(parsed, term) {
			t.Errorf("%s/%s: Parse(%.200s) = %.300v, decoded %.300v", fx.name, fx.form, fx.text, parsed, term)
		}
		for _, format := range []func(any) (string, error){Format, FormatPretty} {
			text, err := format(term)
			if err != nil {
				t.Errorf("%s/%s: Format: %v", fx.name, fx.form, err)
				continue
			}
			back, err := Parse(text)
			if err != nil || !bert.Equal(back, term) {
				t.Errorf("%s/%s: Parse(Format) = %.300v, %v; text %.300s", fx.name, fx.form, back, err, text)
			}
		}
		if fx.form == "minor2" {
			out, err := bert.Append(nil, term, bert.Erlang)
			if err != nil || !bytes.Equal(out, fx.data) {
				t.Errorf("%s: Erlang profile = %x, %v; term_to_binary gave %x", fx.name, out, err, fx.data)
			}
		}
	}
}

func TestFormatGoValues(t *testing.T) {
	type character struct {
		Name  string `bert:"name"`
		Level int    `bert:"level"`
		Tags  []string
	}
	tests := []struct {
		in   any
		want string
	}{
		{character{"Gandalf", 20, []string{"wizard"}}, `[{name,<<"Gandalf">>},{level,20},{'Tags',[<<"wizard">>]}]`},
		{map[string]int{"b": 2, "a": 1}, "[{a,1},{b,2}]"},
		{[]int{1, 2, 300}, "[1,2,300]"},
		{[]string{}, "[]"},
		{(*character)(nil), "{bert,nil}"},
	}
	for _, tt := range tests {
		got, err := Format(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Format(%#v) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	if _, err := Format(make(chan int)); err == nil || !strings.HasPrefix(err.Error(), "erltext: ") {
		t.Errorf("Format(chan) error = %v", err)
	}
}
