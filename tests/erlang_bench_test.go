package tests

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"

	"github.com/bertsync/bertsync/bert"
)

// syncTupleText is the seed's sync request with ten props, the text form
// of bert/testdata/sync_tuple.bert; the benchmark encodes it itself when
// that file is missing.
const syncTupleText = `{sync,create,character,[{id,<<"c-1001">>},{name,<<"Gandalf">>},` +
	`{race,<<"maia">>},{class,<<"wizard">>},{level,20},{hp,1000},{mana,5000},` +
	`{speed,1.5},{alive,{bert,true}},{tags,[<<"grey">>,<<"istari">>]}]}`

// erlBenchMillis is how long the peer times each Erlang loop, at least.
const erlBenchMillis = 300

// vsErlangCase is one input of BenchmarkVsErlang.
type vsErlangCase struct {
	name string
	data []byte
}

func vsErlangCases(b *testing.B) []vsErlangCase {
	b.Helper()
	syncTuple, err := os.ReadFile(filepath.Join("..", "bert", "testdata", "sync_tuple.bert"))
	if errors.Is(err, fs.ErrNotExist) {
		term, perr := bert.Parse(syncTupleText)
		if perr != nil {
			b.Fatal(perr)
		}
		syncTuple, err = bert.Append(nil, term, bert.Erlang)
	}
	if err != nil {
		b.Fatal(err)
	}
	blob := make([]byte, 1<<20)
	for i := range blob {
		blob[i] = byte(i*7 + i>>10)
	}
	binary, err := bert.Append(nil, blob, bert.Erlang)
	if err != nil {
		b.Fatal(err)
	}
	ints := make([]int, 10000)
	for i := range ints {
		ints[i] = i
	}
	list, err := bert.Append(nil, ints, bert.Erlang)
	if err != nil {
		b.Fatal(err)
	}
	return []vsErlangCase{{"sync_tuple", syncTuple}, {"binary_1MiB", binary}, {"list_10000", list}}
}

// BenchmarkVsErlang times Go's codec and Erlang's binary_to_term and
// term_to_binary BIFs on the same bytes in the same run, and reports the
// ratio Go/Erlang (below 1 means Go is faster). For each input there are
// sub-benchmarks:
//
//	decode          Unmarshal into any (the term model), copying binaries
//	decode_zerocopy Unmarshal with ZeroCopy: binaries alias the input
//	encode          Append in the Erlang profile into a reused buffer
//	roundtrip       decode + encode, against binary_to_term + term_to_binary
//
// Each reports its own ns/op, the Erlang figure as erl-ns/op and the
// ratio as go/erl. The peer times Erlang right after each Go loop, in a
// loop of at least erlBenchMillis in a compiled escript.
//
//	go test -run '^$' -bench VsErlang -benchtime 2s ./tests/
func BenchmarkVsErlang(b *testing.B) {
	p := startErlPeer(b)
	var (
		mu      sync.Mutex
		summary = map[string]float64{}
	)
	for _, c := range vsErlangCases(b) {
		var term any
		if err := bert.Unmarshal(c.data, &term); err != nil {
			b.Fatalf("%s: %v", c.name, err)
		}
		// erlNs has the peer time one BIF (or both, for roundtrip) on
		// this input right after the Go loop, so that both run under the
		// same machine load.
		erlNs := func(b *testing.B, op string) float64 {
			r := p.call("bench", op, c.data, erlBenchMillis)
			if string(r[0]) != "ok" || len(r) != 2 {
				b.Fatalf("erlang bench %s of %s: %q", op, c.name, r)
			}
			ns, err := strconv.ParseFloat(string(r[1]), 64)
			if err != nil {
				b.Fatalf("erlang bench %s of %s: %q", op, c.name, r)
			}
			return ns
		}
		report := func(b *testing.B, op string, erlNs float64) {
			goNs := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			if goNs == 0 || erlNs == 0 {
				b.Fatalf("%s/%s: no time measured", c.name, op)
			}
			b.ReportMetric(erlNs, "erl-ns/op")
			b.ReportMetric(goNs/erlNs, "go/erl")
			mu.Lock()
			summary[c.name+"/"+op+" go"] = goNs
			summary[c.name+"/"+op+" erl"] = erlNs
			mu.Unlock()
		}
		decodeWith := func(op string, opts bert.UnmarshalOptions) func(b *testing.B) {
			return func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(c.data)))
				for b.Loop() {
					var v any
					if err := opts.Unmarshal(c.data, &v); err != nil {
						b.Fatal(err)
					}
				}
				report(b, op, erlNs(b, "decode"))
			}
		}
		b.Run(c.name+"/decode", decodeWith("decode", bert.UnmarshalOptions{}))
		b.Run(c.name+"/decode_zerocopy", decodeWith("decode_zerocopy", bert.UnmarshalOptions{ZeroCopy: true}))
		b.Run(c.name+"/encode", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.data)))
			buf := make([]byte, 0, len(c.data)+64)
			for b.Loop() {
				var err error
				if buf, err = bert.Append(buf[:0], term, bert.Erlang); err != nil {
					b.Fatal(err)
				}
			}
			if !bytes.Equal(buf, c.data) && c.name != "sync_tuple" {
				b.Fatalf("re-encoding %s changed its bytes", c.name)
			}
			report(b, "encode", erlNs(b, "encode"))
		})
		b.Run(c.name+"/roundtrip", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.data)))
			buf := make([]byte, 0, len(c.data)+64)
			for b.Loop() {
				var v any
				if err := bert.Unmarshal(c.data, &v); err != nil {
					b.Fatal(err)
				}
				var err error
				if buf, err = bert.Append(buf[:0], v, bert.Erlang); err != nil {
					b.Fatal(err)
				}
			}
			report(b, "roundtrip", erlNs(b, "roundtrip"))
		})
	}
	var keys []string
	for k := range summary {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Println("BenchmarkVsErlang summary (ns/op; go/erl < 1 means Go is faster):")
	for _, k := range keys {
		if len(k) > 3 && k[len(k)-3:] == " go" {
			base := k[:len(k)-3]
			g, e := summary[k], summary[base+" erl"]
			fmt.Printf("  %-28s go %12.1f  erl %12.1f  go/erl %.3f\n", base, g, e, g/e)
		}
	}
}
