package bert

import (
	"bytes"
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
