// The race detector's sync.Pool drops objects on purpose, and every
// decoder state it drops costs allocations that are not the decode's.

//go:build !race

package bert

import (
	"testing"
	"time"
)

// profile is the struct the allocation tests and BenchmarkUnmarshalStruct
// decode into: strings, scalars, a time and a nested struct, each of
// whose fields the input may send in any of the forms Unmarshal takes.
type profile struct {
	Name    string    `bert:"name"`
	Guild   string    `bert:"guild"`
	Motto   string    `bert:"motto"`
	Home    string    `bert:"home"`
	Level   int       `bert:"level"`
	HP      float64   `bert:"hp"`
	Alive   bool      `bert:"alive"`
	Admin   bool      `bert:"admin"`
	Updated time.Time `bert:"updated"`
	Stats   struct {
		STR uint8 `bert:"str"`
		DEX int16 `bert:"dex"`
	} `bert:"stats"`
}

// structAllocCases are inputs for profile, each with the number of
// strings the decoded value holds: all Unmarshal may allocate.
func structAllocCases(tb testing.TB) []struct {
	name    string
	in      []byte
	strings int
} {
	props := List{
		Tuple{Atom("name"), []byte("Frodo Baggins")},
		Tuple{[]byte("guild"), ByteList("Fellowship")},
		Tuple{ByteList("motto"), Atom("Ünterwegs")}, // Latin-1 in BERT-JS, UTF-8 in Erlang
		Tuple{Atom("home"), List{int64('S'), int64('h'), int64('i'), int64('r'), int64('e')}},
		Tuple{Atom("level"), int64(12)},
		Tuple{Atom("hp"), 87.5},
		Tuple{Atom("alive"), true},
		Atom("admin"), // a bare atom: {admin, true}
		Tuple{Atom("updated"), time.Unix(1700000000, 123000).UTC()},
		Tuple{Atom("stats"), List{Tuple{Atom("str"), int64(18)}, Tuple{Atom("dex"), int64(-3)}}},
		Tuple{Atom("unknown"), Tuple{Atom("ignored"), List{int64(1), []byte("x")}}},
	}
	pairs := make(Map, 0, len(props))
	for _, p := range props {
		switch p := p.(type) {
		case Tuple:
			pairs = append(pairs, Pair{p[0], p[1]})
		case Atom:
			pairs = append(pairs, Pair{p, true})
		}
	}
	enc := func(term any, p Profile) []byte {
		b, err := Append(nil, term, p)
		if err != nil {
			tb.Fatal(err)
		}
		return b
	}
	return []struct {
		name    string
		in      []byte
		strings int
	}{
		{"proplist/erlang", enc(props, Erlang), 4},
		{"proplist/bertjs", enc(props, BERTJS), 4},
		{"map/erlang", enc(pairs, Erlang), 4},
		{"dict/bertjs", enc(Dict(pairs), BERTJS), 4},
		{"sync props/erlang", propsBytes(tb), 5},
	}
}

// TestUnmarshalStructAllocs checks that decoding into a struct allocates
// nothing but the strings it stores, whatever form the input takes.
func TestUnmarshalStructAllocs(t *testing.T) {
	want := profile{
		Name: "Frodo Baggins", Guild: "Fellowship", Motto: "Ünterwegs", Home: "Shire",
		Level: 12, HP: 87.5, Alive: true, Admin: true,
		Updated: time.Unix(1700000000, 123000).UTC(),
	}
	want.Stats.STR, want.Stats.DEX = 18, -3
	for _, c := range structAllocCases(t) {
		t.Run(c.name, func(t *testing.T) {
			var target any = new(profile)
			if c.name == "sync props/erlang" {
				target = new(character)
			}
			allocs := testing.AllocsPerRun(100, func() {
				if err := Unmarshal(c.in, target); err != nil {
					t.Fatal(err)
				}
			})
			if allocs > float64(c.strings) {
				t.Errorf("%v allocations, want %d (one per string)", allocs, c.strings)
			}
			switch got := target.(type) {
			case *profile:
				if *got != want {
					t.Errorf("got %+v\nwant %+v", *got, want)
				}
			case *character:
				if *got != benchCharacter {
					t.Errorf("got %+v\nwant %+v", *got, benchCharacter)
				}
			}
		})
	}
}

func BenchmarkUnmarshalStruct(b *testing.B) {
	for _, c := range structAllocCases(b) {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.in)))
			var v profile
			var ch character
			for b.Loop() {
				var err error
				if c.name == "sync props/erlang" {
					err = Unmarshal(c.in, &ch)
				} else {
					err = Unmarshal(c.in, &v)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
