package bert

import (
	"bytes"
	"flag"
	"os"
	"strconv"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/sync_tuple.bert")

// character is the Go form of the props of the seed's sync request.
type character struct {
	ID        string  `bert:"id"`
	Name      string  `bert:"name"`
	Race      string  `bert:"race"`
	Class     string  `bert:"class"`
	Guild     string  `bert:"guild"`
	Level     int     `bert:"level"`
	HP        float64 `bert:"hp"`
	MP        int     `bert:"mp"`
	Alive     bool    `bert:"alive"`
	UpdatedAt int64   `bert:"updated_at"`
}

var benchCharacter = character{
	ID: "c-1042", Name: "Frodo Baggins", Race: "hobbit", Class: "burglar", Guild: "Fellowship",
	Level: 12, HP: 87.5, MP: 10, Alive: true, UpdatedAt: 1700000000,
}

// syncTupleTerm is the seed's request {sync, create, character, Props}
// with ten props, as a term.
func syncTupleTerm() Tuple {
	return Tuple{Atom("sync"), Atom("create"), Atom("character"), List{
		Tuple{Atom("id"), []byte("c-1042")},
		Tuple{Atom("name"), []byte("Frodo Baggins")},
		Tuple{Atom("race"), []byte("hobbit")},
		Tuple{Atom("class"), []byte("burglar")},
		Tuple{Atom("guild"), []byte("Fellowship")},
		Tuple{Atom("level"), int64(12)},
		Tuple{Atom("hp"), 87.5},
		Tuple{Atom("mp"), int64(10)},
		Tuple{Atom("alive"), true},
		Tuple{Atom("updated_at"), int64(1700000000)},
	}}
}

const syncTupleFile = "testdata/sync_tuple.bert"

// syncTupleBytes returns the sync tuple as term_to_binary (OTP 26+)
// writes it, which is also what testdata/sync_tuple.bert holds for the
// Erlang comparison benchmark.
func syncTupleBytes(tb testing.TB) []byte {
	b, err := Append(nil, syncTupleTerm(), Erlang)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestSyncTupleFile keeps testdata/sync_tuple.bert equal to the term the
// benchmarks use (go test -run SyncTupleFile -update rewrites it).
func TestSyncTupleFile(t *testing.T) {
	want := syncTupleBytes(t)
	if *update {
		if err := os.WriteFile(syncTupleFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(syncTupleFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is out of date; run go test -run SyncTupleFile -update", syncTupleFile)
	}
}

// propsBytes returns the Props element of the sync tuple as its own term.
func propsBytes(tb testing.TB) []byte {
	b, err := Append(nil, syncTupleTerm()[3], Erlang)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func BenchmarkSyncTuple(b *testing.B) {
	data := syncTupleBytes(b)
	props := propsBytes(b)
	b.Run("DecodeAny", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var v any
			if err := Unmarshal(data, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("UnmarshalStruct", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(props)))
		var c character
		for b.Loop() {
			if err := Unmarshal(props, &c); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("MarshalStruct", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		var v any = Tuple{Atom("sync"), Atom("create"), Atom("character"), &benchCharacter}
		buf := make([]byte, 0, 512)
		for b.Loop() {
			var err error
			if buf, err = Append(buf[:0], v, Erlang); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("MarshalTerm", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		var v any = syncTupleTerm()
		buf := make([]byte, 0, 512)
		for b.Loop() {
			var err error
			if buf, err = Append(buf[:0], v, Erlang); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("RoundTrip", func(b *testing.B) {
		// What Erlang's binary_to_term + term_to_binary do.
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		buf := make([]byte, 0, 512)
		for b.Loop() {
			var v any
			if err := Unmarshal(data, &v); err != nil {
				b.Fatal(err)
			}
			var err error
			if buf, err = Append(buf[:0], v, Erlang); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkBinary(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10, 1 << 20} {
		data, err := Append(nil, bytes.Repeat([]byte{'x'}, size), Erlang)
		if err != nil {
			b.Fatal(err)
		}
		name := strconv.Itoa(size>>10) + "KiB"
		b.Run(name+"/Copy", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				var v []byte
				if err := Unmarshal(data, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/ZeroCopy", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			o := UnmarshalOptions{ZeroCopy: true}
			for b.Loop() {
				var v []byte
				if err := o.Unmarshal(data, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/ZeroCopyAny", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			o := UnmarshalOptions{ZeroCopy: true}
			for b.Loop() {
				var v any
				if err := o.Unmarshal(data, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/Marshal", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			var v any = bytes.Repeat([]byte{'x'}, size)
			buf := make([]byte, 0, size+16)
			for b.Loop() {
				var err error
				if buf, err = Append(buf[:0], v, Erlang); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkList(b *testing.B) {
	for _, n := range []int{100, 10000} {
		l := make(List, n)
		ints := make([]int, n)
		for i := range l {
			l[i] = int64(i * 1000)
			ints[i] = i * 1000
		}
		data, err := Append(nil, l, Erlang)
		if err != nil {
			b.Fatal(err)
		}
		var lv, iv any = l, ints
		name := strconv.Itoa(n)
		b.Run(name+"/DecodeAny", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				var v any
				if err := Unmarshal(data, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/UnmarshalInts", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			var v []int
			for b.Loop() {
				if err := Unmarshal(data, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/MarshalTerm", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			buf := make([]byte, 0, len(data))
			for b.Loop() {
				var err error
				if buf, err = Append(buf[:0], lv, Erlang); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/MarshalInts", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			buf := make([]byte, 0, len(data))
			for b.Loop() {
				var err error
				if buf, err = Append(buf[:0], iv, Erlang); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
