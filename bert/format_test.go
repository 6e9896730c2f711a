package bert

import (
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"
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
	{Atom("hello"), "hello"},
	{Atom("hello world"), "'hello world'"},
	{Atom("Caps"), "'Caps'"},
	{Atom("_under"), "'_under'"},
	{Atom("a@b_C9"), "a@b_C9"},
	{Atom("and"), "'and'"},
	{Atom("of"), "'of'"},
	{Atom("true"), "true"},
	{Atom(""), "''"},
	{Atom("it's"), `'it\'s'`},
	{Atom(`back\slash`), `'back\\slash'`},
	{Atom("a\nb\tc"), `'a\nb\tc'`},
	{Atom("\x01\x7f"), `'\001\d'`},
	{Atom("héllo"), "'héllo'"},
	{Atom("日本"), "'日本'"},
	{Atom("\u200b"), `'\x{200B}'`},
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
	{BitBinary{Data: []byte{1, 0x40}, Bits: 3}, "<<1,2:3>>"},
	{BitBinary{Data: []byte{0x80}, Bits: 1}, "<<1:1>>"},
	{ByteList("abc"), `"abc"`},
	{ByteList("a\"b\\"), `"a\"b\\"`},
	{ByteList{1, 2, 3}, "[1,2,3]"},
	{ByteList{0xe9}, `"é"`},
	{ByteList{}, "[]"},
	{Tuple{}, "{}"},
	{Tuple{Atom("a"), int64(1), []byte("x")}, `{a,1,<<"x">>}`},
	{List{}, "[]"},
	{List{Atom("a"), List{}}, "[a,[]]"},
	{[]any{int64(1), 2.5}, "[1,2.5]"},
	{ImproperList{Elems: []any{Atom("a")}, Tail: Atom("b")}, "[a|b]"},
	{ImproperList{Elems: []any{int64(1), int64(2)}, Tail: []byte{}}, "[1,2|<<>>]"},
	{Map{}, "#{}"},
	{Map{{Atom("k"), Atom("v")}, {ByteList("s"), List{}}}, `#{k => v,"s" => []}`},
	{nil, "{bert,nil}"},
	{true, "{bert,true}"},
	{false, "{bert,false}"},
	{Dict{{Atom("a"), int64(1)}}, "{bert,dict,[{a,1}]}"},
	{Dict{}, "{bert,dict,[]}"},
	{time.Unix(1255295581, 446228000).UTC(), "{bert,time,1255,295581,446228}"},
	{time.Unix(0, 0), "{bert,time,0,0,0}"},
	{time.Unix(-1, 5000), "{bert,time,-1,999999,5}"},
	{time.Unix(808435945000123, 0).UTC(), "{bert,time,808435945,123,0}"},
	{Regex{Source: []byte("^c(a*)t$"), Options: List{Atom("caseless")}}, `{bert,regex,<<"^c(a*)t$">>,[caseless]}`},
	{Regex{Source: []byte("x")}, `{bert,regex,<<"x">>,[]}`},
	{Tuple{Atom("sync"), Atom("create"), Atom("character"), List{Tuple{Atom("name"), []byte("Gandalf")}}}, `{sync,create,character,[{name,<<"Gandalf">>}]}`},
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
	deep := any(List{})
	for range maxTextDepth + 5 {
		deep = List{deep}
	}
	for _, in := range []any{
		math.NaN(), math.Inf(1), math.Inf(-1),
		BitBinary{Data: []byte{}, Bits: 3},
		BitBinary{Data: []byte{1}, Bits: 0},
		ImproperList{Tail: Atom("a")},
		deep,
		(*big.Int)(nil),
	} {
		if s, err := Format(in); err == nil {
			t.Errorf("Format(%T) = %.40s, want an error", in, s)
		} else if !strings.HasPrefix(err.Error(), "bert: ") {
			t.Errorf("Format(%T) error %q lacks the bert: prefix", in, err)
		}
	}
}

// TestFormatParseRoundTrip checks that Parse reads Format's text back to
// the term it printed, in both the compact and the pretty form.
func TestFormatParseRoundTrip(t *testing.T) {
	long := List{}
	for i := range 60 {
		long = append(long, Tuple{Atom("key"), int64(i * 1000), []byte("a longer value to fill the line")})
	}
	nums := List{}
	for i := range 300 {
		nums = append(nums, int64(i*7919))
	}
	terms := []any{
		Tuple{Atom("sync"), Atom("create"), Atom("character"), long},
		nums,
		Map{{[]byte("key number one"), nums}, {Atom("b"), long}},
		ImproperList{Elems: []any{long, long}, Tail: long},
		Tuple{Tuple{Tuple{Tuple{Map{{Atom("deep"), long}}}}}},
		Dict{{Atom("a"), long}, {Atom("b"), Tuple{}}},
		List{mustBig("-98765432109876543210987654321"), 1e300, -1e-300, ByteList("x y"), BitBinary{Data: []byte{0xff, 0xe0}, Bits: 3}},
	}
	for _, tt := range formatTests {
		switch tt.in.(type) {
		case Atom, int64, *big.Int, float64, []byte, BitBinary, Tuple, List, ImproperList, Map:
			if _, isBL := tt.in.(ByteList); !isBL {
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
		return canonical(List(v))
	case List:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = canonical(e)
		}
		return listTerm(out)
	case Tuple:
		out := make(Tuple, len(v))
		for i, e := range v {
			out[i] = canonical(e)
		}
		return out
	case ImproperList:
		out := make([]any, len(v.Elems))
		for i, e := range v.Elems {
			out[i] = canonical(e)
		}
		switch tail := canonical(v.Tail).(type) {
		case List: // [a|[b]] is [a,b]
			return canonical(append(out, tail...))
		case ByteList:
			for _, c := range tail {
				out = append(out, int64(c))
			}
			return canonical(List(out))
		default:
			return ImproperList{Elems: out, Tail: tail}
		}
	case Map:
		out := make(Map, len(v))
		for i, p := range v {
			out[i] = Pair{canonical(p.Key), canonical(p.Value)}
		}
		return out
	case Dict:
		out := make(Dict, len(v))
		for i, p := range v {
			out[i] = Pair{canonical(p.Key), canonical(p.Value)}
		}
		return out
	case ByteList:
		if len(v) == 0 {
			return List{}
		}
	case BitBinary:
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
		if err := Unmarshal(data, &term); err != nil {
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
			if want := canonical(term); !equalTerms(back, want) {
				t.Fatalf("Parse(%q) = %#v, want %#v", text, back, want)
			}
		}
	})
}

func TestFormatPrettyLayout(t *testing.T) {
	props := List{}
	for _, k := range []string{"name", "race", "level", "hp", "mana", "id", "x", "tags", "alive", "inv"} {
		props = append(props, Tuple{Atom(k), []byte("value of " + k)})
	}
	text, err := FormatPretty(Tuple{Atom("sync"), Atom("create"), Atom("character"), props})
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
	short, err := FormatPretty(Tuple{Atom("a"), int64(1)})
	if err != nil || short != "{a,1}" {
		t.Errorf("FormatPretty of a short term = %q, %v", short, err)
	}
}
