package bert

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

var streamTerms = []any{
	Atom("a"),
	Tuple{Atom("sync"), Atom("read"), Atom("character"), List{}},
	[]byte("binary"),
	List{int64(1), 2.5, nil, true},
	Map{{Key: Atom("k"), Value: ByteList("v")}},
}

func TestStreamRoundTrip(t *testing.T) {
	for _, p := range []Profile{BERTJS, Erlang} {
		var buf bytes.Buffer
		enc := NewEncoder(&buf)
		enc.SetProfile(p)
		for _, v := range streamTerms {
			if err := enc.Encode(v); err != nil {
				t.Fatal(err)
			}
		}
		// A compressed term in the middle of the stream.
		buf.Write(compress(term(atomE("z"))))
		buf.Write(term(tagNil))
		data := buf.Bytes()
		for name, r := range map[string]io.Reader{
			"whole":    bytes.NewReader(data),
			"one byte": iotest.OneByteReader(bytes.NewReader(data)),
			"data err": iotest.DataErrReader(bytes.NewReader(data)),
			"half":     iotest.HalfReader(bytes.NewReader(data)),
		} {
			dec := NewDecoder(r)
			var got []any
			for {
				var v any
				err := dec.Decode(&v)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("%v %s: %v", p, name, err)
				}
				got = append(got, v)
			}
			want := append(append([]any{}, streamTerms...), Atom("z"), List{})
			if p == BERTJS {
				want[4] = List{Tuple{Atom("k"), ByteList("v")}}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%v %s:\n got %#v\nwant %#v", p, name, got, want)
			}
		}
	}
}

func TestDecoderErrors(t *testing.T) {
	t.Run("unexpected EOF", func(t *testing.T) {
		dec := NewDecoder(bytes.NewReader(term(tup(2), sint(1))))
		var v any
		if err := dec.Decode(&v); err != io.ErrUnexpectedEOF {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("type error is not sticky", func(t *testing.T) {
		dec := NewDecoder(bytes.NewReader(append(term(atomJ("x")), term(sint(5))...)))
		var n int
		var ute *UnmarshalTypeError
		if err := dec.Decode(&n); !errors.As(err, &ute) {
			t.Fatalf("got %v", err)
		}
		if err := dec.Decode(&n); err != nil || n != 5 {
			t.Fatalf("got %d, %v", n, err)
		}
		if err := dec.Decode(&n); err != io.EOF {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("syntax error is sticky", func(t *testing.T) {
		dec := NewDecoder(bytes.NewReader(append(term(0), term(sint(5))...)))
		var v any
		err1 := dec.Decode(&v)
		var se *SyntaxError
		if !errors.As(err1, &se) {
			t.Fatalf("got %v", err1)
		}
		if err2 := dec.Decode(&v); err2 != err1 {
			t.Fatalf("second Decode: %v", err2)
		}
	})
	t.Run("read error is sticky", func(t *testing.T) {
		boom := errors.New("boom")
		dec := NewDecoder(io.MultiReader(bytes.NewReader(term(sint(1))), iotest.ErrReader(boom)))
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := dec.Decode(&v); err != boom {
				t.Fatalf("got %v", err)
			}
		}
	})
	t.Run("huge claim fails at once", func(t *testing.T) {
		// If the decoder tried to read the 4 GiB the list claims, it
		// would reach the error reader instead.
		r := io.MultiReader(bytes.NewReader(term(tagList, u32(0xffffffff), tagNil)), iotest.ErrReader(errors.New("read too far")))
		dec := NewDecoder(r)
		var v any
		if err := dec.Decode(&v); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("max size", func(t *testing.T) {
		dec := NewDecoder(bytes.NewReader(term(bin(string(make([]byte, 100))))))
		dec.SetLimits(Limits{MaxSize: 64})
		var v any
		if err := dec.Decode(&v); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("depth", func(t *testing.T) {
		dec := NewDecoder(bytes.NewReader(term(tup(1), tup(1), tup(1), tagNil)))
		dec.SetLimits(Limits{MaxDepth: 2})
		var v any
		if err := dec.Decode(&v); !errors.Is(err, ErrTooDeep) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestDecoderBufferedAndReadTerm(t *testing.T) {
	data := append(term(sint(1)), term(sint(2))...)
	data = append(data, "tail"...)
	dec := NewDecoder(bytes.NewReader(data))
	raw1, err := dec.ReadTerm()
	if err != nil || !bytes.Equal(raw1, term(sint(1))) {
		t.Fatalf("got %v, %v", raw1, err)
	}
	var n int
	if err := dec.Decode(&n); err != nil || n != 2 {
		t.Fatalf("got %d, %v", n, err)
	}
	rest, _ := io.ReadAll(dec.Buffered())
	if string(rest) != "tail" {
		t.Fatalf("Buffered: %q", rest)
	}
}

func TestDecoderZeroCopy(t *testing.T) {
	var buf bytes.Buffer
	enc := NewEncoder(&buf)
	for i := range 200 {
		enc.Encode(bytes.Repeat([]byte{byte(i)}, 100))
	}
	dec := NewDecoder(iotest.HalfReader(&buf))
	dec.SetZeroCopy(true)
	var got [][]byte
	for {
		var b []byte
		if err := dec.Decode(&b); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		got = append(got, b)
	}
	if len(got) != 200 {
		t.Fatalf("decoded %d terms", len(got))
	}
	for i, b := range got {
		if !bytes.Equal(b, bytes.Repeat([]byte{byte(i)}, 100)) {
			t.Fatalf("term %d was overwritten: %v", i, b[:8])
		}
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	w.n++
	return 0, errors.New("disk full")
}

func TestEncoderErrors(t *testing.T) {
	var buf bytes.Buffer
	enc := NewEncoder(&buf)
	if err := enc.Encode(make(chan int)); err == nil {
		t.Fatal("no error for chan")
	}
	if buf.Len() != 0 {
		t.Fatalf("failed Encode wrote %d bytes", buf.Len())
	}
	if err := enc.Encode(1); err != nil {
		t.Fatalf("encoder not usable after an encoding error: %v", err)
	}
	enc.SetLimits(Limits{MaxSize: 10})
	if err := enc.Encode(make([]byte, 20)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v", err)
	}
	fw := &failWriter{}
	enc = NewEncoder(fw)
	err1 := enc.Encode(1)
	if err2 := enc.Encode(2); err1 == nil || err2 != err1 || fw.n != 1 {
		t.Fatalf("write error not sticky: %v, %v, %d writes", err1, err2, fw.n)
	}
}

// TestDecoderChunkedReads decodes a stream of terms, large ones among
// them, through readers that return it in pieces of every size, and
// checks that each gives what one read gives.
func TestDecoderChunkedReads(t *testing.T) {
	big := syncList(t, 3700)
	var stream []byte
	for _, part := range [][]byte{
		term(atomE("first")),
		big,
		compressTerm(t, randomBinaries(t, 1000)),
		term(tup(2), atomE("a"), bin("b")),
		compressTerm(t, syncList(t, 300)),
		term(list(2), tagFloat, "1.50000000000000000000e+00", 0, 0, 0, 0, 0, tagNil, tagNil),
		term(tagMap, u32(1), atomE("k"), list(1), sint(1), str("xy")),
		// A BERT-JS float that ends the input short of its 31 bytes.
		term(tagFloat, "-2.5e-1"),
	} {
		stream = append(stream, part...)
	}
	decodeAll := func(t *testing.T, r io.Reader, zeroCopy bool) ([]any, [][]byte) {
		t.Helper()
		dec := NewDecoder(r)
		dec.SetZeroCopy(zeroCopy)
		raws := NewDecoder(bytes.NewReader(stream))
		var terms []any
		var terms2 [][]byte
		for {
			var v any
			err := dec.Decode(&v)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("term %d: %v", len(terms), err)
			}
			terms = append(terms, v)
			raw, err := raws.ReadTerm()
			if err != nil {
				t.Fatal(err)
			}
			terms2 = append(terms2, bytes.Clone(raw))
		}
		return terms, terms2
	}
	want, wantRaw := decodeAll(t, bytes.NewReader(stream), false)
	if len(want) != 8 {
		t.Fatalf("one read decodes %d terms, want 8", len(want))
	}
	var wantEnc [][]byte
	for _, v := range want {
		wantEnc = append(wantEnc, encodeTerm(t, v))
	}
	for name, mk := range map[string]func() io.Reader{
		"one byte":  func() io.Reader { return iotest.OneByteReader(bytes.NewReader(stream)) },
		"1460":      func() io.Reader { return &chunkReader{r: bytes.NewReader(stream), n: 1460} },
		"4093":      func() io.Reader { return &chunkReader{r: bytes.NewReader(stream), n: 4093} },
		"half":      func() io.Reader { return iotest.HalfReader(bytes.NewReader(stream)) },
		"data err":  func() io.Reader { return iotest.DataErrReader(&chunkReader{r: bytes.NewReader(stream), n: 1000}) },
		"empty too": func() io.Reader { return &stutterReader{r: &chunkReader{r: bytes.NewReader(stream), n: 777}} },
	} {
		for _, zc := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/zerocopy=%v", name, zc), func(t *testing.T) {
				got, _ := decodeAll(t, mk(), zc)
				if len(got) != len(want) {
					t.Fatalf("decoded %d terms, one read %d", len(got), len(want))
				}
				// Decoding is lossless, so equal encodings are equal
				// terms (and much quicker to compare than DeepEqual).
				for i := range got {
					if g := encodeTerm(t, got[i]); !bytes.Equal(g, wantEnc[i]) {
						t.Fatalf("term %d differs from one read", i)
					}
				}
			})
		}
		t.Run(name+"/ReadTerm", func(t *testing.T) {
			dec := NewDecoder(mk())
			for i, w := range wantRaw {
				raw, err := dec.ReadTerm()
				if err != nil || !bytes.Equal(raw, w) {
					t.Fatalf("term %d: %v, bytes equal: %v", i, err, bytes.Equal(raw, w))
				}
			}
			if _, err := dec.ReadTerm(); err != io.EOF {
				t.Fatalf("after the last term: %v", err)
			}
		})
	}
}

func encodeTerm(t *testing.T, v any) []byte {
	t.Helper()
	b, err := Append(nil, v, Erlang)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// stutterReader answers every other Read with no bytes and no error.
type stutterReader struct {
	r    io.Reader
	skip bool
}

func (s *stutterReader) Read(p []byte) (int, error) {
	if s.skip = !s.skip; s.skip {
		return 0, nil
	}
	return s.r.Read(p)
}

// TestDecoderReadsNoFurther checks that the decoder asks the reader for
// no byte past the term it returns, even one byte at a time: on a
// connection, the next bytes may come only once the term is answered.
func TestDecoderReadsNoFurther(t *testing.T) {
	for name, data := range map[string][]byte{
		"list":       syncList(t, 3700),
		"compressed": compressTerm(t, randomBinaries(t, 1000)),
		"binary":     term(bin(strings.Repeat("x", 5000))),
		"nested":     term(list(1), tup(1), list(1), tagMap, u32(1), sint(1), bin("v"), tagNil, tagNil),
	} {
		t.Run(name, func(t *testing.T) {
			tooFar := errors.New("read past the term")
			r := io.MultiReader(iotest.OneByteReader(bytes.NewReader(data)), iotest.ErrReader(tooFar))
			dec := NewDecoder(r)
			var v any
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
			if err := dec.Decode(&v); err != tooFar {
				t.Fatalf("second Decode: %v", err)
			}
		})
	}
}

// TestDecoderTruncatedInPieces checks the errors for a term that the
// input ends inside of, or that breaks a limit, when it arrives in
// pieces.
func TestDecoderTruncatedInPieces(t *testing.T) {
	big := syncList(t, 3700)
	comp := compressTerm(t, randomBinaries(t, 1000))
	for _, tt := range []struct {
		name string
		data []byte
		lim  Limits
		want error
	}{
		{"list", big[:len(big)-1], Limits{}, io.ErrUnexpectedEOF},
		{"list halfway", big[:len(big)/2], Limits{}, io.ErrUnexpectedEOF},
		{"compressed", comp[:len(comp)-1], Limits{}, io.ErrUnexpectedEOF},
		{"compressed header", comp[:4], Limits{}, io.ErrUnexpectedEOF},
		{"list over MaxSize", big, Limits{MaxSize: len(big) - 1}, ErrTooLarge},
		{"compressed over MaxSize", comp, Limits{MaxSize: len(comp) - 1}, ErrTooLarge},
		{"compressed over MaxDecompressed", comp, Limits{MaxDecompressed: 1000}, ErrTooLarge},
		{"too deep", term(list(1), list(1), list(1), tagNil, tagNil, tagNil), Limits{MaxDepth: 2}, ErrTooDeep},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dec := NewDecoder(&chunkReader{r: bytes.NewReader(tt.data), n: 1460})
			dec.SetLimits(tt.lim)
			var v any
			if err := dec.Decode(&v); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}
