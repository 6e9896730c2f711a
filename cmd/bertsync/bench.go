package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"
)

// benchUsage is the help text of `bertsync bench`.
const benchUsage = `usage: bertsync bench [flags]

Loads a bertsync server over loopback and prints, beside the same figures
for a bare gorilla/websocket server started in this process as the baseline:

  round trips   requests per second for --clients connections, each sending
                one {sync, read | create, ...} and waiting for its reply
                before the next (the baseline echoes the same bytes back)
  fan-out       latency p50/p99 from sending one update to each of
                --subscribers subscribers receiving its push (the baseline
                is a naive gorilla broadcast hub)
  idle          memory per idle connection for --idle connections: the
                server's live heap plus goroutine stacks (runtime.MemStats,
                after GC) and RSS, before and after opening them

With no --url the server runs in this process (bertsync serve on a
temporary --data directory and 127.0.0.1:0), which is what makes its memory
measurable. With --url ws://HOST:PORT/bullet it loads a running server on
loopback; the idle figures then need --pid (RSS only).

Every phase is bounded in count and in time and the command stops by
itself. Targets from the issue: round trips >= 0.5 x echo, fan-out p99 <
50 ms for 1,000 subscribers, <= 16 KiB per idle connection.

flags:
`

// benchOptions are the flags of `bertsync bench`.
type benchOptions struct {
	url         string
	pid         int
	data        string
	clients     int
	duration    time.Duration
	requests    int
	repeat      int
	ops         []string
	subscribers int
	rounds      int
	idle        int
	phases      map[string]bool
	memprofile  string
	cpuprofile  string
}

// benchPhaseTimeout bounds any single wait of the bench (a reply, a push,
// a dial) so that a stuck server ends the run with an error.
const benchPhaseTimeout = 15 * time.Second

// Bounds on the flags, so that a typo cannot start an unbounded run.
const (
	benchMaxClients  = 10000
	benchMaxConns    = 50000
	benchMaxDuration = 10 * time.Minute
	benchMaxRounds   = 10000
)

// runBench implements `bertsync bench`.
func runBench(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var o benchOptions
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, benchUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.url, "url", "", "Bullet endpoint of a running server, ws://127.0.0.1:PORT/bullet (empty: start one in this process)")
	fs.IntVar(&o.pid, "pid", 0, "with --url: the server's process id, to measure its RSS for the idle phase")
	fs.StringVar(&o.data, "data", "", "data directory of the in-process server (empty: a temporary directory, removed afterwards)")
	fs.IntVar(&o.clients, "clients", 50, "concurrent connections of the round-trip phase")
	fs.DurationVar(&o.duration, "duration", 3*time.Second, "length of each round-trip run (ignored with --requests)")
	fs.IntVar(&o.repeat, "repeat", 3, "round-trip repetitions; each bertsync run is compared with the echo runs before and after it")
	fs.IntVar(&o.requests, "requests", 0, "requests per round-trip run, spread over the clients (0: run for --duration)")
	ops := fs.String("ops", "read,create", "bertsync requests of the round-trip phase: read, create")
	fs.IntVar(&o.subscribers, "subscribers", 1000, "subscribers of the fan-out phase")
	fs.IntVar(&o.rounds, "rounds", 20, "updates sent in the fan-out phase, one at a time")
	fs.IntVar(&o.idle, "idle", 1000, "connections of the idle-memory phase")
	phases := fs.String("phases", "idle,rt,fanout", "phases to run: idle, rt, fanout (always in that order)")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the whole run (clients, baseline and in-process server) to this file")
	fs.StringVar(&o.memprofile, "memprofile", "", "write a heap profile to this file while the bertsync idle connections are open")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bertsync bench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	o.ops = splitList(*ops)
	o.phases = map[string]bool{}
	for _, p := range splitList(*phases) {
		o.phases[p] = true
	}
	if err := o.check(); err != nil {
		fmt.Fprintf(stderr, "bertsync bench: %v\n", err)
		return 2
	}
	if err := bench(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "bertsync bench: %v\n", err)
		return 1
	}
	return 0
}

func (o *benchOptions) check() error {
	switch {
	case o.clients < 1 || o.clients > benchMaxClients:
		return fmt.Errorf("--clients must be 1..%d", benchMaxClients)
	case o.duration <= 0 || o.duration > benchMaxDuration:
		return fmt.Errorf("--duration must be positive and at most %v", benchMaxDuration)
	case o.requests < 0 || o.requests > 100_000_000:
		return errors.New("--requests must be 0..100000000")
	case o.subscribers < 1 || o.subscribers > benchMaxConns:
		return fmt.Errorf("--subscribers must be 1..%d", benchMaxConns)
	case o.repeat < 1 || o.repeat > 100:
		return errors.New("--repeat must be 1..100")
	case o.rounds < 1 || o.rounds > benchMaxRounds:
		return fmt.Errorf("--rounds must be 1..%d", benchMaxRounds)
	case o.idle < 1 || o.idle > benchMaxConns:
		return fmt.Errorf("--idle must be 1..%d", benchMaxConns)
	}
	for _, op := range o.ops {
		if op != "read" && op != "create" {
			return fmt.Errorf("--ops: unknown request %q (want read, create)", op)
		}
	}
	for p := range o.phases {
		if p != "rt" && p != "fanout" && p != "idle" {
			return fmt.Errorf("--phases: unknown phase %q (want rt, fanout, idle)", p)
		}
	}
	if o.url != "" {
		u, err := url.Parse(o.url)
		if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			return fmt.Errorf("--url %q: want ws://HOST:PORT/PATH", o.url)
		}
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// bench runs the phases and prints the report.
func bench(ctx context.Context, o benchOptions, stdout, stderr io.Writer) error {
	raiseFileLimit(stderr)
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	base, err := startBaseline()
	if err != nil {
		return fmt.Errorf("baseline server: %w", err)
	}
	defer base.close()

	target := o.url
	where := "running server " + o.url
	if target == "" {
		srv, err := startInProcess(ctx, o.data)
		if err != nil {
			return fmt.Errorf("in-process server: %w", err)
		}
		defer srv.stop()
		target = "ws://" + srv.addr + "/bullet"
		where = fmt.Sprintf("in-process server (bertsync serve --data %s)", srv.data)
	}

	fmt.Fprintf(stdout, "bertsync bench, %s, %s %s/%s, %d CPUs (GOMAXPROCS %d)\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.Version(), runtime.GOOS, runtime.GOARCH,
		runtime.NumCPU(), runtime.GOMAXPROCS(0))
	fmt.Fprintf(stdout, "bertsync: %s; baseline: gorilla/websocket %s\n\n", where, base.addr)

	// Idle first: its figures are cleanest on a fresh heap.
	if o.phases["idle"] {
		if err := benchIdle(ctx, o, target, base, stdout); err != nil {
			return err
		}
	}
	if o.phases["rt"] {
		if err := benchRoundTrips(ctx, o, target, "ws://"+base.addr+"/echo", stdout); err != nil {
			return err
		}
	}
	if o.phases["fanout"] {
		if err := benchFanout(ctx, o, target, "ws://"+base.addr+"/hub", stdout); err != nil {
			return err
		}
	}
	return nil
}

// raiseFileLimit lifts the soft limit on open files to the hard limit:
// every connection costs two descriptors when the server is in-process.
func raiseFileLimit(stderr io.Writer) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			fmt.Fprintf(stderr, "bertsync bench: raising the open-file limit: %v\n", err)
		}
	}
}

// inProcess is a `bertsync serve` running in this process.
type inProcess struct {
	addr   string
	data   string
	temp   bool
	cancel context.CancelFunc
	done   chan int
	log    *logWatch
}

// startInProcess runs runServe on 127.0.0.1:0 and waits for its
// "listening" log line.
func startInProcess(ctx context.Context, data string) (*inProcess, error) {
	p := &inProcess{data: data, done: make(chan int, 1), log: newLogWatch()}
	if p.data == "" {
		dir, err := os.MkdirTemp("", "bertsync-bench-")
		if err != nil {
			return nil, err
		}
		p.data, p.temp = dir, true
	}
	sctx, cancel := context.WithCancel(ctx)
	p.cancel = cancel
	args := []string{"--addr", "127.0.0.1:0", "--data", p.data}
	go func() { p.done <- runServe(sctx, args, strings.NewReader(""), io.Discard, p.log) }()
	select {
	case p.addr = <-p.log.addr:
		return p, nil
	case code := <-p.done:
		p.cleanup()
		return nil, fmt.Errorf("serve exited with status %d: %s", code, p.log.tail())
	case <-time.After(benchPhaseTimeout):
		p.stop()
		return nil, fmt.Errorf("serve did not log msg=listening: %s", p.log.tail())
	}
}

func (p *inProcess) stop() {
	p.cancel()
	select {
	case <-p.done:
	case <-time.After(benchPhaseTimeout):
	}
	p.cleanup()
}

func (p *inProcess) cleanup() {
	if p.temp {
		os.RemoveAll(p.data)
	}
}

// logWatch is the in-process server's log output: it finds the listening
// address and keeps the last few KiB for error messages.
type logWatch struct {
	mu    sync.Mutex
	buf   []byte
	found bool
	addr  chan string
}

var listeningRE = regexp.MustCompile(`msg=listening .*?addr=(\S+)`)

func newLogWatch() *logWatch { return &logWatch{addr: make(chan string, 1)} }

func (w *logWatch) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	if !w.found {
		if m := listeningRE.FindSubmatch(w.buf); m != nil {
			w.found = true
			w.addr <- strings.Trim(string(m[1]), `"`)
		}
	}
	if len(w.buf) > 16<<10 {
		w.buf = append(w.buf[:0], w.buf[len(w.buf)-8<<10:]...)
	}
	return len(b), nil
}

func (w *logWatch) tail() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf)
}
