package bert

import (
	"bytes"
	"errors"
	"runtime"
	"testing"
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
