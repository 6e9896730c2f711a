package erltext

// Erlang term text, the printing side. Format writes a term the way
// Erlang's io_lib:format("~w") does, with a few choices made for
// readability that Erlang still reads back to the identical term:
//
//   - atoms are quoted when erl_scan needs it (capitals, spaces, reserved
//     words such as 'and', anything outside a-z, 0-9, _ and @), with the
//     escapes \n, \t, \\, \' and \x{...};
//   - floats use the shortest text that reads back to the same float64 and
//     always have digits on both sides of the point (1.0e-10, 100.0);
//   - binaries print as <<"text">> when every byte is printable ASCII, as
//     <<"text"/utf8>> when they are printable UTF-8, else as <<1,2,3>>;
//   - byte lists (STRING_EXT) print as "text" when printable, else as
//     [1,2,3]: both are the same Erlang term;
//   - the BERT complex types print as the tuples they stand for, so nil is
//     {bert,nil} and a Dict is {bert,dict,[{K,V},...]}.

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/bertsync/bertsync/bert"
)

// maxTextDepth bounds the nesting of containers that Format prints and
// Parse reads. Both recurse once per level; the bound turns a cyclic or
// hostile value into an error instead of a stack overflow.
const maxTextDepth = 10000

// prettyWidth is the line width FormatPretty aims for, as Erlang's ~p.
const prettyWidth = 80

// errFits stops a trial formatting once it has passed the width budget.
var errFits = errors.New("erltext: line full")

// Format returns the Erlang text of term, such that Erlang's
// erl_parse:parse_term reads it back to the identical term. term may be a
// value of the term model (see [bert.Atom]) or any Go value that
// [bert.Marshal] accepts; the latter is printed as the term the Erlang
// profile encodes it to.
// Format fails on floats that Erlang cannot represent (NaN and the
// infinities), on nesting deeper than 10000 levels and on Go values the
// encoder rejects.
func Format(term any) (string, error) {
	var f formatter
	if err := f.term(term, 0); err != nil {
		return "", err
	}
	return f.b.String(), nil
}

// FormatPretty is like [Format] but breaks terms that do not fit in 80
// columns over several lines, indented the way Erlang's ~p does. The
// result parses back to the same term.
func FormatPretty(term any) (string, error) {
	var f formatter
	if err := f.pretty(term, 0, 0); err != nil {
		return "", err
	}
	return f.b.String(), nil
}

// formatter accumulates text. When budget is positive the formatter is
// measuring: it gives up with errFits once the text grows past budget.
type formatter struct {
	b      strings.Builder
	budget int
}

func (f *formatter) str(s string) error {
	f.b.WriteString(s)
	return f.check()
}

func (f *formatter) byte(c byte) error {
	f.b.WriteByte(c)
	return f.check()
}

func (f *formatter) check() error {
	if f.budget > 0 && f.b.Len() > f.budget {
		return errFits
	}
	return nil
}

func (f *formatter) term(t any, depth int) error {
	if depth > maxTextDepth {
		return fmt.Errorf("erltext: term nested deeper than %d levels", maxTextDepth)
	}
	switch v := t.(type) {
	case nil:
		return f.str("{bert,nil}")
	case bool:
		if v {
			return f.str("{bert,true}")
		}
		return f.str("{bert,false}")
	case bert.Atom:
		return f.str(quoteAtom(string(v)))
	case int64:
		return f.str(strconv.FormatInt(v, 10))
	case int:
		return f.str(strconv.Itoa(v))
	case int8, int16, int32, uint8, uint16, uint32:
		return f.str(fmt.Sprint(v))
	case uint:
		return f.str(strconv.FormatUint(uint64(v), 10))
	case uint64:
		return f.str(strconv.FormatUint(v, 10))
	case *big.Int:
		if v == nil {
			return errors.New("erltext: cannot format a nil *big.Int")
		}
		return f.str(v.String())
	case big.Int:
		return f.str(v.String())
	case float64:
		s, err := formatFloat(v)
		if err != nil {
			return err
		}
		return f.str(s)
	case float32:
		s, err := formatFloat(float64(v))
		if err != nil {
			return err
		}
		return f.str(s)
	case string:
		return f.str(formatBinary([]byte(v)))
	case []byte:
		return f.str(formatBinary(v))
	case bert.BitBinary:
		s, err := formatBits(v)
		if err != nil {
			return err
		}
		return f.str(s)
	case bert.ByteList:
		return f.str(formatByteList(v))
	case bert.Tuple:
		return f.seq("{", "}", v, nil, depth)
	case bert.List:
		return f.seq("[", "]", v, nil, depth)
	case []any:
		return f.seq("[", "]", v, nil, depth)
	case bert.ImproperList:
		if len(v.Elems) == 0 {
			return errors.New("erltext: improper list without elements")
		}
		return f.seq("[", "]", v.Elems, &v.Tail, depth)
	case bert.Map:
		return f.pairs("#{", "}", []bert.Pair(v), true, depth)
	case bert.Dict:
		if err := f.str("{bert,dict,"); err != nil {
			return err
		}
		if err := f.pairs("[", "]", []bert.Pair(v), false, depth); err != nil {
			return err
		}
		return f.byte('}')
	case time.Time:
		return f.str(formatTime(v))
	case bert.Regex:
		if err := f.str("{bert,regex," + formatBinary(v.Source) + ","); err != nil {
			return err
		}
		opts := v.Options
		if opts == nil {
			opts = bert.List{}
		}
		if err := f.seq("[", "]", opts, nil, depth); err != nil {
			return err
		}
		return f.byte('}')
	case bert.Pair:
		return f.seq("{", "}", []any{v.Key, v.Value}, nil, depth)
	}
	return f.term2(t, depth)
}

// term2 prints Go values outside the term model by encoding them in the
// Erlang profile and printing the decoded term: Format then shows exactly
// what a peer would receive.
func (f *formatter) term2(t any, depth int) error {
	rv := reflect.ValueOf(t)
	if rv.Kind() == reflect.Pointer && rv.IsNil() {
		return f.term(nil, depth)
	}
	conv, err := viaCodec(t)
	if err != nil {
		return err
	}
	return f.term(conv, depth)
}

func (f *formatter) seq(open, close string, elems []any, tail *any, depth int) error {
	if err := f.str(open); err != nil {
		return err
	}
	for i, e := range elems {
		if i > 0 {
			if err := f.byte(','); err != nil {
				return err
			}
		}
		if err := f.term(e, depth+1); err != nil {
			return err
		}
	}
	if tail != nil {
		if err := f.byte('|'); err != nil {
			return err
		}
		if err := f.term(*tail, depth+1); err != nil {
			return err
		}
	}
	return f.str(close)
}

// pairs prints map associations (K => V) or, for a Dict, {K,V} tuples.
func (f *formatter) pairs(open, close string, ps []bert.Pair, arrows bool, depth int) error {
	if err := f.str(open); err != nil {
		return err
	}
	for i, p := range ps {
		if i > 0 {
			if err := f.byte(','); err != nil {
				return err
			}
		}
		if !arrows {
			if err := f.byte('{'); err != nil {
				return err
			}
		}
		if err := f.term(p.Key, depth+1); err != nil {
			return err
		}
		sep := ","
		if arrows {
			sep = " => "
		}
		if err := f.str(sep); err != nil {
			return err
		}
		if err := f.term(p.Value, depth+1); err != nil {
			return err
		}
		if !arrows {
			if err := f.byte('}'); err != nil {
				return err
			}
		}
	}
	return f.str(close)
}

// compact returns the one-line text of t if it fits in width columns.
func compact(t any, width, depth int) (string, bool, error) {
	if width < 1 {
		width = 1
	}
	m := formatter{budget: width}
	err := m.term(t, depth)
	if errors.Is(err, errFits) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return m.b.String(), true, nil
}

// pretty prints t starting at column col: on one line if it fits in the
// rest of the line, else with its elements on lines of their own.
func (f *formatter) pretty(t any, col, depth int) error {
	if depth > maxTextDepth {
		return fmt.Errorf("erltext: term nested deeper than %d levels", maxTextDepth)
	}
	s, ok, err := compact(t, prettyWidth-col, depth)
	if err != nil {
		return err
	}
	if ok {
		f.b.WriteString(s)
		return nil
	}
	switch v := t.(type) {
	case bert.Tuple:
		return f.prettySeq("{", "}", v, nil, col, depth)
	case bert.List:
		return f.prettySeq("[", "]", v, nil, col, depth)
	case []any:
		return f.prettySeq("[", "]", v, nil, col, depth)
	case bert.ImproperList:
		if len(v.Elems) == 0 {
			return errors.New("erltext: improper list without elements")
		}
		return f.prettySeq("[", "]", v.Elems, &v.Tail, col, depth)
	case bert.Map:
		return f.prettyMap([]bert.Pair(v), col, depth)
	case bert.Dict:
		f.b.WriteString("{bert,dict,")
		elems := make([]any, len(v))
		for i, p := range v {
			elems[i] = bert.Tuple{p.Key, p.Value}
		}
		if err := f.prettySeq("[", "]", elems, nil, col+len("{bert,dict,"), depth+1); err != nil {
			return err
		}
		f.b.WriteByte('}')
		return nil
	case bert.Pair:
		return f.prettySeq("{", "}", []any{v.Key, v.Value}, nil, col, depth)
	}
	// Scalars and everything else print on one line however long.
	return f.term(t, depth)
}

// prettySeq prints one element per line aligned after the opening
// bracket, except that runs of short scalars fill lines like ~p does.
func (f *formatter) prettySeq(open, close string, elems []any, tail *any, col, depth int) error {
	f.b.WriteString(open)
	inner := col + len(open)
	cur := inner
	for i, e := range elems {
		last := i == len(elems)-1 && tail == nil
		trailer := 1 // the comma, or the closing bracket
		if last {
			trailer = len(close)
		}
		if i > 0 {
			f.b.WriteByte(',')
			cur++
		}
		if isScalar(e) {
			s, ok, err := compact(e, prettyWidth-inner-trailer, depth+1)
			if err != nil {
				return err
			}
			if ok {
				if i > 0 && cur+len(s)+trailer > prettyWidth {
					f.newline(inner)
					cur = inner
				}
				f.b.WriteString(s)
				cur += len(s)
				continue
			}
		}
		if i > 0 {
			f.newline(inner)
		}
		if err := f.pretty(e, inner, depth+1); err != nil {
			return err
		}
		cur = lastLineWidth(f.b.String())
	}
	if tail != nil {
		f.b.WriteByte('|')
		if err := f.pretty(*tail, lastLineWidth(f.b.String()), depth+1); err != nil {
			return err
		}
	}
	f.b.WriteString(close)
	return nil
}

func (f *formatter) prettyMap(ps []bert.Pair, col, depth int) error {
	f.b.WriteString("#{")
	inner := col + 2
	for i, p := range ps {
		if i > 0 {
			f.b.WriteByte(',')
			f.newline(inner)
		}
		if err := f.pretty(p.Key, inner, depth+1); err != nil {
			return err
		}
		f.b.WriteString(" =>")
		here := lastLineWidth(f.b.String())
		s, ok, err := compact(p.Value, prettyWidth-here-2, depth+1)
		if err != nil {
			return err
		}
		if ok {
			f.b.WriteByte(' ')
			f.b.WriteString(s)
			continue
		}
		f.newline(inner + 4)
		if err := f.pretty(p.Value, inner+4, depth+1); err != nil {
			return err
		}
	}
	f.b.WriteByte('}')
	return nil
}

func (f *formatter) newline(col int) {
	f.b.WriteByte('\n')
	for range col {
		f.b.WriteByte(' ')
	}
}

// lastLineWidth is the column after the last character of s.
func lastLineWidth(s string) int {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return utf8.RuneCountInString(s[i+1:])
	}
	return utf8.RuneCountInString(s)
}

func isScalar(t any) bool {
	switch t.(type) {
	case bert.Tuple, bert.List, []any, bert.ImproperList, bert.Map, bert.Dict, bert.Pair, bert.Regex:
		return false
	}
	return true
}

// formatFloat writes the shortest decimal that reads back to f, in plain
// notation or with an exponent, whichever is shorter (plain on a tie), as
// Erlang's float_to_list(F, [short]) does.
func formatFloat(f float64) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", fmt.Errorf("erltext: cannot format float %v: Erlang has no such value", f)
	}
	// 'e' with precision -1 gives d[.ddd]e±XX with the shortest digits.
	s := strconv.FormatFloat(f, 'e', -1, 64)
	sign := ""
	if s[0] == '-' {
		sign, s = "-", s[1:]
	}
	mant, expText, _ := strings.Cut(s, "e")
	exp, _ := strconv.Atoi(expText)
	digits := strings.Replace(mant, ".", "", 1)

	sci := digits[:1] + "." + orZero(digits[1:]) + "e" + strconv.Itoa(exp)

	var plain string
	switch point := exp + 1; {
	case point <= 0:
		plain = "0." + strings.Repeat("0", -point) + digits
	case point >= len(digits):
		plain = digits + strings.Repeat("0", point-len(digits)) + ".0"
	default:
		plain = digits[:point] + "." + digits[point:]
	}
	if len(plain) <= len(sci) {
		return sign + plain, nil
	}
	return sign + sci, nil
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

// formatTime writes a time as {bert,time,Mega,Sec,Micro}, as the encoder
// does: from whole seconds (microseconds since 1970 overflow int64 for
// far years), dropping sub-microsecond precision, which the form lacks.
func formatTime(t time.Time) string {
	sec := t.Unix()
	mega, s := sec/1e6, sec%1e6
	if s < 0 {
		mega--
		s += 1e6
	}
	return fmt.Sprintf("{bert,time,%d,%d,%d}", mega, s, t.Nanosecond()/1e3)
}

// reservedWords are the atoms erl_scan reads as keywords; they must be
// quoted to be atoms. maybe and else are only keywords with the maybe
// feature on, quoting them is harmless either way.
var reservedWords = map[string]bool{
	"after": true, "and": true, "andalso": true, "band": true, "begin": true,
	"bnot": true, "bor": true, "bsl": true, "bsr": true, "bxor": true,
	"case": true, "catch": true, "cond": true, "div": true, "else": true,
	"end": true, "fun": true, "if": true, "let": true, "maybe": true,
	"not": true, "of": true, "or": true, "orelse": true, "query": true,
	"receive": true, "rem": true, "try": true, "when": true, "xor": true,
}

// quoteAtom returns the atom as erl_scan must see it: bare when it is a
// lower-case ASCII name that is no keyword, quoted and escaped otherwise.
func quoteAtom(s string) string {
	if atomNeedsNoQuotes(s) {
		return s
	}
	var b strings.Builder
	b.WriteByte('\'')
	writeEscaped(&b, s, '\'')
	b.WriteByte('\'')
	return b.String()
}

func atomNeedsNoQuotes(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' || reservedWords[s] {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '@') {
			return false
		}
	}
	return true
}

// writeEscaped writes the UTF-8 text s as the inside of an Erlang quoted
// atom or string delimited by quote. Printable characters stay as they
// are; the rest become escapes that erl_scan reads back.
func writeEscaped(b *strings.Builder, s string, quote byte) {
	for _, r := range s {
		writeEscapedRune(b, r, quote)
	}
}

func writeEscapedRune(b *strings.Builder, r rune, quote byte) {
	switch r {
	case '\\':
		b.WriteString(`\\`)
	case rune(quote):
		b.WriteByte('\\')
		b.WriteByte(quote)
	case '\n':
		b.WriteString(`\n`)
	case '\r':
		b.WriteString(`\r`)
	case '\t':
		b.WriteString(`\t`)
	case '\v':
		b.WriteString(`\v`)
	case '\b':
		b.WriteString(`\b`)
	case '\f':
		b.WriteString(`\f`)
	case 0x1b:
		b.WriteString(`\e`)
	case 0x7f:
		b.WriteString(`\d`)
	default:
		switch {
		case r < 0x20 || r >= 0x80 && r < 0xa0:
			fmt.Fprintf(b, `\%03o`, r)
		case r == utf8.RuneError || !unicode.IsPrint(r) && r != 0xa0 && r != 0xad:
			fmt.Fprintf(b, `\x{%X}`, r)
		default:
			b.WriteRune(r)
		}
	}
}

// printableLatin1 reports whether c prints as itself or a named escape in
// an Erlang string, the way ~p decides to show a list as a string.
func printableLatin1(c byte) bool {
	switch {
	case c >= 0x20 && c < 0x7f, c >= 0xa0:
		return true
	case c == '\n', c == '\r', c == '\t', c == '\v', c == '\b', c == '\f', c == 0x1b:
		return true
	}
	return false
}

// formatByteList prints a STRING_EXT byte list as "text" when printable,
// else as a list of integers. The bytes are Latin-1 code points.
func formatByteList(bl bert.ByteList) string {
	if len(bl) == 0 {
		return "[]"
	}
	for _, c := range bl {
		if !printableLatin1(c) {
			return formatInts("[", "]", bl)
		}
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range bl {
		writeEscapedRune(&b, rune(c), '"')
	}
	b.WriteByte('"')
	return b.String()
}

// formatBinary prints a binary as <<"text">> when it is printable ASCII,
// <<"text"/utf8>> when it is printable UTF-8 with some non-ASCII
// character, and <<1,2,3>> otherwise. A binary holding Latin-1 text is not
// valid UTF-8 and prints as numbers: <<"é">> would mean the byte 233 to
// Erlang but the bytes C3 A9 to a reader of UTF-8 text, so it is avoided.
func formatBinary(data []byte) string {
	if len(data) == 0 {
		return "<<>>"
	}
	ascii, ok := true, true
	for _, c := range data {
		if c >= 0x80 {
			ascii = false
		} else if !printableLatin1(c) {
			ok = false
			break
		}
	}
	if ok && !ascii {
		if !utf8.Valid(data) {
			ok = false
		} else {
			for _, r := range string(data) {
				if r >= 0x80 && !unicode.IsPrint(r) {
					ok = false
					break
				}
			}
		}
	}
	if !ok {
		return formatInts("<<", ">>", data)
	}
	var b strings.Builder
	b.WriteString(`<<"`)
	writeEscaped(&b, string(data), '"')
	if ascii {
		b.WriteString(`">>`)
	} else {
		b.WriteString(`"/utf8>>`)
	}
	return b.String()
}

// formatBits prints a bitstring as <<1,2,5:3>>: whole bytes, then the
// value of the used high-order bits of the last byte and their count.
func formatBits(v bert.BitBinary) (string, error) {
	if v.Bits == 8 {
		return formatBinary(v.Data), nil
	}
	if len(v.Data) == 0 || v.Bits == 0 || v.Bits > 8 {
		return "", fmt.Errorf("erltext: bit binary of %d bytes with %d bits in the last", len(v.Data), v.Bits)
	}
	var b strings.Builder
	b.WriteString("<<")
	for _, c := range v.Data[:len(v.Data)-1] {
		b.WriteString(strconv.Itoa(int(c)))
		b.WriteByte(',')
	}
	last := v.Data[len(v.Data)-1] >> (8 - v.Bits)
	fmt.Fprintf(&b, "%d:%d>>", last, v.Bits)
	return b.String(), nil
}

func formatInts(open, close string, data []byte) string {
	var b strings.Builder
	b.Grow(len(data)*4 + 4)
	b.WriteString(open)
	for i, c := range data {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(c)))
	}
	b.WriteString(close)
	return b.String()
}

// viaCodec converts a Go value outside the term model to the term the
// Erlang profile encodes it as.
func viaCodec(t any) (any, error) {
	data, err := bert.Append(nil, t, bert.Erlang)
	if err != nil {
		return nil, fmt.Errorf("erltext: formatting %T: %w", t, err)
	}
	var term any
	if err := bert.Unmarshal(data, &term); err != nil {
		return nil, fmt.Errorf("erltext: formatting %T: %w", t, err)
	}
	return term, nil
}
