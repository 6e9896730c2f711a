package bert

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"testing"
)

// chunkReader returns at most n bytes per Read, as a socket does with
// one TCP segment at a time.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(p) > c.n {
		p = p[:c.n]
	}
	return c.r.Read(p)
}

// syncList is a list of n sync requests (217 bytes each): 3700 make a
// term of about 800 KB, large enough that it arrives in hundreds of
// reads.
func syncList(tb testing.TB, n int) []byte {
	l := make(List, n)
	for i := range l {
		l[i] = syncTupleTerm()
	}
	b, err := Append(nil, l, Erlang)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// BenchmarkDecoderChunked decodes one large term from a stream that
// delivers it whole and from one that delivers it in 1460-byte reads (a
// TCP segment's payload); the stream decoder must take about as long for
// both.
//
// The compressed sub-benchmarks do the same with a compressed term (tag
// 80) of about 800 KB, whose zlib data is inflated as it arrives.
func BenchmarkDecoderChunked(b *testing.B) {
	plain := syncList(b, 3700)
	compressed := compressTerm(b, randomBinaries(b, 8000))
	for _, bc := range []struct {
		name  string
		data  []byte
		chunk int
	}{
		{"one-read", plain, len(plain)},
		{"chunked-1460", plain, 1460},
		{"compressed/one-read", compressed, len(compressed)},
		{"compressed/chunked-1460", compressed, 1460},
	} {
		data := bc.data
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			r := bytes.NewReader(data)
			for b.Loop() {
				r.Reset(data)
				dec := NewDecoder(&chunkReader{r: r, n: bc.chunk})
				var v any
				if err := dec.Decode(&v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// randomBinaries is a list of n random binaries of 100 bytes, which zlib
// cannot make much smaller.
func randomBinaries(tb testing.TB, n int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	l := make(List, n)
	for i := range l {
		b := make([]byte, 100)
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		l[i] = b
	}
	b, err := Append(nil, l, Erlang)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// compressTerm returns term (with its version byte) as a compressed term.
func compressTerm(tb testing.TB, term []byte) []byte {
	var buf bytes.Buffer
	buf.Write([]byte{versionMagic, tagCompressed})
	buf.Write(binary.BigEndian.AppendUint32(nil, uint32(len(term)-1)))
	zw := zlib.NewWriter(&buf)
	if _, err := zw.Write(term[1:]); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}
