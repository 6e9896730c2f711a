// Command memload measures what one kind of hostile load costs a running
// bertsync binary: the growth of its peak RSS (VmHWM) as a ratio to the
// RSS of the same server idle, the CPU time it spends as a ratio to that
// of ordinary requests, and what the server answered. It drives the binary
// as any client would, over WebSocket and HTTP, and reads
// /proc/<pid>/status and /proc/<pid>/task/*/schedstat, so it runs on
// Linux only.
//
// It reproduces the figures of issue #8: given two binaries, it runs each
// scenario on each in turn, alternating, and ends with the median of every
// figure per binary:
//
//	go build -o /tmp/bs-new ./cmd/bertsync
//	go run ./tests/memload -bin /tmp/bs-old,/tmp/bs-new -runs 3 -scenario bomb -n 8
//
// Every server is started as `bertsync serve --addr 127.0.0.1:0 --data D`
// with nothing else, so that a binary that predates a flag runs too; its
// RLIMIT_NOFILE is the tool's, which the tool raises to its hard limit
// (at most -nofile).
//
// The scenarios:
//
//   - bomb: n connections at once each send a 16 KB zlib-compressed
//     create (tag 80) inflating to a 16.7M-element list, then a broadcast
//     of the same, then a create inflating to just under 1 MiB, the
//     default message limit.
//   - list: 200 documents of 1 MB are created, then n connections at once
//     read the collection.
//   - bignum: a read whose id is a 1 MB bignum, then a create holding
//     one and five REST reads of that document.
//   - conns: one client (127.0.0.1; -first-procs processes of this
//     program) opens as many WebSockets as it can, up to -conns, giving up
//     after -give-up refusals in a row, and holds them, answering pings;
//     then a second client, another process dialling from 127.0.0.2,
//     connects and reads. One process cannot pass its own descriptor
//     limit, which is the server's too: two can exhaust the server's.
//   - junk: -types reads of distinct type names that do not exist, then a
//     create into a new type.
//   - keys: a create whose property key is a 300-byte binary, then
//     collection reads of that type by another client.
//   - upload: three multipart uploads of -upload-size bytes each to ids
//     that do not exist; what they leave in <data>/files and <data>/tmp.
//   - rebind: requests naming a foreign Host (DNS rebinding): the answer
//     codes, with the same requests naming the server's own host as the
//     control. RSS is not measured there.
//
// It is a measuring tool, not a test: it asserts nothing.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// options are the knobs of the scenarios.
type options struct {
	n          int   // connections at once (bomb, list)
	conns      int   // connections the first client tries (conns)
	giveUp     int   // refusals in a row after which it stops (conns)
	firstProcs int   // processes that make up the first client (conns)
	types      int   // junk type names read (junk)
	uploadSize int64 // bytes of each upload (upload)
}

// scenarios maps a name to its measurement.
var scenarios = map[string]func(*server, options) ([]figure, error){
	"bomb":   bombScenario,
	"list":   listScenario,
	"bignum": bignumScenario,
	"conns":  connsScenario,
	"junk":   junkScenario,
	"keys":   keysScenario,
	"upload": uploadScenario,
	"rebind": rebindScenario,
}

func main() {
	bins := flag.String("bin", "/tmp/bs-new", "the bertsync binaries to measure, comma-separated; runs alternate between them")
	scenario := flag.String("scenario", "bomb", "bomb, list, bignum, conns, junk, keys, upload or rebind")
	runs := flag.Int("runs", 1, "runs of the scenario on each binary")
	nofile := flag.Uint64("nofile", 20_000, "RLIMIT_NOFILE to raise the tool and the servers to (at most the hard limit)")
	second := flag.String("second-client", "", "internal: be conns' second client, dialling this WebSocket URL from 127.0.0.2")
	hold := flag.String("hold", "", "internal: be a process of conns' first client, holding up to -conns WebSockets to this URL")
	var o options
	flag.IntVar(&o.n, "n", 4, "connections at once (bomb, list)")
	flag.IntVar(&o.conns, "conns", 19_900, "connections the first client tries to open (conns)")
	flag.IntVar(&o.giveUp, "give-up", 100, "refusals in a row after which the first client stops (conns)")
	flag.IntVar(&o.firstProcs, "first-procs", 1, "processes the first client is made of, sharing -conns (conns)")
	flag.IntVar(&o.types, "types", 1_100, "distinct junk type names read (junk)")
	flag.Int64Var(&o.uploadSize, "upload-size", 32<<20, "bytes of each upload (upload)")
	flag.Parse()
	if *second != "" {
		fmt.Println(secondClient(*second))
		return
	}
	if *hold != "" {
		holdConns(*hold, o)
		return
	}
	fn, ok := scenarios[*scenario]
	if !ok {
		fmt.Fprintf(os.Stderr, "memload: unknown scenario %q\n", *scenario)
		os.Exit(2)
	}
	if got, err := raiseNoFile(*nofile); err != nil {
		fmt.Fprintln(os.Stderr, "memload: RLIMIT_NOFILE:", err)
	} else {
		fmt.Printf("RLIMIT_NOFILE %d\n", got)
	}
	fmt.Printf("load average %s\n", loadavg())
	var results []result
	for run := range *runs {
		for _, bin := range strings.Split(*bins, ",") {
			figs, err := measure(bin, *scenario, fn, o, run+1)
			if err != nil {
				fmt.Printf("  error: %v\n", err)
			}
			results = append(results, result{bin: filepath.Base(bin), figs: figs})
		}
	}
	fmt.Printf("load average %s\n", loadavg())
	summarize(results)
}

// measure runs the scenario once on a fresh server of bin.
func measure(bin, scenario string, fn func(*server, options) ([]figure, error), o options, run int) ([]figure, error) {
	s, err := start(bin)
	if err != nil {
		return nil, err
	}
	defer s.stop()
	if err := settle(s); err != nil {
		return nil, err
	}
	s.idle = s.status("VmRSS")
	fmt.Printf("%s, scenario %s, run %d: idle RSS %s (VmHWM %s), open files limit %s, load average %s\n",
		filepath.Base(bin), scenario, run, mib(s.idle), mib(s.status("VmHWM")), s.limit("Max open files"), loadavg())
	figs, err := fn(s, o)
	for _, f := range figs {
		fmt.Printf("  %s\n", f)
	}
	return figs, err
}

// loadavg is the first three fields of /proc/loadavg.
func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	return strings.Join(f[:min(3, len(f))], " ")
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
