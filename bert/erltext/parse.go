package erltext

// Erlang term text, the reading side. Parse accepts what Erlang's
// erl_scan:string followed by erl_parse:parse_term accepts for terms that
// the codec can carry:
//
//	atoms        abc  'Quoted atom'  'a\nb'  '\x{3D2}'
//	integers     42  -7  16#FF  2#1010  1_000_000  $a  $\n  123456789012345678901234567890
//	floats       1.5  -0.25  1.0e-10  2.5E3
//	strings      "text"  "a" "b" (adjacent strings join)
//	binaries     <<>>  <<"text">>  <<1,2,3>>  <<"a",1,"bc">>  <<1,2:3>>  <<"é"/utf8>>  <<1:16/little>>
//	tuples       {a,b}   lists [a,b]  [a|b]   maps #{k => v}
//
// Quoted atoms and strings take Erlang's escapes: \b \d \e \f \n \r \s \t
// \v \\ \' \" , octal \101, \x41, \x{3D2} and control \^A. Whitespace and
// % comments may appear between tokens and a final '.' is optional.
//
// The result is the term as the decoder would give it for Erlang's
// term_to_binary of the same term, so that text and bytes compare equal:
// a list of 1 to 65535 integers in 0..255 (a string included) is a
// bert.ByteList, any other list a bert.List (the empty string "" is the
// empty List), a tail that is itself a list is merged ([1|[2]] is [1,2]), an
// integer is an int64 or, past its range, a *big.Int, a map with a
// repeated key keeps the last value, and the BERT complex types become
// nil, bool, Dict, time.Time and Regex as they do when decoding (so
// {bert,nil} is nil). The text is UTF-8.

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bertsync/bertsync/bert"
)

// softKeywords are quoted by Format but read as atoms when bare, as
// Erlang/OTP 25 does: they are keywords only in newer releases or with
// a language feature on.
var softKeywords = map[string]bool{"maybe": true, "else": true, "query": true}

// maxAtomChars is Erlang's limit on the length of an atom, in characters.
const maxAtomChars = 255

// maxIntDigits bounds an integer literal. Converting decimal text to a
// big.Int takes time quadratic in its length; 100000 digits (about
// 330000 bits) take milliseconds, a megabyte of digits would take seconds.
const maxIntDigits = 100000

// maxSegmentBits bounds one binary segment, and maxParsedBinaryBits all
// the binaries of one text together: "<<1:16777216>>" is 14 characters of
// text for 2 MiB of binary, so without a bound a small text could ask for
// any amount of memory.
const (
	maxSegmentBits      = 1 << 24
	maxParsedBinaryBits = 64 << 20 * 8
)

// maxByteListLen is the longest list term_to_binary writes as STRING_EXT.
const maxByteListLen = 65535

// ParseError reports text that is not an Erlang term. Line and Column
// (counted in characters) are 1-based and point at the offending token.
type ParseError struct {
	Line   int
	Column int
	Msg    string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("erltext: line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

// Parse reads one Erlang term from text, as erl_parse:parse_term does,
// and returns it in the term model (see the rules above). It fails with a
// *[ParseError] on anything that is not a single term, including
// variables, pids and funs. Hostile text is bounded: containers nest at
// most 10000 deep, integer literals have at most 100000 digits, and the
// binaries of one text hold at most 64 MiB (a segment 2 MiB).
func Parse(text string) (any, error) {
	p := parser{src: text, line: 1, col: 1}
	t, err := p.term()
	if err != nil {
		return nil, err
	}
	tok, err := p.next()
	if err != nil {
		return nil, err
	}
	if tok.kind == tDot {
		if tok, err = p.next(); err != nil {
			return nil, err
		}
	}
	if tok.kind != tEOF {
		return nil, p.errAt(tok, "unexpected %s after the term", tok.describe())
	}
	return t, nil
}

type tokenKind int

const (
	tEOF tokenKind = iota
	tAtom
	tVar
	tInt
	tFloat
	tString
	tPunct
	tDot
)

// token is one lexical token. Integers (and characters) are in num,
// floats in flt, atom text and punctuation in text, string characters in
// chars.
type token struct {
	kind      tokenKind
	text      string
	num       *big.Int
	flt       float64
	chars     []rune
	line, col int
}

func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of input"
	case tAtom:
		return "atom " + quoteAtom(t.text)
	case tVar:
		return "variable " + t.text
	case tInt:
		return "integer " + t.num.String()
	case tFloat:
		return "float"
	case tString:
		return "string"
	case tDot:
		return "'.'"
	}
	return "'" + t.text + "'"
}

type parser struct {
	src       string
	pos       int
	line, col int
	depth     int
	peeked    *token
	// binaryBits counts the bits of the binaries parsed so far, against
	// maxParsedBinaryBits.
	binaryBits int64
}

func (p *parser) errAt(t token, format string, args ...any) *ParseError {
	return &ParseError{Line: t.line, Column: t.col, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) errHere(format string, args ...any) *ParseError {
	return &ParseError{Line: p.line, Column: p.col, Msg: fmt.Sprintf(format, args...)}
}

// term parses one term starting at the next token.
func (p *parser) term() (any, error) {
	tok, err := p.next()
	if err != nil {
		return nil, err
	}
	switch tok.kind {
	case tAtom:
		return bert.Atom(tok.text), nil
	case tInt:
		return intTerm(tok.num), nil
	case tFloat:
		return tok.flt, nil
	case tString:
		chars := tok.chars
		for {
			nt, err := p.peek()
			if err != nil {
				return nil, err
			}
			if nt.kind != tString {
				break
			}
			p.peeked = nil
			chars = append(chars, nt.chars...)
		}
		return stringTerm(chars), nil
	case tVar:
		return nil, p.errAt(tok, "variable %s is not a term", tok.text)
	case tPunct:
		switch tok.text {
		case "-", "+":
			nt, err := p.next()
			if err != nil {
				return nil, err
			}
			switch nt.kind {
			case tInt:
				if tok.text == "-" {
					return intTerm(new(big.Int).Neg(nt.num)), nil
				}
				return intTerm(nt.num), nil
			case tFloat:
				if tok.text == "-" {
					return -nt.flt, nil
				}
				return nt.flt, nil
			}
			return nil, p.errAt(nt, "expected a number after '%s', found %s", tok.text, nt.describe())
		case "{":
			return p.container(tok, p.tuple)
		case "[":
			return p.container(tok, p.list)
		case "#{":
			return p.container(tok, p.mapTerm)
		case "<<":
			return p.container(tok, p.binary)
		}
	}
	return nil, p.errAt(tok, "unexpected %s, expected a term", tok.describe())
}

func (p *parser) container(open token, body func() (any, error)) (any, error) {
	p.depth++
	if p.depth > maxTextDepth {
		return nil, p.errAt(open, "term nested deeper than %d levels", maxTextDepth)
	}
	t, err := body()
	p.depth--
	return t, err
}

// elems parses terms separated by commas up to one of the closing
// punctuation marks in stop, which it returns.
func (p *parser) elems(stop ...string) ([]any, token, error) {
	elems := []any{}
	tok, err := p.peek()
	if err != nil {
		return nil, tok, err
	}
	if tok.kind == tPunct && contains(stop, tok.text) {
		p.peeked = nil
		return elems, tok, nil
	}
	for {
		t, err := p.term()
		if err != nil {
			return nil, tok, err
		}
		elems = append(elems, t)
		tok, err = p.next()
		if err != nil {
			return nil, tok, err
		}
		if tok.kind == tPunct && tok.text == "," {
			continue
		}
		if tok.kind == tPunct && contains(stop, tok.text) {
			return elems, tok, nil
		}
		return nil, tok, p.errAt(tok, "unexpected %s, expected ',' or %s", tok.describe(), quoteAll(stop))
	}
}

func (p *parser) tuple() (any, error) {
	elems, _, err := p.elems("}")
	if err != nil {
		return nil, err
	}
	t := bert.Tuple(elems)
	// The BERT complex types become their Go forms, as when decoding.
	if v, ok := bert.ComplexValue(t); ok {
		return v, nil
	}
	return t, nil
}

func (p *parser) list() (any, error) {
	elems, end, err := p.elems("]", "|")
	if err != nil {
		return nil, err
	}
	if end.text == "]" {
		return listTerm(elems), nil
	}
	if len(elems) == 0 {
		return nil, p.errAt(end, "unexpected '|' at the start of a list")
	}
	tail, err := p.term()
	if err != nil {
		return nil, err
	}
	tok, err := p.next()
	if err != nil {
		return nil, err
	}
	if tok.kind != tPunct || tok.text != "]" {
		return nil, p.errAt(tok, "unexpected %s, expected ']' after the tail of a list", tok.describe())
	}
	switch t := tail.(type) {
	case bert.List:
		return listTerm(append(elems, t...)), nil
	case bert.ByteList:
		for _, c := range t {
			elems = append(elems, int64(c))
		}
		return listTerm(elems), nil
	case bert.ImproperList:
		return bert.ImproperList{Elems: append(elems, t.Elems...), Tail: t.Tail}, nil
	}
	return bert.ImproperList{Elems: elems, Tail: tail}, nil
}

func (p *parser) mapTerm() (any, error) {
	m := bert.Map{}
	index := map[string]int{}
	tok, err := p.peek()
	if err != nil {
		return nil, err
	}
	if tok.kind == tPunct && tok.text == "}" {
		p.peeked = nil
		return m, nil
	}
	for {
		k, err := p.term()
		if err != nil {
			return nil, err
		}
		tok, err := p.next()
		if err != nil {
			return nil, err
		}
		if tok.kind != tPunct || tok.text != "=>" {
			return nil, p.errAt(tok, "unexpected %s, expected '=>' in a map", tok.describe())
		}
		v, err := p.term()
		if err != nil {
			return nil, err
		}
		// Erlang keeps the last value of a repeated key. Parsed keys are
		// canonical, so their text identifies them.
		key, err := Format(k)
		if err != nil {
			return nil, err
		}
		if i, ok := index[key]; ok {
			m[i].Value = v
		} else {
			index[key] = len(m)
			m = append(m, bert.Pair{Key: k, Value: v})
		}
		tok, err = p.next()
		if err != nil {
			return nil, err
		}
		if tok.kind == tPunct && tok.text == "}" {
			return m, nil
		}
		if tok.kind != tPunct || tok.text != "," {
			return nil, p.errAt(tok, "unexpected %s, expected ',' or '}' in a map", tok.describe())
		}
	}
}

// binary parses the segments of <<...>> into bytes.
func (p *parser) binary() (any, error) {
	var w bitWriter
	tok, err := p.peek()
	if err != nil {
		return nil, err
	}
	if tok.kind == tPunct && tok.text == ">>" {
		p.peeked = nil
		return []byte{}, nil
	}
	for {
		if err := p.segment(&w); err != nil {
			return nil, err
		}
		tok, err := p.next()
		if err != nil {
			return nil, err
		}
		if tok.kind == tPunct && tok.text == ">>" {
			break
		}
		if tok.kind != tPunct || tok.text != "," {
			return nil, p.errAt(tok, "unexpected %s, expected ',' or '>>' in a binary", tok.describe())
		}
	}
	p.binaryBits += int64(w.bits)
	if w.bits%8 == 0 {
		if w.data == nil {
			return []byte{}, nil
		}
		return w.data, nil
	}
	return bert.BitBinary{Data: w.data, Bits: uint8(w.bits % 8)}, nil
}

// segment parses Value[:Size][/Type-Spec...] and writes it.
func (p *parser) segment(w *bitWriter) error {
	start, err := p.next()
	if err != nil {
		return err
	}
	var ints []*big.Int
	var flt *float64
	isString := false
	switch start.kind {
	case tInt:
		ints = []*big.Int{start.num}
	case tFloat:
		f := start.flt
		flt = &f
	case tString:
		isString = true
		chars := start.chars
		for { // adjacent strings join, as ~p writes long binaries
			nt, err := p.peek()
			if err != nil {
				return err
			}
			if nt.kind != tString {
				break
			}
			p.peeked = nil
			chars = append(chars, nt.chars...)
		}
		for _, r := range chars {
			ints = append(ints, big.NewInt(int64(r)))
		}
	case tPunct:
		if start.text == "-" || start.text == "+" {
			nt, err := p.next()
			if err != nil {
				return err
			}
			switch nt.kind {
			case tInt:
				n := nt.num
				if start.text == "-" {
					n = new(big.Int).Neg(n)
				}
				ints = []*big.Int{n}
			case tFloat:
				f := nt.flt
				if start.text == "-" {
					f = -f
				}
				flt = &f
			default:
				return p.errAt(nt, "expected a number after '%s', found %s", start.text, nt.describe())
			}
			break
		}
		return p.errAt(start, "unexpected %s in a binary, expected a number or a string", start.describe())
	default:
		return p.errAt(start, "unexpected %s in a binary, expected a number or a string", start.describe())
	}

	size := -1
	tok, err := p.peek()
	if err != nil {
		return err
	}
	if tok.kind == tPunct && tok.text == ":" {
		p.peeked = nil
		st, err := p.next()
		if err != nil {
			return err
		}
		if st.kind != tInt || st.num.Sign() < 0 || !st.num.IsInt64() || st.num.Int64() > 1<<24 {
			return p.errAt(st, "bad segment size %s", st.describe())
		}
		size = int(st.num.Int64())
		if tok, err = p.peek(); err != nil {
			return err
		}
	}
	typ, little, unit := "", false, 1
	if tok.kind == tPunct && tok.text == "/" {
		p.peeked = nil
		for {
			st, err := p.next()
			if err != nil {
				return err
			}
			if st.kind != tAtom {
				return p.errAt(st, "unexpected %s, expected a type specifier", st.describe())
			}
			switch st.text {
			case "integer", "float", "utf8", "utf16", "utf32":
				typ = st.text
			case "big":
				little = false
			case "little":
				little = true
			case "signed", "unsigned":
			case "unit":
				if c, err := p.next(); err != nil {
					return err
				} else if c.kind != tPunct || c.text != ":" {
					return p.errAt(c, "expected ':' after unit")
				}
				u, err := p.next()
				if err != nil {
					return err
				}
				if u.kind != tInt || !u.num.IsInt64() || u.num.Int64() < 1 || u.num.Int64() > 256 {
					return p.errAt(u, "bad unit %s", u.describe())
				}
				unit = int(u.num.Int64())
			default:
				return p.errAt(st, "unsupported type specifier %s", st.text)
			}
			nt, err := p.peek()
			if err != nil {
				return err
			}
			if nt.kind != tPunct || nt.text != "-" {
				break
			}
			p.peeked = nil
		}
	}
	if typ == "" {
		typ = "integer"
	}
	if flt != nil && typ != "float" {
		return p.errAt(start, "a float segment needs the float type")
	}
	if isString && typ == "float" {
		return p.errAt(start, "a string segment cannot be a float")
	}

	switch typ {
	case "utf8", "utf16", "utf32":
		if size >= 0 {
			return p.errAt(start, "a %s segment takes no size", typ)
		}
		if int64(w.bits)+32*int64(len(ints)) > maxParsedBinaryBits-p.binaryBits {
			return p.errAt(start, "binaries larger than %d bytes in all", maxParsedBinaryBits/8)
		}
		for _, n := range ints {
			if !n.IsInt64() || !utf8.ValidRune(rune(n.Int64())) || n.Int64() > utf8.MaxRune {
				return p.errAt(start, "%s is not a Unicode code point", n)
			}
			w.utf(rune(n.Int64()), typ, little)
		}
		return nil
	case "float":
		if size < 0 {
			size = 64
		}
		if size *= unit; size > 64 {
			return p.errAt(start, "a float segment must be 32 or 64 bits, not %d", size)
		}
		f := float64(0)
		if flt != nil {
			f = *flt
		} else {
			f, _ = new(big.Float).SetInt(ints[0]).Float64()
		}
		switch size {
		case 64:
			w.uint(math.Float64bits(f), 64, little)
		case 32:
			if f32 := float32(f); math.IsInf(float64(f32), 0) && !math.IsInf(f, 0) {
				return p.errAt(start, "float %v does not fit in 32 bits", f)
			}
			w.uint(uint64(math.Float32bits(float32(f))), 32, little)
		default:
			return p.errAt(start, "a float segment must be 32 or 64 bits, not %d", size)
		}
		return nil
	}
	if size < 0 {
		size = 8
	}
	size *= unit
	if size > maxSegmentBits {
		return p.errAt(start, "segment of %d bits is larger than %d", size, maxSegmentBits)
	}
	if little && size%8 != 0 {
		return p.errAt(start, "little-endian segments must be whole bytes")
	}
	if int64(w.bits)+int64(size)*int64(len(ints)) > maxParsedBinaryBits-p.binaryBits {
		return p.errAt(start, "binaries larger than %d bytes in all", maxParsedBinaryBits/8)
	}
	for _, n := range ints {
		w.bigInt(n, size, little)
	}
	return nil
}

// intTerm returns n as an int64 when it fits, else as a *big.Int.
func intTerm(n *big.Int) any {
	if n.IsInt64() {
		return n.Int64()
	}
	return n
}

// stringTerm returns a string literal's characters as term_to_binary
// would carry them.
func stringTerm(chars []rune) any {
	if len(chars) == 0 {
		return bert.List{}
	}
	if len(chars) <= maxByteListLen {
		small := true
		for _, r := range chars {
			if r > 255 {
				small = false
				break
			}
		}
		if small {
			bl := make(bert.ByteList, len(chars))
			for i, r := range chars {
				bl[i] = byte(r)
			}
			return bl
		}
	}
	l := make(bert.List, len(chars))
	for i, r := range chars {
		l[i] = int64(r)
	}
	return l
}

// listTerm returns a proper list as term_to_binary would carry it: a
// ByteList when it is a short list of bytes.
func listTerm(elems []any) any {
	if len(elems) == 0 || len(elems) > maxByteListLen {
		return bert.List(elems)
	}
	for _, e := range elems {
		n, ok := e.(int64)
		if !ok || n < 0 || n > 255 {
			return bert.List(elems)
		}
	}
	bl := make(bert.ByteList, len(elems))
	for i, e := range elems {
		bl[i] = byte(e.(int64))
	}
	return bl
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func quoteAll(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = "'" + s + "'"
	}
	return strings.Join(q, " or ")
}

// bitWriter appends bit fields, most significant bit first.
type bitWriter struct {
	data []byte
	bits int // total bits written
}

func (w *bitWriter) uint(v uint64, size int, little bool) {
	if little {
		for i := 0; i < size/8; i++ {
			w.bitsOf(v>>(8*i)&0xff, 8)
		}
		return
	}
	w.bitsOf(v, size)
}

// bitsOf writes the low size bits of v (size ≤ 64).
func (w *bitWriter) bitsOf(v uint64, size int) {
	if w.bits%8 == 0 && size == 8 {
		w.data = append(w.data, byte(v))
		w.bits += 8
		return
	}
	for i := size - 1; i >= 0; i-- {
		if w.bits%8 == 0 {
			w.data = append(w.data, 0)
		}
		if v>>uint(i)&1 == 1 {
			w.data[len(w.data)-1] |= 0x80 >> uint(w.bits%8)
		}
		w.bits++
	}
}

// bigInt writes n modulo 2^size, as Erlang truncates integer segments.
func (w *bitWriter) bigInt(n *big.Int, size int, little bool) {
	if size == 0 {
		return
	}
	if n.IsInt64() && size <= 64 {
		w.uint(uint64(n.Int64()), size, little)
		return
	}
	mod := new(big.Int).Lsh(big.NewInt(1), uint(size))
	m := new(big.Int).Mod(n, mod) // Euclidean: never negative
	buf := m.FillBytes(make([]byte, (size+7)/8))
	if !little && size%8 == 0 && w.bits%8 == 0 {
		w.data = append(w.data, buf...)
		w.bits += size
		return
	}
	if little {
		for i := len(buf) - 1; i >= 0; i-- {
			w.bitsOf(uint64(buf[i]), 8)
		}
		return
	}
	// The value's size bits are the low bits of buf.
	lead := len(buf)*8 - size
	for i := lead; i < len(buf)*8; i++ {
		w.bitsOf(uint64(buf[i/8]>>(7-uint(i%8))&1), 1)
	}
}

func (w *bitWriter) utf(r rune, typ string, little bool) {
	switch typ {
	case "utf8":
		var buf [4]byte
		n := utf8.EncodeRune(buf[:], r)
		for _, c := range buf[:n] {
			w.bitsOf(uint64(c), 8)
		}
	case "utf16":
		if r < 0x10000 {
			w.uint(uint64(r), 16, little)
			return
		}
		r -= 0x10000
		w.uint(uint64(0xd800+(r>>10)), 16, little)
		w.uint(uint64(0xdc00+(r&0x3ff)), 16, little)
	case "utf32":
		w.uint(uint64(r), 32, little)
	}
}

// The scanner.

func (p *parser) peek() (token, error) {
	if p.peeked != nil {
		return *p.peeked, nil
	}
	t, err := p.scan()
	if err != nil {
		return t, err
	}
	p.peeked = &t
	return t, nil
}

func (p *parser) next() (token, error) {
	if p.peeked != nil {
		t := *p.peeked
		p.peeked = nil
		return t, nil
	}
	return p.scan()
}

// cur returns the character at the current position without consuming
// it, and its width; width 0 means end of input.
func (p *parser) cur() (rune, int) {
	if p.pos >= len(p.src) {
		return 0, 0
	}
	c := p.src[p.pos]
	if c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(p.src[p.pos:])
}

func (p *parser) at(off int) byte {
	if p.pos+off < len(p.src) {
		return p.src[p.pos+off]
	}
	return 0
}

// advance consumes one character, tracking line and column.
func (p *parser) advance() (rune, error) {
	r, w := p.cur()
	if w == 0 {
		return 0, p.errHere("unexpected end of input")
	}
	if r == utf8.RuneError && w == 1 {
		return 0, p.errHere("invalid UTF-8")
	}
	p.pos += w
	if r == '\n' {
		p.line++
		p.col = 1
	} else {
		p.col++
	}
	return r, nil
}

func isSpace(r rune) bool {
	return r <= ' ' || r >= 0x80 && r <= 0xa0
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

// isLower reports whether r may start an unquoted atom.
func isLower(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 0xdf && r <= 0xff && r != 0xf7
}

// isUpper reports whether r starts a variable.
func isUpper(r rune) bool {
	return r >= 'A' && r <= 'Z' || r == '_' || r >= 0xc0 && r <= 0xde && r != 0xd7
}

func isNameChar(r rune) bool {
	return isLower(r) || isUpper(r) || isDigit(r) || r == '@'
}

func (p *parser) skipSpace() error {
	for {
		r, w := p.cur()
		switch {
		case w == 0:
			return nil
		case r == '%':
			for {
				r, w := p.cur()
				if w == 0 || r == '\n' {
					break
				}
				if _, err := p.advance(); err != nil {
					return err
				}
			}
		case isSpace(r):
			if _, err := p.advance(); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

func (p *parser) scan() (token, error) {
	if err := p.skipSpace(); err != nil {
		return token{}, err
	}
	tok := token{line: p.line, col: p.col}
	r, w := p.cur()
	if w == 0 {
		tok.kind = tEOF
		return tok, nil
	}
	switch {
	case isDigit(r):
		return p.number(tok)
	case isLower(r):
		name := p.name()
		if reservedWords[name] && !softKeywords[name] {
			return tok, p.errAt(tok, "reserved word %s must be quoted to be an atom", name)
		}
		tok.kind, tok.text = tAtom, name
		return tok, nil
	case isUpper(r):
		tok.kind, tok.text = tVar, p.name()
		return tok, nil
	case r == '\'':
		chars, err := p.quoted('\'')
		if err != nil {
			return tok, err
		}
		if len(chars) > maxAtomChars {
			return tok, p.errAt(tok, "atom longer than %d characters", maxAtomChars)
		}
		for _, c := range chars {
			if !utf8.ValidRune(c) {
				return tok, p.errAt(tok, "atom holds %#x, which is no Unicode character", c)
			}
		}
		tok.kind, tok.text = tAtom, string(chars)
		return tok, nil
	case r == '"':
		chars, err := p.quoted('"')
		if err != nil {
			return tok, err
		}
		tok.kind, tok.chars = tString, chars
		return tok, nil
	case r == '$':
		p.advance()
		c, err := p.advance()
		if err != nil {
			return tok, err
		}
		if c == '\\' {
			if c, err = p.escape(); err != nil {
				return tok, err
			}
		}
		tok.kind, tok.num = tInt, big.NewInt(int64(c))
		return tok, nil
	}
	two := ""
	if p.pos+1 < len(p.src) {
		two = p.src[p.pos : p.pos+2]
	}
	switch two {
	case "#{", "=>", "<<", ">>":
		p.advance()
		p.advance()
		tok.kind, tok.text = tPunct, two
		return tok, nil
	}
	switch r {
	case '{', '}', '[', ']', '|', ',', ':', '/', '-', '+':
		p.advance()
		tok.kind, tok.text = tPunct, string(r)
		return tok, nil
	case '.':
		p.advance()
		next, w := p.cur()
		if w != 0 && !isSpace(next) && next != '%' {
			return tok, p.errAt(tok, "unexpected '.'")
		}
		tok.kind, tok.text = tDot, "."
		return tok, nil
	case '<':
		if p.at(1) == '0' || isDigit(rune(p.at(1))) {
			return tok, p.errAt(tok, "pids, ports and references are not terms")
		}
	case '#':
		return tok, p.errAt(tok, "records and funs are not terms")
	}
	if r == utf8.RuneError && w == 1 {
		return tok, p.errAt(tok, "invalid UTF-8")
	}
	return tok, p.errAt(tok, "unexpected character %q", r)
}

func (p *parser) name() string {
	start := p.pos
	for {
		r, w := p.cur()
		if w == 0 || !isNameChar(r) {
			break
		}
		p.advance()
	}
	return p.src[start:p.pos]
}

// digits consumes digits valid in base, with single underscores between
// them as Erlang allows, and returns them without the underscores.
func (p *parser) digits(base int) (string, error) {
	var b strings.Builder
	for {
		r, w := p.cur()
		if w == 0 {
			break
		}
		if r == '_' && b.Len() > 0 {
			next := rune(p.at(1))
			if digitVal(next) < base {
				p.advance()
				continue
			}
			break
		}
		if digitVal(r) >= base {
			break
		}
		b.WriteRune(r)
		p.advance()
	}
	return b.String(), nil
}

func digitVal(r rune) int {
	switch {
	case r >= '0' && r <= '9':
		return int(r - '0')
	case r >= 'a' && r <= 'z':
		return int(r-'a') + 10
	case r >= 'A' && r <= 'Z':
		return int(r-'A') + 10
	}
	return 99
}

func (p *parser) number(tok token) (token, error) {
	whole, _ := p.digits(10)
	if len(whole) > maxIntDigits {
		return tok, p.errAt(tok, "integer longer than %d digits", maxIntDigits)
	}
	r, _ := p.cur()
	switch {
	case r == '#':
		base, err := strconv.Atoi(whole)
		if err != nil || base < 2 || base > 36 {
			return tok, p.errAt(tok, "bad base %s", whole)
		}
		p.advance()
		ds, _ := p.digits(base)
		if ds == "" {
			return tok, p.errHere("expected base-%d digits", base)
		}
		if len(ds) > maxIntDigits {
			return tok, p.errAt(tok, "integer longer than %d digits", maxIntDigits)
		}
		n, _ := new(big.Int).SetString(ds, base)
		tok.kind, tok.num = tInt, n
		return tok, nil
	case r == '.' && isDigit(rune(p.at(1))):
		p.advance()
		frac, _ := p.digits(10)
		text := whole + "." + frac
		if e, _ := p.cur(); e == 'e' || e == 'E' {
			p.advance()
			sign := ""
			if s, _ := p.cur(); s == '+' || s == '-' {
				sign = string(s)
				p.advance()
			}
			exp, _ := p.digits(10)
			if exp == "" {
				return tok, p.errAt(tok, "float %se%s lacks exponent digits", text, sign)
			}
			text += "e" + sign + exp
		}
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return tok, p.errAt(tok, "float %s out of range", text)
		}
		tok.kind, tok.flt = tFloat, f
		return tok, nil
	}
	n, _ := new(big.Int).SetString(whole, 10)
	tok.kind, tok.num = tInt, n
	return tok, nil
}

// quoted reads a quoted atom or string up to the closing quote.
func (p *parser) quoted(q rune) ([]rune, error) {
	startLine, startCol := p.line, p.col
	p.advance()
	var chars []rune
	for {
		r, w := p.cur()
		if w == 0 {
			return nil, &ParseError{Line: startLine, Column: startCol, Msg: "unterminated " + map[rune]string{'\'': "atom", '"': "string"}[q]}
		}
		c, err := p.advance()
		if err != nil {
			return nil, err
		}
		if r == q {
			return chars, nil
		}
		if c == '\\' {
			if c, err = p.escape(); err != nil {
				return nil, err
			}
		}
		chars = append(chars, c)
	}
}

// escape reads what follows a backslash.
func (p *parser) escape() (rune, error) {
	line, col := p.line, p.col-1 // errors point at the backslash
	c, err := p.advance()
	if err != nil {
		return 0, err
	}
	switch c {
	case 'b':
		return '\b', nil
	case 'd':
		return 0x7f, nil
	case 'e':
		return 0x1b, nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 's':
		return ' ', nil
	case 't':
		return '\t', nil
	case 'v':
		return '\v', nil
	case '^':
		c, err := p.advance()
		if err != nil {
			return 0, err
		}
		return c & 31, nil
	case 'x':
		if r, _ := p.cur(); r == '{' {
			p.advance()
			hex, _ := p.digits(16)
			if r, _ := p.cur(); r != '}' || hex == "" {
				return 0, &ParseError{Line: line, Column: col, Msg: `bad \x{...} escape`}
			}
			p.advance()
			v, err := strconv.ParseUint(hex, 16, 32)
			if err != nil || v > utf8.MaxRune {
				return 0, &ParseError{Line: line, Column: col, Msg: `\x{` + hex + `} is past the last Unicode character`}
			}
			return rune(v), nil
		}
		if digitVal(rune(p.at(0))) < 16 && digitVal(rune(p.at(1))) < 16 {
			v, _ := strconv.ParseUint(p.src[p.pos:p.pos+2], 16, 8)
			p.advance()
			p.advance()
			return rune(v), nil
		}
		return 0, &ParseError{Line: line, Column: col, Msg: `bad \x escape`}
	}
	if c >= '0' && c <= '7' {
		v := c - '0'
		for range 2 {
			d := rune(p.at(0))
			if d < '0' || d > '7' {
				break
			}
			p.advance()
			v = v*8 + d - '0'
		}
		return v, nil
	}
	return c, nil
}
