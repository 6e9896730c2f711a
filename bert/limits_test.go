package bert

import (
	"bytes"
	"errors"
	"runtime"
	"testing"
	"unsafe"
)

// TestDecodeMemoryBound decodes hostile shapes that pack the most values
// into the fewest bytes and checks that decoding allocates no more than
// a fixed multiple of the input.
func TestDecodeMemoryBound(t *testing.T) {
	const n = 100000
	shapes := map[string][]byte{
		"list of []":        term(list(n), bytes.Repeat(raw(tagNil), n), tagNil),
		"list of {}":        term(list(n), bytes.Repeat(raw(tup(0)), n), tagNil),
		"list of {[]}":      term(list(n), bytes.Repeat(raw(tup(1), tagNil), n), tagNil),
		"list of <<>>":      term(list(n), bytes.Repeat(raw(tagBinary, u32(0)), n), tagNil),
		"list of ints":      term(list(n), bytes.Repeat(raw(tagInt, u32(1<<30)), n), tagNil),
		"list of atoms":     term(list(n), bytes.Repeat(raw(tagSmallAtomUTF8, 1, "a"), n), tagNil),
		"map of [] => []":   term(tagMap, u32(n), bytes.Repeat(raw(tagNil, tagNil), n)),
		"nested lists":      term(bytes.Repeat(raw(list(1), tagNil), 150), tagNil),
		"list of bit bins":  term(list(n), bytes.Repeat(raw(tagBitBinary, u32(1), 1, 0), n), tagNil),
		"list of small big": term(list(n), bytes.Repeat(raw(tagSmallBig, 9, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1), n), tagNil),
	}
	const maxRatio = 40
	for name, in := range shapes {
		var v any
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		err := Unmarshal(in, &v)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ratio := float64(after.TotalAlloc-before.TotalAlloc) / float64(len(in))
		t.Logf("%s: %d bytes in, %.1f bytes allocated per input byte", name, len(in), ratio)
		if ratio > maxRatio {
			t.Errorf("%s: %.1f bytes allocated per input byte, want at most %d", name, ratio, maxRatio)
		}
		runtime.KeepAlive(v)
	}
}

// TestDecodeMemoryBoundBadInput checks that input which claims far more
// than it holds fails before decoding allocates for the claims, even
// when the claims nest (decoding into an interface checks as it goes).
func TestDecodeMemoryBoundBadInput(t *testing.T) {
	var in []byte
	in = append(in, versionMagic)
	const levels = 900
	for i := 0; i < levels; i++ {
		// Each list claims as many elements as bytes remain after it.
		in = append(in, raw(list(6*(levels-i)))...)
	}
	in = append(in, tagNil)
	for _, lim := range []Limits{{}, {MaxDepth: 10000}} {
		var v any
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		err := UnmarshalOptions{Limits: lim}.Unmarshal(in, &v)
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Fatal("no error")
		}
		if ratio := float64(after.TotalAlloc-before.TotalAlloc) / float64(len(in)); ratio > 40 {
			t.Errorf("%d bytes allocated per input byte for a bad input", int(ratio))
		}
	}
}

// TestDecodeMemoryBoundAfterHint decodes, after a term that fills every
// chunk, terms of the same length that need little, to check that the
// chunks sized from what the first one took (see startTerm) stay within
// a small multiple of the input when the hint does not fit. The chunks
// are measured directly: MemStats counts small allocations by the span,
// too coarsely for inputs this small.
func TestDecodeMemoryBoundAfterHint(t *testing.T) {
	const n = 40 // {a, 1000, <<"b">>} tuples: 17 bytes, 3 elements, 2 headers, 2 words each
	var dense []byte
	for i := 0; i < n; i++ {
		dense = append(dense, raw(tup(3), atomE("a"), tagInt, u32(1000), bin("b"))...)
	}
	hint := term(list(n), dense, tagNil)
	body := len(hint) - 1
	sparse := map[string][]byte{
		"one binary":       term(tagBinary, u32(body-5), bytes.Repeat([]byte{'x'}, body-5)),
		"a tuple of one":   term(tup(1), tagBinary, u32(body-7), bytes.Repeat([]byte{'x'}, body-7)),
		"nested, then one": term(list(1), list(1), tagBinary, u32(body-17), bytes.Repeat([]byte{'x'}, body-17), tagNil, tagNil),
		"ints, then one":   term(tup(3), tagInt, u32(1000), tagInt, u32(1001), tagBinary, u32(body-17), bytes.Repeat([]byte{'x'}, body-17)),
	}
	// decode runs the steps of Unmarshal's fast path on d and returns
	// the bytes of the chunks it ends with (for the sparse inputs, all
	// it allocated: at most one of each kind).
	decode := func(d *decodeState, data []byte) int {
		d.init(data, false)
		d.startTerm(len(data))
		d.term()
		if d.bad || d.off != len(data) {
			t.Fatalf("%x: does not decode", data)
		}
		d.endTerm(len(data))
		size := cap(d.elemArena)*int(unsafe.Sizeof(any(nil))) + cap(d.hdrSlab)*int(unsafe.Sizeof([]any(nil))) + cap(d.raw)*8
		d.dropArenas()
		return size
	}
	for name, in := range sparse {
		if len(in) != len(hint) {
			t.Fatalf("%s: %d bytes, the hint %d", name, len(in), len(hint))
		}
		d := new(decodeState)
		decode(d, hint)
		if h := d.hint.needs; h.elems < 4*n {
			t.Fatalf("the dense term's hint is %+v", h)
		}
		ratio := float64(decode(d, in)) / float64(len(in))
		t.Logf("%s: %d bytes in, %.1f bytes of chunks per input byte", name, len(in), ratio)
		if ratio > 10 {
			t.Errorf("%s: %.1f bytes of chunks per input byte after a dense term of its length, want at most 10", name, ratio)
		}
	}
}

// Limits follow the rule of every bertsync config: zero is the default,
// negative is no limit.
func TestLimitsZeroDefaultNegativeNone(t *testing.T) {
	big := make([]byte, DefaultMaxSize+10)
	big[0], big[1] = 131, 109 // BINARY_EXT
	n := len(big) - 6
	big[2], big[3], big[4], big[5] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	var v any
	if err := Unmarshal(big, &v); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("default MaxSize: %v, want ErrTooLarge", err)
	}
	if err := (UnmarshalOptions{Limits: Limits{MaxSize: -1}}).Unmarshal(big, &v); err != nil {
		t.Fatalf("no MaxSize: %v", err)
	}
	if b, ok := v.([]byte); !ok || len(b) != n {
		t.Fatalf("no MaxSize: got %T of %d bytes", v, len(v.([]byte)))
	}
	// Nesting one deeper than the default.
	deep := []byte{131}
	for range DefaultMaxDepth + 1 {
		deep = append(deep, 104, 1) // SMALL_TUPLE_EXT of arity 1
	}
	deep = append(deep, 106) // NIL_EXT
	if err := Unmarshal(deep, &v); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("default MaxDepth: %v, want ErrTooDeep", err)
	}
	if err := (UnmarshalOptions{Limits: Limits{MaxDepth: -1}}).Unmarshal(deep, &v); err != nil {
		t.Fatalf("no MaxDepth: %v", err)
	}
}
