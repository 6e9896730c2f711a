package bench

import (
	"context"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bertsync/bertsync/auth"
	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/gateway"
	"github.com/bertsync/bertsync/models"
)

// serveGateway runs the gateway the way `bertsync serve` does, with a
// text log and, given sa, its secret and rules files, for the in-process
// runs of these tests.
func serveGateway(ctx context.Context, addr, dataDir string, sa *ServeAuth, log io.Writer) error {
	cfg := gateway.ServeConfig{
		Addr:    addr,
		DataDir: dataDir,
		Logger:  slog.New(slog.NewTextHandler(log, nil)),
	}
	if sa != nil {
		secret, err := auth.ReadSecretFile(sa.SecretFile)
		if err != nil {
			return err
		}
		jwt, err := auth.NewJWT(auth.JWTConfig{Secret: secret})
		if err != nil {
			return err
		}
		data, err := os.ReadFile(sa.RulesFile)
		if err != nil {
			return err
		}
		if cfg.Actors.Rules, err = models.ParseRules(data); err != nil {
			return err
		}
		cfg.Gateway.Authenticator = jwt
	}
	return gateway.ListenAndServe(ctx, cfg)
}

// small is a valid config of tiny sizes against the in-process server.
func small(t *testing.T) Config {
	return Config{
		Serve: serveGateway, Data: t.TempDir(),
		Clients: 2, Duration: time.Second, Requests: 40, Repeat: 1, Ops: []string{"read", "create"},
		Subscribers: 20, Rounds: 3, Idle: 20, Types: 2, Phases: []string{"idle", "rt", "fanout", "commit", "auth"},
	}
}

// TestRunSmoke runs every phase at a tiny size against the in-process
// server: the figures are not checked (they depend on the machine), only
// that each phase completes and reports.
func TestRunSmoke(t *testing.T) {
	var out, errb strings.Builder
	if err := Run(t.Context(), small(t), &out, &errb); err != nil {
		t.Fatalf("Run: %v\nstderr: %s\n%s", err, errb.String(), out.String())
	}
	for _, want := range []string{
		"Idle connections: 20", "bertsync (WebSocket session, idle)", "gorilla echo (one goroutine",
		"Round trips: 2 clients", "bertsync {sync, read", "bertsync {sync, create",
		"Fan-out: one update pushed to 20 subscribers, 3 rounds", "gorilla broadcast hub",
		"Auth: read round trips on anonymous and JWT connections", "anonymous {sync, read", "JWT (HS256, Authorization: Bearer)",
		"Group commit: creates", "bertsync, 1 client, one type", "bertsync, 2 clients, one type", "bertsync, 2 clients over 2 types",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	// A figure this system cannot give comes with its reason.
	if _, err := processCPU(); err != nil && !strings.Contains(out.String(), "(trips/CPU-s: "+err.Error()) {
		t.Errorf("no CPU time here (%v), and the output does not say so:\n%s", err, out.String())
	}
	if _, err := rssOf(os.Getpid()); err != nil && !strings.Contains(out.String(), "(RSS column: "+err.Error()) {
		t.Errorf("no RSS here (%v), and the output does not say so:\n%s", err, out.String())
	}
}

// TestRunPhases runs one phase alone: the others print nothing.
func TestRunPhases(t *testing.T) {
	cfg := small(t)
	cfg.Phases = []string{"rt"}
	cfg.Ops = []string{"read"}
	var out, errb strings.Builder
	if err := Run(t.Context(), cfg, &out, &errb); err != nil {
		t.Fatalf("Run: %v\nstderr: %s", err, errb.String())
	}
	if s := out.String(); !strings.Contains(s, "Round trips:") || strings.Contains(s, "Idle connections") ||
		strings.Contains(s, "Fan-out") || strings.Contains(s, "bench_created") || strings.Contains(s, "Auth:") {
		t.Errorf("want the round trips of read only:\n%s", s)
	}
}

// TestRunCommit runs the commit phase against the in-process server and
// a second running server to compare with: every load runs on both, and
// the report compares their latencies and rates.
func TestRunCommit(t *testing.T) {
	other, err := startInProcess(t.Context(), serveGateway, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.stop()
	cfg := small(t)
	cfg.Phases = []string{"commit"}
	cfg.Clients, cfg.Types, cfg.Requests, cfg.Repeat = 4, 3, 24, 2
	cfg.CompareURL = "ws://" + other.addr + "/bullet"
	var out, errb strings.Builder
	if err := Run(t.Context(), cfg, &out, &errb); err != nil {
		t.Fatalf("Run: %v\nstderr: %s\n%s", err, errb.String(), out.String())
	}
	s := out.String()
	for _, want := range []string{
		"Group commit: creates", "compare: " + cfg.CompareURL, "gorilla echo, 4 clients",
		"bertsync, 1 client, one type", "bertsync, 4 clients, one type", "bertsync, 4 clients over 3 types",
		"compare, 1 client, one type", "compare, 4 clients, one type", "compare, 4 clients over 3 types",
		"one client's create latency p50, bertsync / compare: ", "one client's create latency p99, bertsync / compare: ",
		"4 clients over 3 types trips/s, bertsync / compare: ", "(load average: ",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "Round trips:") || strings.Contains(s, "Fan-out") {
		t.Errorf("other phases ran:\n%s", s)
	}
	// Each load made its documents on its own types of the compared
	// server too.
	c, err := dial(t.Context(), cfg.CompareURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, model := range []string{"bench_gc_one", "bench_gc", "bench_gc_0", "bench_gc_1", "bench_gc_2"} {
		reply, err := call(c, marshal(bert.Tuple{bert.Atom("sync"), bert.Atom("read"), bert.Atom(model), bert.List{}}))
		if err != nil {
			t.Fatal(err)
		}
		var term any
		if err := bert.Unmarshal(reply, &term); err != nil {
			t.Fatal(err)
		}
		if tu, ok := term.(bert.Tuple); !ok || len(tu) != 3 || len(asList(tu[2])) == 0 {
			t.Errorf("%s of the compared server holds no document: %v", model, term)
		}
	}
}

func asList(v any) bert.List {
	l, _ := v.(bert.List)
	return l
}

// TestExplainReply names a rate limit as the likely cause of a refusal.
func TestExplainReply(t *testing.T) {
	reply := marshal(bert.Tuple{bert.Atom("sync"), bert.Atom("error"), bert.Tuple{bert.Atom("rate_limited"), []byte("slow down")}})
	err := explainReply(io.ErrUnexpectedEOF, reply)
	if err == nil || !strings.Contains(err.Error(), "rate_limited") || !strings.Contains(err.Error(), "--rate-limit") {
		t.Errorf("explainReply: %v", err)
	}
	if explainReply(nil, reply) != nil {
		t.Errorf("explainReply(nil) is not nil")
	}
}

// TestRunServeFails reports a server that exits before it listens, with
// its log.
func TestRunServeFails(t *testing.T) {
	cfg := small(t)
	cfg.Serve = func(_ context.Context, _, _ string, _ *ServeAuth, log io.Writer) error {
		io.WriteString(log, "level=ERROR msg=\"no store\"\n")
		return io.ErrUnexpectedEOF
	}
	err := Run(t.Context(), cfg, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "in-process server: unexpected EOF") || !strings.Contains(err.Error(), `msg="no store"`) {
		t.Fatalf("Run: %v, want the serve error and its log", err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"clients", func(c *Config) { c.Clients = 0 }, "--clients must be 1..10000"},
		{"subscribers", func(c *Config) { c.Subscribers = -1 }, "--subscribers must be 1..50000"},
		{"idle", func(c *Config) { c.Idle = 1000000 }, "--idle must be 1..50000"},
		{"ops", func(c *Config) { c.Ops = []string{"read", "delete"} }, `--ops: unknown request "delete"`},
		{"phases", func(c *Config) { c.Phases = []string{"everything"} }, `--phases: unknown phase "everything"`},
		{"url", func(c *Config) { c.URL = "http://x/bullet" }, `--url "http://x/bullet": want ws://HOST:PORT/PATH`},
		{"auth with url", func(c *Config) { c.URL = "ws://127.0.0.1:1/bullet" }, "--phases auth starts a server of its own"},
		{"duration", func(c *Config) { c.Duration = 0 }, "--duration must be positive and at most 10m0s"},
		{"requests", func(c *Config) { c.Requests = -1 }, "--requests must be 0..100000000"},
		{"repeat", func(c *Config) { c.Repeat = 101 }, "--repeat must be 1..100"},
		{"rounds", func(c *Config) { c.Rounds = 0 }, "--rounds must be 1..10000"},
		{"no server", func(c *Config) { c.Serve = nil }, "no server"},
		{"zero", func(c *Config) { *c = Config{} }, "--clients"},
		{"types", func(c *Config) { c.Types = 0 }, "--types must be 1..1000"},
		{"compare without commit", func(c *Config) { c.Phases = []string{"rt"}; c.CompareURL = "ws://127.0.0.1:1/bullet" }, "--compare-url is a server for the commit phase"},
		{"compare url", func(c *Config) { c.CompareURL = "127.0.0.1:1" }, `--compare-url "127.0.0.1:1": want ws://HOST:PORT/PATH`},
	} {
		cfg := small(t)
		tc.edit(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate() = %v, want %q", tc.name, err, tc.want)
		}
		if err := Run(t.Context(), cfg, io.Discard, io.Discard); err == nil {
			t.Errorf("%s: Run ran an invalid config", tc.name)
		}
	}
	cfg := small(t)
	cfg.Serve, cfg.URL, cfg.Phases = nil, "ws://127.0.0.1:1/bullet", []string{"idle", "rt", "fanout"}
	if err := cfg.Validate(); err != nil {
		t.Errorf("a URL needs no Serve: %v", err)
	}
	if err := small(t).Validate(); err != nil {
		t.Errorf("small config: %v", err)
	}
}

func TestRoundProp(t *testing.T) {
	for _, r := range []int{0, 7, 13, 255, 256, 9999} {
		msg := marshal(roundTerm(r))
		got, ok := roundProp(msg)
		if !ok || got != r {
			t.Errorf("round %d: got %d, %v", r, got, ok)
		}
		if err := roundCheck(msg); err != nil {
			t.Errorf("round %d: %v", r, err)
		}
	}
}

// TestLogWatch finds the address however the log line is split across
// writes, quoted or not.
func TestLogWatch(t *testing.T) {
	for _, writes := range [][]string{
		{"time=x level=INFO msg=listening addr=127.0.0.1:4321 path=/bullet\n"},
		{"level=INFO msg=starting\nlevel=INFO msg=list", "ening addr=\"127.0.0.1:4321\"", " path=/bullet\n"},
	} {
		w := newLogWatch()
		for _, s := range writes {
			w.Write([]byte(s))
		}
		select {
		case got := <-w.addr:
			if got != "127.0.0.1:4321" {
				t.Errorf("%q: addr %q", writes, got)
			}
		default:
			t.Errorf("%q: no address", writes)
		}
	}
}

// TestCPUTime reads this process's CPU time where the system gives it
// and otherwise says which system does not.
func TestCPUTime(t *testing.T) {
	d0, err := processCPU()
	if err != nil {
		if !strings.Contains(err.Error(), runtime.GOOS) {
			t.Fatalf("processCPU: %v, want the reason naming %s", err, runtime.GOOS)
		}
		if clock, cerr := cpuClock(small(t)); clock != nil || cerr == nil {
			t.Fatalf("cpuClock without a CPU time: %v, %v", clock != nil, cerr)
		}
		return
	}
	// Spin until the clock moves: it counts at least microseconds.
	limit := time.Now().Add(10 * time.Second)
	for d, err := processCPU(); d <= d0; d, err = processCPU() {
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().After(limit) {
			t.Fatalf("the CPU clock stayed at %v for 10 s of spinning", d)
		}
	}
	if clock, err := cpuClock(small(t)); clock == nil || err != nil {
		t.Fatalf("cpuClock in process: %v", err)
	}
	if _, err := cpuClock(Config{URL: "ws://127.0.0.1:1/bullet"}); err != errNoPID {
		t.Errorf("cpuClock with a URL and no PID: %v, want errNoPID", err)
	}
}

// TestOtherProcess reads RSS and CPU time from /proc on Linux, and says
// elsewhere that the figures are unavailable.
func TestOtherProcess(t *testing.T) {
	pid := os.Getpid()
	rss, rssErr := rssOf(pid)
	_, cpuErr := pidCPU(pid)
	if runtime.GOOS == "linux" {
		if rssErr != nil || rss == 0 {
			t.Errorf("rssOf(self) = %d, %v", rss, rssErr)
		}
		if cpuErr != nil {
			t.Errorf("pidCPU(self): %v", cpuErr)
		}
		if _, err := pidCPU(-1); err == nil {
			t.Errorf("pidCPU(-1) succeeded")
		}
		return
	}
	for _, err := range []error{rssErr, cpuErr} {
		if err == nil || !strings.Contains(err.Error(), runtime.GOOS) {
			t.Errorf("on %s: %v, want the reason naming it", runtime.GOOS, err)
		}
	}
}
