package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/bertsync/bertsync/internal/bench"
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
  commit        only with --phases commit: creates (a committed write each)
                from one client, from --clients on one model type and from
                --clients spread over --types types, against the echo of
                the same bytes by as many clients and against the
                one-client run; one client's create latency p50/p99, and
                with --compare-url the same runs against another running
                server (the previous release), each right after this one's
  auth          only with --phases auth: read round trips on connections
                opened with a JWT against anonymous ones, alternating, on
                a server of its own started with --jwt-secret-file
  cluster       only with --phases cluster: --cluster-nodes serve processes
                (children of the bench) on one PostgreSQL database
                (--pg-url, else a server the bench starts); push latency
                p50/p99 to --subscribers spread over the nodes from a
                writer on node 1, against one node alone on another
                database of the same server; durable creates/s from
                --clients spread over the nodes, against pgbench inserts
                on the same server; fails on a lost or duplicated push

With no --url the server runs in this process (bertsync serve on a
temporary --data directory and 127.0.0.1:0), which is what makes its memory
measurable. With --url ws://HOST:PORT/bullet it loads a running server on
loopback; the idle figures then need --pid (RSS only).

Every phase is bounded in count and in time and the command stops by
itself. Targets from the issues: round trips >= 0.5 x echo, fan-out p99 <
50 ms for 1,000 subscribers, <= 16 KiB per idle connection; creates from
50 clients >= 0.25 x echo on one type and over 10 types, one client's
create latency no worse than the previous release's.

flags:
`

// parseBenchFlags reads the flags of `bertsync bench` into a valid
// bench.Config whose in-process server is runServe. Like the flag package
// it reports a bad flag on stderr itself, so the caller only maps the
// error to an exit status.
func parseBenchFlags(args []string, stderr io.Writer) (bench.Config, error) {
	cfg := bench.Config{Serve: serveInProcess}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, benchUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.URL, "url", "", "Bullet endpoint of a running server, ws://127.0.0.1:PORT/bullet (empty: start one in this process)")
	fs.IntVar(&cfg.PID, "pid", 0, "with --url: the server's process id, to measure its RSS for the idle phase")
	fs.StringVar(&cfg.Data, "data", "", "data directory of the in-process server (empty: a temporary directory, removed afterwards)")
	fs.IntVar(&cfg.Clients, "clients", 50, "concurrent connections of the round-trip phase")
	fs.DurationVar(&cfg.Duration, "duration", 3*time.Second, "length of each round-trip run (ignored with --requests)")
	fs.IntVar(&cfg.Repeat, "repeat", 3, "round-trip repetitions; each bertsync run is compared with the echo runs before and after it")
	fs.IntVar(&cfg.Requests, "requests", 0, "requests per round-trip run, spread over the clients (0: run for --duration)")
	ops := fs.String("ops", "read,create", "bertsync requests of the round-trip phase: read, create")
	fs.IntVar(&cfg.Subscribers, "subscribers", 1000, "subscribers of the fan-out phase")
	fs.IntVar(&cfg.Rounds, "rounds", 20, "updates sent in the fan-out phase, one at a time")
	fs.IntVar(&cfg.Idle, "idle", 1000, "connections of the idle-memory phase")
	fs.IntVar(&cfg.Types, "types", 10, "model types the commit phase's --clients create on in its spread run, client i on type i mod types")
	fs.StringVar(&cfg.CompareURL, "compare-url", "", "commit phase: Bullet endpoint of another running server (the previous release) that gets the same creates, ws://127.0.0.1:PORT/bullet")
	fs.IntVar(&cfg.ClusterNodes, "cluster-nodes", 3, "cluster phase: serve processes on one PostgreSQL database")
	fs.StringVar(&cfg.PGURL, "pg-url", "", "cluster phase: PostgreSQL server of a role that may create databases, postgres://USER@HOST:PORT/DB (empty: start one)")
	phases := fs.String("phases", "idle,rt,fanout", "phases to run: idle, rt, fanout, commit, auth, cluster (always in that order)")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of the whole run (clients, baseline and in-process server) to this file")
	fs.StringVar(&cfg.MemProfile, "memprofile", "", "write a heap profile to this file while the bertsync idle connections are open")
	if err := fs.Parse(args); err != nil {
		return bench.Config{}, err // printed by fs, with the usage
	}
	// The cluster phase's nodes are this binary's `serve`, with the
	// admission limits of the in-process server lifted the same way.
	if exe, err := os.Executable(); err == nil {
		cfg.Executable = exe
	}
	cfg.NodeArgs = benchAdmission
	cfg.Ops = splitFlagList(*ops)
	cfg.Phases = splitFlagList(*phases)
	err := cfg.Validate()
	if fs.NArg() > 0 {
		err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err != nil {
		fmt.Fprintf(stderr, "bertsync bench: %v\n", err)
		return bench.Config{}, err
	}
	return cfg, nil
}

// benchAdmission lifts the limits meant to keep one client from taking
// what the others need: the bench is one client, on one address, with
// up to 50,000 connections and as many requests as each can send. The
// limiters still run, so their cost is measured.
var benchAdmission = []string{
	"--max-conns", "1000000", "--max-conns-per-addr", "1000000", "--max-poll-sessions", "1000000",
	"--rate-limit", "1000000000",
}

// runBench implements `bertsync bench`: 2 for bad flags, 1 when the run
// fails.
func runBench(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cfg, err := parseBenchFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	if err := bench.Run(ctx, cfg, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "bertsync bench: %v\n", err)
		return 1
	}
	return 0
}

// serveInProcess is the bench's in-process server: `bertsync serve
// --addr addr --data dataDir` with every other flag at its default but
// the admission limits (benchAdmission), and auth's files when not nil.
func serveInProcess(ctx context.Context, addr, dataDir string, auth *bench.ServeAuth, log io.Writer) error {
	args := append([]string{"--addr", addr, "--data", dataDir}, benchAdmission...)
	if auth != nil {
		args = append(args, "--jwt-secret-file", auth.SecretFile, "--rules", auth.RulesFile)
	}
	if code := runServe(ctx, args, strings.NewReader(""), io.Discard, log); code != 0 {
		return fmt.Errorf("serve exited with status %d", code)
	}
	return nil
}
