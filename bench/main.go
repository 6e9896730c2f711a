package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bertsync/bertsync/internal/bench"
)

// The targets of issue 11, as ratios bertsync/centrifuge.
const (
	targetP50  = 0.8
	targetP99  = 0.6
	targetIdle = 0.5
)

// config is the command line of a comparison.
type config struct {
	subscribers []int
	rounds      int
	repeat      int
	size        int
	servers     []string
	profileDir  string
}

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	short := fs.Bool("short", false, "CI size: 1,000 and 5,000 subscribers, 10 rounds, each server twice (under a minute)")
	subs := fs.String("subscribers", "1000,5000", "subscriber counts, comma-separated")
	rounds := fs.Int("rounds", 50, "messages per run, sent one at a time")
	repeat := fs.Int("repeat", 3, "runs of each server per subscriber count, alternating")
	size := fs.Int("size", 256, "WebSocket payload of each push, bytes")
	servers := fs.String("servers", "centrifuge,bertsync", "servers to run, in this order within each repetition")
	profileDir := fs.String("profile", "", "directory for the children's profiles: SERVER-N-RUN.heap (in use) while the subscribers are idle, .cpu during the rounds")
	serve := fs.String("serve", "", "run this server as the bench's child process (internal)")
	memRate := fs.Int("memprofilerate", 0, "with -serve: runtime.MemProfileRate of the child (0: the runtime's default)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *serve != "" {
		if *memRate > 0 {
			runtime.MemProfileRate = *memRate
		}
		return runChild(*serve)
	}
	cfg := config{rounds: *rounds, repeat: *repeat, size: *size, profileDir: *profileDir}
	if *short {
		cfg.rounds, cfg.repeat = 10, 2
	}
	var err error
	if cfg.subscribers, err = parseCounts(*subs); err != nil {
		fmt.Fprintf(stderr, "bench: -subscribers: %v\n", err)
		return 2
	}
	for s := range strings.SplitSeq(*servers, ",") {
		if _, ok := protocols[s]; !ok {
			fmt.Fprintf(stderr, "bench: -servers: unknown server %q (want centrifuge, bertsync)\n", s)
			return 2
		}
		cfg.servers = append(cfg.servers, s)
	}
	switch {
	case cfg.rounds < 1 || cfg.rounds > 10_000:
		fmt.Fprintln(stderr, "bench: -rounds must be 1..10000")
		return 2
	case cfg.repeat < 1 || cfg.repeat > 100:
		fmt.Fprintln(stderr, "bench: -repeat must be 1..100")
		return 2
	case cfg.size < minPayload+64 || cfg.size > 1<<20:
		fmt.Fprintf(stderr, "bench: -size must be %d..%d\n", minPayload+64, 1<<20)
		return 2
	}
	if cfg.profileDir != "" {
		if err := os.MkdirAll(cfg.profileDir, 0o755); err != nil {
			fmt.Fprintf(stderr, "bench: -profile: %v\n", err)
			return 2
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	bench.RaiseFileLimit(stderr)
	ok, err := compare(ctx, cfg, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	if !ok {
		return 1
	}
	return 0
}

// parseCounts reads "1000,5000".
func parseCounts(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 9000 {
			return nil, fmt.Errorf("%q: want counts of 1..9000 (each connection is a descriptor in the server and one here)", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// compare runs every count and repetition and prints the report; ok is
// false when a message was lost.
func compare(ctx context.Context, cfg config, out io.Writer) (ok bool, err error) {
	fmt.Fprintf(out, "Fan-out, bertsync against centrifuge %s, %s, %s %s/%s, %d CPUs (GOMAXPROCS %d), load average %s\n",
		moduleVersion("github.com/centrifugal/centrifuge"), time.Now().UTC().Format("2006-01-02 15:04 MST"),
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), loadAverage())
	fmt.Fprintf(out, "push of %d bytes (bertsync: binary BERT {sync, broadcast, …}; centrifuge: JSON protocol), %d rounds per run, servers alternating %s, %d times\n",
		cfg.size, cfg.rounds, strings.Join(cfg.servers, " "), cfg.repeat)
	fmt.Fprintf(out, "  %-11s %-3s %-10s %9s %9s %9s %5s %11s %10s %11s %11s %6s\n", "subscribers", "run", "server",
		"p50", "p99", "max", "lost", "push bytes", "mem/conn", "server CPU", "client CPU", "time")
	ok = true
	type figures struct{ p50, p99, mem, cpu []float64 }
	var summary []string
	for _, n := range cfg.subscribers {
		fig := map[string]*figures{}
		for _, s := range cfg.servers {
			fig[s] = &figures{}
		}
		for rep := 1; rep <= cfg.repeat; rep++ {
			for _, s := range cfg.servers {
				rc := runConfig{server: s, subscribers: n, rounds: cfg.rounds, size: cfg.size}
				if cfg.profileDir != "" {
					rc.profile = filepath.Join(cfg.profileDir, fmt.Sprintf("%s-%d-%d", s, n, rep))
				}
				res, err := run(ctx, rc)
				if err != nil {
					return false, err
				}
				mem := "-"
				if res.perConn > 0 {
					mem = fmt.Sprintf("%.1f KiB", res.perConn/1024)
				}
				fmt.Fprintf(out, "  %-11d %-3d %-10s %9s %9s %9s %5d %11s %10s %11s %11s %5.1fs\n", n, rep, s,
					bench.Millis(bench.Percentile(res.lat, 0.5)), bench.Millis(bench.Percentile(res.lat, 0.99)),
					bench.Millis(bench.Percentile(res.lat, 1)), res.lost, sizes(res), mem,
					perPush(res.serverCPU, res, cfg.rounds), perPush(res.clientCPU, res, cfg.rounds), res.elapsed.Seconds())
				if res.notes != "" {
					fmt.Fprintf(out, "  (%s)\n", res.notes)
				}
				if res.rssError != nil {
					fmt.Fprintf(out, "  (mem/conn: %v)\n", res.rssError)
				}
				if res.lost > 0 {
					ok = false
				}
				f := fig[s]
				f.p50 = append(f.p50, float64(bench.Percentile(res.lat, 0.5)))
				f.p99 = append(f.p99, float64(bench.Percentile(res.lat, 0.99)))
				if res.perConn > 0 {
					f.mem = append(f.mem, res.perConn)
				}
				if res.serverCPU > 0 {
					f.cpu = append(f.cpu, float64(res.serverCPU))
				}
			}
		}
		b, c := fig["bertsync"], fig["centrifuge"]
		if b == nil || c == nil {
			continue
		}
		summary = append(summary, fmt.Sprintf("  %-11d %s %s %s %s", n,
			ratio(b.p50, c.p50, targetP50), ratio(b.p99, c.p99, targetP99), ratio(b.mem, c.mem, targetIdle), ratio(b.cpu, c.cpu, 0)))
	}
	if len(summary) > 0 {
		fmt.Fprintf(out, "ratios bertsync/centrifuge, medians of the runs (targets: p50 <= %.1f, p99 <= %.1f, mem/conn <= %.1f; nothing lost)\n",
			targetP50, targetP99, targetIdle)
		fmt.Fprintf(out, "  %-11s %-16s %-16s %-16s %-16s\n", "subscribers", "p50", "p99", "mem/conn", "server CPU")
		for _, l := range summary {
			fmt.Fprintln(out, l)
		}
	}
	if !ok {
		fmt.Fprintln(out, "FAIL: messages were lost")
	}
	return ok, nil
}

// ratio formats median(b)/median(c) against target.
func ratio(b, c []float64, target float64) string {
	if len(b) == 0 || len(c) == 0 || bench.Median(c) == 0 {
		return fmt.Sprintf("%-16s", "-")
	}
	r := bench.Median(b) / bench.Median(c)
	verdict := "met"
	switch {
	case target <= 0:
		verdict = "" // no target: for information
	case r > target:
		verdict = "MISSED"
	}
	return fmt.Sprintf("%-16s", fmt.Sprintf("%.2fx %s", r, verdict))
}

// perPush formats the CPU time d of a run per push delivered.
func perPush(d time.Duration, r runResult, rounds int) string {
	n := len(r.lat)
	if d <= 0 || n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f µs", float64(d)/float64(n)/1e3)
}

// sizes formats the range of push sizes a run received.
func sizes(r runResult) string {
	switch {
	case r.pushMin < 0:
		return "-"
	case r.pushMin == r.pushMax:
		return strconv.Itoa(r.pushMin)
	}
	return fmt.Sprintf("%d-%d", r.pushMin, r.pushMax)
}

// moduleVersion is the version of module path this binary was built with.
func moduleVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == path {
				return d.Version
			}
		}
	}
	return "(unknown version)"
}

// loadAverage is the first three fields of /proc/loadavg, or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
