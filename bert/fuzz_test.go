package bert

import (
	"bytes"
	"errors"
	"math/big"
	"os"
	"testing"
	"time"
)

// fuzzTarget has a field of most kinds, so that the typed decoders see
// every term the fuzzer makes.
type fuzzTarget struct {
	S   string            `bert:"s"`
	B   []byte            `bert:"b"`
	I   int8              `bert:"i"`
	U   uint16            `bert:"u"`
	F   float32           `bert:"f"`
	Ok  bool              `bert:"ok"`
	Big *big.Int          `bert:"big"`
	T   time.Time         `bert:"t"`
	L   []string          `bert:"l"`
	A   [2]int            `bert:"a"`
	M   map[string]any    `bert:"m"`
	MI  map[int]string    `bert:"mi"`
	MA  map[any]int       `bert:"ma"`
	P   *fuzzTarget       `bert:"p"`
	Any any               `bert:"any"`
	R   RawTerm           `bert:"r"`
	Map Map               `bert:"map"`
	D   Dict              `bert:"d"`
	Em  map[string][]bool `bert:"em"`
}

// FuzzDecode checks that no input panics or runs away with memory, and
// that decode → encode (Erlang profile) → decode → encode is stable.
func FuzzDecode(f *testing.F) {
	addDecodeSeeds(f)
	lim := Limits{MaxSize: 1 << 20, MaxDepth: 200, MaxDecompressed: 1 << 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		opts := UnmarshalOptions{Limits: lim}
		var ft fuzzTarget
		_ = opts.Unmarshal(data, &ft) // must not panic
		var ints []int
		_ = opts.Unmarshal(data, &ints)

		var v any
		if err := opts.Unmarshal(data, &v); err != nil {
			return
		}
		b1, err := Append(nil, v, Erlang)
		if err != nil {
			// Only atoms Erlang itself refuses (over 255 characters)
			// decode but do not encode.
			var uve *UnsupportedValueError
			if !errors.As(err, &uve) {
				t.Fatalf("encode of decoded term: %v", err)
			}
			return
		}
		var v2 any
		if err := Unmarshal(b1, &v2); err != nil {
			t.Fatalf("decode of our own encoding %x: %v", b1, err)
		}
		b2, err := Append(nil, v2, Erlang)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b1, b2) {
			t.Fatalf("unstable:\n%x\n%x", b1, b2)
		}
		// The BERTJS profile must encode it too, or refuse it cleanly.
		if b3, err := Append(nil, v, BERTJS); err == nil {
			var v3 any
			if err := Unmarshal(b3, &v3); err != nil {
				t.Fatalf("decode of BERTJS encoding %x: %v", b3, err)
			}
		}
		// The stream decoder agrees with Unmarshal.
		dec := NewDecoder(bytes.NewReader(data))
		dec.SetLimits(lim)
		var v4 any
		if err := dec.Decode(&v4); err != nil {
			t.Fatalf("Decoder fails where Unmarshal succeeds: %v", err)
		}
		if b4, _ := Append(nil, v4, Erlang); !bytes.Equal(b4, b1) {
			t.Fatalf("Decoder and Unmarshal differ")
		}
	})
}

// addDecodeSeeds seeds a decoding fuzz target with the inputs of the
// unit tests, BERT-JS's vectors and the terms Erlang/OTP wrote.
func addDecodeSeeds(f *testing.F) {
	for _, tt := range unmarshalTests {
		f.Add(tt.in)
	}
	for _, tt := range errorTests {
		if len(tt.in) < 4096 {
			f.Add(tt.in)
		}
	}
	for _, v := range bertjsVectors {
		f.Add(v.in)
	}
	if b, err := os.ReadFile(syncTupleFile); err == nil {
		f.Add(b)
	}
	for _, name := range []string{"compressed", "mv0", "mv1", "mv2"} {
		for _, b := range readTerms(f, "testdata/otp/"+name+".bert") {
			if len(b) < 4096 {
				f.Add(b)
			}
		}
	}
}
