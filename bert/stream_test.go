package bert

import (
	"bytes"
	"errors"
	"io"
	"reflect"
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
