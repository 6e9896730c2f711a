package tests

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/bert/erltext"
)

// syncTupleText is the seed's sync request with ten props, the text form
// of bert/testdata/sync_tuple.bert; the benchmark encodes it itself when
// that file is missing.
const syncTupleText = `{sync,create,character,[{id,<<"c-1042">>},{name,<<"Frodo Baggins">>},` +
	`{race,<<"hobbit">>},{class,<<"burglar">>},{guild,<<"Fellowship">>},{level,12},` +
	`{hp,87.5},{mp,10},{alive,{bert,true}},{updated_at,1700000000}]}`

// erlBenchMillis is how long the peer times each Erlang loop, at least.
const erlBenchMillis = 300

// vsErlangCase is one input of BenchmarkVsErlang. build makes its bytes
// when its sub-benchmarks run, so that no other case's input is on the
// heap (and makes the garbage collector's work heavier) while it is
// measured.
type vsErlangCase struct {
	name  string
	build func(b *testing.B) []byte
}

func vsErlangCases() []vsErlangCase {
	syncTuple := func(b *testing.B) []byte {
		b.Helper()
		data, err := os.ReadFile(filepath.Join("..", "bert", "testdata", "sync_tuple.bert"))
		if errors.Is(err, fs.ErrNotExist) {
			term, perr := erltext.Parse(syncTupleText)
			if perr != nil {
				b.Fatal(perr)
			}
			data, err = bert.Append(nil, term, bert.Erlang)
		}
		if err != nil {
			b.Fatal(err)
		}
		return data
	}
	// The same inputs as bert's own BenchmarkBinary and BenchmarkList.
	binary := func(b *testing.B) []byte {
		b.Helper()
		data, err := bert.Append(nil, bytes.Repeat([]byte{'x'}, 1<<20), bert.Erlang)
		if err != nil {
			b.Fatal(err)
		}
		return data
	}
	list := func(b *testing.B) []byte {
		b.Helper()
		ints := make([]int, 10000)
		for i := range ints {
			ints[i] = i * 1000
		}
		data, err := bert.Append(nil, ints, bert.Erlang)
		if err != nil {
			b.Fatal(err)
		}
		return data
	}
	return []vsErlangCase{{"sync_tuple", syncTuple}, {"binary_1MiB", binary}, {"list_10000", list}}
}

// vsErlangTime is one side's cost of one operation: wall-clock and CPU
// nanoseconds per operation.
type vsErlangTime struct {
	wall, cpu float64
}

// cpuNow returns the CPU time this process has used so far. On a shared
// machine it is steadier than the wall clock: time spent waiting for a
// core does not count.
func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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
// Each reports its own ns/op and, measured by the peer right after the Go
// loop (so both run under the same machine load): erl-ns/op, the Erlang
// wall-clock figure, go/erl, the wall-clock ratio, and go/erl-cpu, the
// ratio of CPU time per operation (process CPU time on both sides,
// garbage collection included), which a busy machine disturbs less. The
// peer loops for at least erlBenchMillis in a compiled escript. At the end
// it prints a summary table.
//
// What each side is charged for: the Go figure is the whole Go process's
// CPU time over the loop, so it includes the garbage collector's
// background work on the other core (marking, sweeping, returning memory
// to the system) caused by the loop's own allocations; the Erlang figure
// is the whole VM's, its garbage collection included. Neither side pays
// for what came before its loop: the Go loop starts from a collected heap
// with free memory returned to the system (debug.FreeOSMemory), with only
// its own case's input allocated, and after the VM has finished starting;
// the peer warms its loop up and times only its last, long enough run.
//
//	go test -run '^$' -bench VsErlang -benchtime 2s -count 3 ./tests/
func BenchmarkVsErlang(b *testing.B) {
	p := startErlPeer(b)
	// Wait until the VM is up (escript compiles the peer as it starts,
	// some 0.4 s of CPU), so that its start does not compete with the
	// first Go loop for this machine's cores.
	if r := p.call("bench", "decode", []byte{131, 106}, 1); len(r) == 0 || string(r[0]) != "ok" {
		b.Fatalf("erlang peer not ready: %q", r)
	}
	var (
		mu      sync.Mutex
		summary = map[string][2]vsErlangTime{} // Go, Erlang
		order   []string
	)
	for _, cs := range vsErlangCases() {
		c := struct {
			name string
			data []byte
		}{cs.name, cs.build(b)}
		var term any
		if err := bert.Unmarshal(c.data, &term); err != nil {
			b.Fatalf("%s: %v", c.name, err)
		}
		// erlTime has the peer time one BIF (or both, for roundtrip) on
		// this input.
		erlTime := func(b *testing.B, op string) vsErlangTime {
			r := p.call("bench", op, c.data, erlBenchMillis)
			if string(r[0]) != "ok" || len(r) != 3 {
				b.Fatalf("erlang bench %s of %s: %q", op, c.name, r)
			}
			wall, err1 := strconv.ParseFloat(string(r[1]), 64)
			cpu, err2 := strconv.ParseFloat(string(r[2]), 64)
			if err1 != nil || err2 != nil {
				b.Fatalf("erlang bench %s of %s: %q", op, c.name, r)
			}
			return vsErlangTime{wall, cpu}
		}
		// measure runs op's Go loop, then the Erlang one, and reports both.
		measure := func(b *testing.B, op, erlOp string, body func() error) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.data)))
			// Start from a collected heap with its free memory returned
			// to the system, so that the loop pays for neither the
			// garbage nor the scavenging of what ran before it (the
			// Erlang side likewise times a warmed-up loop on its own).
			debug.FreeOSMemory()
			n := 0
			cpu0 := cpuNow()
			for b.Loop() {
				if err := body(); err != nil {
					b.Fatal(err)
				}
				n++
			}
			cpu := cpuNow() - cpu0
			g := vsErlangTime{
				wall: float64(b.Elapsed().Nanoseconds()) / float64(n),
				cpu:  float64(cpu.Nanoseconds()) / float64(n),
			}
			e := erlTime(b, erlOp)
			if g.wall == 0 || e.wall == 0 || e.cpu == 0 {
				b.Fatalf("%s/%s: no time measured (go %v, erlang %v)", c.name, op, g, e)
			}
			b.ReportMetric(e.wall, "erl-ns/op")
			b.ReportMetric(g.wall/e.wall, "go/erl")
			b.ReportMetric(g.cpu/e.cpu, "go/erl-cpu")
			mu.Lock()
			key := c.name + "/" + op
			if _, seen := summary[key]; !seen {
				order = append(order, key)
			}
			summary[key] = [2]vsErlangTime{g, e}
			mu.Unlock()
		}
		decode := func(opts bert.UnmarshalOptions) func() error {
			return func() error {
				var v any
				return opts.Unmarshal(c.data, &v)
			}
		}
		b.Run(c.name+"/decode", func(b *testing.B) {
			measure(b, "decode", "decode", decode(bert.UnmarshalOptions{}))
		})
		b.Run(c.name+"/decode_zerocopy", func(b *testing.B) {
			measure(b, "decode_zerocopy", "decode", decode(bert.UnmarshalOptions{ZeroCopy: true}))
		})
		b.Run(c.name+"/encode", func(b *testing.B) {
			buf := make([]byte, 0, len(c.data)+64)
			measure(b, "encode", "encode", func() (err error) {
				buf, err = bert.Append(buf[:0], term, bert.Erlang)
				return err
			})
			if !bytes.Equal(buf, c.data) {
				b.Fatalf("re-encoding %s changed its bytes", c.name)
			}
		})
		b.Run(c.name+"/roundtrip", func(b *testing.B) {
			buf := make([]byte, 0, len(c.data)+64)
			measure(b, "roundtrip", "roundtrip", func() error {
				var v any
				if err := bert.Unmarshal(c.data, &v); err != nil {
					return err
				}
				var err error
				buf, err = bert.Append(buf[:0], v, bert.Erlang)
				return err
			})
		})
	}
	fmt.Println("BenchmarkVsErlang summary (ns/op; go/erl below 1 means Go is faster):")
	fmt.Printf("  %-28s %12s %12s %8s   %12s %12s %8s\n", "", "go wall", "erl wall", "go/erl", "go cpu", "erl cpu", "go/erl")
	for _, k := range order {
		g, e := summary[k][0], summary[k][1]
		fmt.Printf("  %-28s %12.1f %12.1f %8.3f   %12.1f %12.1f %8.3f\n", k, g.wall, e.wall, g.wall/e.wall, g.cpu, e.cpu, g.cpu/e.cpu)
	}
}
