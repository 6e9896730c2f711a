package erltext

import (
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bertsync/bertsync/bert"
)

func mustBig(s string) *big.Int {
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic("bad big int " + s)
	}
	return n
}

var formatTests = []struct {
	in   any
	want string
}{
	{bert.Atom("hello"), "hello"},
	{bert.Atom("hello world"), "'hello world'"},
	{bert.Atom("Caps"), "'Caps'"},
	{bert.Atom("_under"), "'_under'"},
	{bert.Atom("a@b_C9"), "a@b_C9"},
	{bert.Atom("and"), "'and'"},
	{bert.Atom("of"), "'of'"},
	{bert.Atom("true"), "true"},
	{bert.Atom(""), "''"},
	{bert.Atom("it's"), `'it\'s'`},
	{bert.Atom(`back\slash`), `'back\\slash'`},
	{bert.Atom("a\nb\tc"), `'a\nb\tc'`},
	{bert.Atom("\x01\x7f"), `'\001\d'`},
	{bert.Atom("héllo"), "'héllo'"},
	{bert.Atom("日本"), "'日本'"},
	{bert.Atom("\u200b"), `'\x{200B}'`},
	{int64(0), "0"},
	{int64(-42), "-42"},
	{int64(math.MinInt64), "-9223372036854775808"},
	{mustBig("123456789012345678901234567890"), "123456789012345678901234567890"},
	{mustBig("-123456789012345678901234567890"), "-123456789012345678901234567890"},
	{7, "7"},
	{uint8(255), "255"},
	{uint64(math.MaxUint64), "18446744073709551615"},
	{1.0, "1.0"},
	{100.0, "100.0"},
	{0.1, "0.1"},
	{-2.5, "-2.5"},
	{1e-10, "1.0e-10"},
	{1.2345e-5, "1.2345e-5"},
	{0.0001, "0.0001"},
	{1e15, "1.0e15"},
	{1e21, "1.0e21"},
	{123456789.0, "123456789.0"},
	{5e-324, "5.0e-324"},
	{math.MaxFloat64, "1.7976931348623157e308"},
	{math.Copysign(0, -1), "-0.0"},
	{float32(0.5), "0.5"},
	{[]byte("text"), `<<"text">>`},
	{[]byte{}, "<<>>"},
	{[]byte{1, 2, 3}, "<<1,2,3>>"},
	{[]byte("a\nb\"c"), `<<"a\nb\"c">>`},
	{[]byte("héllo"), `<<"héllo"/utf8>>`},
	{[]byte{0xe9}, "<<233>>"},
	{"go string", `<<"go string">>`},
	{bert.BitBinary{Data: []byte{1, 0x40}, Bits: 3}, "<<1,2:3>>"},
	{bert.BitBinary{Data: []byte{0x80}, Bits: 1}, "<<1:1>>"},
	{bert.ByteList("abc"), `"abc"`},
	{bert.ByteList("a\"b\\"), `"a\"b\\"`},
	{bert.ByteList{1, 2, 3}, "[1,2,3]"},
	{bert.ByteList{0xe9}, `"é"`},
	{bert.ByteList{}, "[]"},
	{bert.Tuple{}, "{}"},
	{bert.Tuple{bert.Atom("a"), int64(1), []byte("x")}, `{a,1,<<"x">>}`},
	{bert.List{}, "[]"},
	{bert.List{bert.Atom("a"), bert.List{}}, "[a,[]]"},
	{[]any{int64(1), 2.5}, "[1,2.5]"},
	{bert.ImproperList{Elems: []any{bert.Atom("a")}, Tail: bert.Atom("b")}, "[a|b]"},
	{bert.ImproperList{Elems: []any{int64(1), int64(2)}, Tail: []byte{}}, "[1,2|<<>>]"},
	{bert.Map{}, "#{}"},
	{bert.Map{{Key: bert.Atom("k"), Value: bert.Atom("v")}, {Key: bert.ByteList("s"), Value: bert.List{}}}, `#{k => v,"s" => []}`},
	{nil, "{bert,nil}"},
	{true, "{bert,true}"},
	{false, "{bert,false}"},
	{bert.Dict{{Key: bert.Atom("a"), Value: int64(1)}}, "{bert,dict,[{a,1}]}"},
	{bert.Dict{}, "{bert,dict,[]}"},
	{time.Unix(1255295581, 446228000).UTC(), "{bert,time,1255,295581,446228}"},
	{time.Unix(0, 0), "{bert,time,0,0,0}"},
	{time.Unix(-1, 5000), "{bert,time,-1,999999,5}"},
	{time.Unix(808435945000123, 0).UTC(), "{bert,time,808435945,123,0}"},
	{bert.Regex{Source: []byte("^c(a*)t$"), Options: bert.List{bert.Atom("caseless")}}, `{bert,regex,<<"^c(a*)t$">>,[caseless]}`},
	{bert.Regex{Source: []byte("x")}, `{bert,regex,<<"x">>,[]}`},
	{bert.Tuple{bert.Atom("sync"), bert.Atom("create"), bert.Atom("character"), bert.List{bert.Tuple{bert.Atom("name"), []byte("Gandalf")}}}, `{sync,create,character,[{name,<<"Gandalf">>}]}`},
}

func TestFormat(t *testing.T) {
	for _, tt := range formatTests {
		got, err := Format(tt.in)
		if err != nil {
			t.Errorf("Format(%#v): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Format(%#v) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestFormatErrors(t *testing.T) {
	deep := any(bert.List{})
	for range maxTextDepth + 5 {
		deep = bert.List{deep}
	}
	for _, in := range []any{
		math.NaN(), math.Inf(1), math.Inf(-1),
		bert.BitBinary{Data: []byte{}, Bits: 3},
		bert.BitBinary{Data: []byte{1}, Bits: 0},
		bert.ImproperList{Tail: bert.Atom("a")},
		deep,
		(*big.Int)(nil),
	} {
		if s, err := Format(in); err == nil {
			t.Errorf("Format(%T) = %.40s, want an error", in, s)
		} else if !strings.HasPrefix(err.Error(), "erltext: ") {
			t.Errorf("Format(%T) error %q lacks the erltext: prefix", in, err)
		}
	}
}

// TestFormatParseRoundTrip checks that Parse reads Format's text back to
// the term it printed, in both the compact and the pretty form.
func TestFormatParseRoundTrip(t *testing.T) {
	long := bert.List{}
	for i := range 60 {
		long = append(long, bert.Tuple{bert.Atom("key"), int64(i * 1000), []byte("a longer value to fill the line")})
	}
	nums := bert.List{}
	for i := range 300 {
		nums = append(nums, int64(i*7919))
	}
	terms := []any{
		bert.Tuple{bert.Atom("sync"), bert.Atom("create"), bert.Atom("character"), long},
		nums,
		bert.Map{{Key: []byte("key number one"), Value: nums}, {Key: bert.Atom("b"), Value: long}},
		bert.ImproperList{Elems: []any{long, long}, Tail: long},
		bert.Tuple{bert.Tuple{bert.Tuple{bert.Tuple{bert.Map{{Key: bert.Atom("deep"), Value: long}}}}}},
		bert.Dict{{Key: bert.Atom("a"), Value: long}, {Key: bert.Atom("b"), Value: bert.Tuple{}}},
		bert.List{mustBig("-98765432109876543210987654321"), 1e300, -1e-300, bert.ByteList("x y"), bert.BitBinary{Data: []byte{0xff, 0xe0}, Bits: 3}},
	}
	for _, tt := range formatTests {
		switch tt.in.(type) {
		case bert.Atom, int64, *big.Int, float64, []byte, bert.BitBinary, bert.Tuple, bert.List, bert.ImproperList, bert.Map:
			if _, isBL := tt.in.(bert.ByteList); !isBL {
				terms = append(terms, tt.in)
			}
		}
	}
	for _, term := range terms {
		for name, f := range map[string]func(any) (string, error){"Format": Format, "FormatPretty": FormatPretty} {
			text, err := f(term)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			got, err := Parse(text)
			if err != nil {
				t.Errorf("Parse(%s(%.200v) = %.300s): %v", name, term, text, err)
				continue
			}
			if !reflect.DeepEqual(got, canonical(term)) {
				t.Errorf("Parse(%s) = %.300v, want %.300v\ntext: %.2000s", name, got, term, text)
			}
		}
	}
}

// canonical returns term as Parse gives it back: the Erlang term is the
// same, only its Go form differs ([]any vs List, short int lists vs ByteList).
func canonical(term any) any {
	switch v := term.(type) {
	case []any:
		return canonical(bert.List(v))
	case bert.List:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = canonical(e)
		}
		return listTerm(out)
	case bert.Tuple:
		out := make(bert.Tuple, len(v))
		for i, e := range v {
			out[i] = canonical(e)
		}
		return out
	case bert.ImproperList:
		out := make([]any, len(v.Elems))
		for i, e := range v.Elems {
			out[i] = canonical(e)
		}
		switch tail := canonical(v.Tail).(type) {
		case bert.List: // [a|[b]] is [a,b]
			return canonical(append(out, tail...))
		case bert.ByteList:
			for _, c := range tail {
				out = append(out, int64(c))
			}
			return canonical(bert.List(out))
		default:
			return bert.ImproperList{Elems: out, Tail: tail}
		}
	case bert.Map:
		out := make(bert.Map, len(v))
		for i, p := range v {
			out[i] = bert.Pair{Key: canonical(p.Key), Value: canonical(p.Value)}
		}
		return out
	case bert.Dict:
		out := make(bert.Dict, len(v))
		for i, p := range v {
			out[i] = bert.Pair{Key: canonical(p.Key), Value: canonical(p.Value)}
		}
		return out
	case bert.ByteList:
		if len(v) == 0 {
			return bert.List{}
		}
	case bert.BitBinary:
		if v.Bits == 8 {
			return v.Data
		}
	}
	return term
}

// FuzzFormat decodes arbitrary bytes and checks that Parse reads the
// Format and FormatPretty text of every decodable term back to it.
func FuzzFormat(f *testing.F) {
	for _, fx := range loadErlangFixtures(f) {
		f.Add(fx.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var term any
		if err := bert.Unmarshal(data, &term); err != nil {
			return
		}
		for _, format := range []func(any) (string, error){Format, FormatPretty} {
			text, err := format(term)
			if err != nil {
				if strings.Contains(err.Error(), "float") {
					continue // NaN and infinities have no Erlang text
				}
				t.Fatalf("Format(%#v): %v", term, err)
			}
			back, err := Parse(text)
			if err != nil {
				t.Fatalf("Parse(Format(%#v) = %q): %v", term, text, err)
			}
			if want := canonical(term); !bert.Equal(back, want) {
				t.Fatalf("Parse(%q) = %#v, want %#v", text, back, want)
			}
		}
	})
}

func TestFormatPrettyLayout(t *testing.T) {
	props := bert.List{}
	for _, k := range []string{"name", "race", "level", "hp", "mana", "id", "x", "tags", "alive", "inv"} {
		props = append(props, bert.Tuple{bert.Atom(k), []byte("value of " + k)})
	}
	text, err := FormatPretty(bert.Tuple{bert.Atom("sync"), bert.Atom("create"), bert.Atom("character"), props})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(text, "\n")
	if len(lines) < 3 {
		t.Fatalf("FormatPretty did not break a long term:\n%s", text)
	}
	for _, l := range lines {
		if len([]rune(l)) > prettyWidth {
			t.Errorf("line longer than %d: %q", prettyWidth, l)
		}
	}
	if !strings.HasPrefix(lines[1], " ") {
		t.Errorf("continuation line not indented: %q", lines[1])
	}
	short, err := FormatPretty(bert.Tuple{bert.Atom("a"), int64(1)})
	if err != nil || short != "{a,1}" {
		t.Errorf("FormatPretty of a short term = %q, %v", short, err)
	}
}
