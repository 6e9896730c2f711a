package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/bert/erltext"
)

// The commit phase measures the group commit (issue 9): creates, each a
// committed write with fsync before its reply, from one client, from
// cfg.Clients clients on one model type, and from cfg.Clients clients
// spread evenly over cfg.Types types (client i on type i mod Types).
// Every run is compared with the gorilla echo of the same create bytes by
// as many clients, run before and after it, and the many-client runs
// with the one-client run of the same repetition: that ratio is what
// grouping the commits gains. One client's create latency (p50, p99) is
// the figure a lone writer sees, which group commit must not make worse:
// with cfg.CompareURL, another server (the previous release) gets the
// same runs, each right after this server's, and the report gives this
// server's latency over that one's.

// commitTypePrefix names the types the phase creates on.
const commitTypePrefix = "bench_gc"

// commitLoad is one kind of run of the commit phase.
type commitLoad struct {
	label   string
	clients int
	types   int // 0: the one-client type
}

// commitRun is one run: its round trips and their latencies, sorted.
type commitRun struct {
	trips   int64
	elapsed time.Duration
	lat     []time.Duration
}

func (r commitRun) rate() float64 { return float64(r.trips) / r.elapsed.Seconds() }

func (r commitRun) pct(p float64) time.Duration { return fanoutStats{lat: r.lat}.pct(p) }

// commitCreate is the create request of type name: a new document whose
// id the server chooses, the attributes of the read phase's document.
func commitCreate(name string) []byte {
	return marshal(bert.Tuple{bert.Atom("sync"), bert.Atom("create"), bert.Atom(name), readDoc[1:]})
}

// commitMessages returns the request of each of load's clients.
func commitMessages(load commitLoad) [][]byte {
	msgs := make([][]byte, load.clients)
	for i := range msgs {
		switch {
		case load.types == 0:
			msgs[i] = commitCreate(commitTypePrefix + "_one")
		case load.types == 1:
			msgs[i] = commitCreate(commitTypePrefix)
		default:
			msgs[i] = commitCreate(fmt.Sprintf("%s_%d", commitTypePrefix, i%load.types))
		}
	}
	return msgs
}

// commitRoundTrips runs one connection per message of msgs, each sending
// its message and waiting for the reply, again and again, for the
// duration or the request count, and keeps every round trip's latency.
// With echo the replies must be the messages; otherwise {sync, ok, _}.
func commitRoundTrips(ctx context.Context, cfg Config, target string, msgs [][]byte, echo bool) (commitRun, error) {
	conns, err := dialMany(ctx, target, nil, len(msgs), nil)
	if err != nil {
		return commitRun{}, err
	}
	defer closeAll(conns)
	check := func(i int, reply []byte, full bool) error {
		switch {
		case echo && full:
			return checkEcho(msgs[i])(reply)
		case echo:
			if string(reply) != string(msgs[i]) {
				return fmt.Errorf("echo returned % x", reply[:min(len(reply), 64)])
			}
			return nil
		case full:
			return explainReply(checkOK(reply), reply)
		case !isOK(reply):
			return explainReply(errors.New("not {sync, ok, _}"), reply)
		}
		return nil
	}
	// One warm-up call per connection, fully checked: it also makes the
	// types the run creates on.
	for i, c := range conns {
		reply, err := call(c, msgs[i])
		if err == nil {
			err = check(i, reply, true)
		}
		if err != nil {
			return commitRun{}, fmt.Errorf("warm-up: %w", err)
		}
	}
	res, _, err := closedLoop(ctx, cfg, conns, msgs, func(i int, reply []byte, err error) error {
		if err != nil {
			return err
		}
		return check(i, reply, false)
	})
	return res, err
}

// closedLoop has each connection of conns send its message of msgs and
// wait for the reply, again and again, for cfg.Duration or cfg.Requests,
// and keeps every round trip's latency; check vets each reply of
// connection i, or the error of its call, and its first error stops the
// run. It also returns how
// many calls each connection had answered.
func closedLoop(ctx context.Context, cfg Config, conns []*websocket.Conn, msgs [][]byte, check func(i int, reply []byte, err error) error) (commitRun, []int64, error) {
	perClient := 0
	if cfg.Requests > 0 {
		perClient = max(1, cfg.Requests/len(conns))
	}
	lats := make([][]time.Duration, len(conns))
	var firstErr error
	var errOnce sync.Once
	var stop atomic.Bool
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	if perClient > 0 {
		deadline = start.Add(maxDuration)
	}
	for i, c := range conns {
		wg.Go(func() {
			lat := make([]time.Duration, 0, 1024)
			defer func() { lats[i] = lat }()
			for n := 0; perClient == 0 || n < perClient; n++ {
				t0 := time.Now()
				if stop.Load() || ctx.Err() != nil || t0.After(deadline) {
					return
				}
				reply, err := call(c, msgs[i])
				if err = check(i, reply, err); err != nil {
					errOnce.Do(func() { firstErr = err })
					stop.Store(true)
					return
				}
				lat = append(lat, time.Since(t0))
			}
		})
	}
	wg.Wait()
	answered := make([]int64, len(conns))
	for i, lat := range lats {
		answered[i] = int64(len(lat))
	}
	res := commitRun{elapsed: time.Since(start), lat: slices.Concat(lats...)}
	res.trips = int64(len(res.lat))
	slices.Sort(res.lat)
	if firstErr != nil {
		return res, answered, firstErr
	}
	return res, answered, ctx.Err()
}

// explainReply adds to err what the reply was, with a hint for the usual
// cause of a refusal: a running server's rate limit.
func explainReply(err error, reply []byte) error {
	if err == nil {
		return nil
	}
	var term any
	if bert.Unmarshal(reply, &term) != nil {
		return err
	}
	s, _ := erltext.Format(term)
	if t, ok := term.(bert.Tuple); ok && len(t) >= 3 && t[1] == bert.Atom("error") {
		if reason, ok := t[2].(bert.Tuple); ok && len(reason) == 2 && reason[0] == bert.Atom("rate_limited") {
			return fmt.Errorf("%w: %s (start the server with --rate-limit 1000000000)", err, s)
		}
	}
	return fmt.Errorf("%w: %s", err, s)
}

// commitSeries are the figures of one server over the repetitions.
type commitSeries struct {
	rates   [][]float64 // [load][rep]
	vsEcho  [][]float64
	vsOne   [][]float64
	p50s    [][]time.Duration
	p99s    [][]time.Duration
	oneP50s []time.Duration // of the one-client load, by rep
	oneP99s []time.Duration
}

func newCommitSeries(loads int) *commitSeries {
	return &commitSeries{
		rates: make([][]float64, loads), vsEcho: make([][]float64, loads), vsOne: make([][]float64, loads),
		p50s: make([][]time.Duration, loads), p99s: make([][]time.Duration, loads),
	}
}

// commitPhase is the commit phase.
func commitPhase(ctx context.Context, cfg Config, target, echoURL string, out io.Writer) error {
	loads := []commitLoad{
		{label: "1 client, one type", clients: 1},
		{label: fmt.Sprintf("%d clients, one type", cfg.Clients), clients: cfg.Clients, types: 1},
		{label: fmt.Sprintf("%d clients over %d types", cfg.Clients, cfg.Types), clients: cfg.Clients, types: cfg.Types},
	}
	servers := []struct {
		name, url string
		s         *commitSeries
	}{{"bertsync", target, newCommitSeries(len(loads))}}
	if cfg.CompareURL != "" {
		servers = append(servers, struct {
			name, url string
			s         *commitSeries
		}{"compare", cfg.CompareURL, newCommitSeries(len(loads))})
	}
	echoMsgs := commitMessages(commitLoad{clients: cfg.Clients, types: 1})

	how := fmt.Sprintf("%v per run", cfg.Duration)
	if cfg.Requests > 0 {
		how = fmt.Sprintf("%d requests per run, spread over its clients", cfg.Requests)
	}
	load0 := loadAverage()
	fmt.Fprintf(out, "Group commit: creates (a committed write each), one request in flight per client, binary frames, %s, %d repetitions\n", how, cfg.Repeat)
	if cfg.CompareURL != "" {
		fmt.Fprintf(out, "  compare: %s, each of its runs right after the same run of bertsync\n", cfg.CompareURL)
	}
	// echo, then each load on each server, cfg.Repeat times, and echo to
	// close: each run against the mean of the echo runs on either side.
	var echo []float64
	var echoP50, echoP99 []time.Duration
	for rep := 0; rep <= cfg.Repeat; rep++ {
		r, err := commitRoundTrips(ctx, cfg, echoURL, echoMsgs, true)
		if err != nil {
			return fmt.Errorf("group commit, echo: %w", err)
		}
		echo = append(echo, r.rate())
		echoP50, echoP99 = append(echoP50, r.pct(0.5)), append(echoP99, r.pct(0.99))
		if rep > 0 {
			ref := (echo[rep-1] + echo[rep]) / 2
			for _, srv := range servers {
				for i := range loads {
					srv.s.vsEcho[i] = append(srv.s.vsEcho[i], srv.s.rates[i][rep-1]/ref)
				}
			}
		}
		if rep == cfg.Repeat {
			break
		}
		for i, load := range loads {
			msgs := commitMessages(load)
			for _, srv := range servers {
				r, err := commitRoundTrips(ctx, cfg, srv.url, msgs, false)
				if err != nil {
					return fmt.Errorf("group commit, %s, %s: %w", srv.name, load.label, err)
				}
				s := srv.s
				s.rates[i] = append(s.rates[i], r.rate())
				s.vsOne[i] = append(s.vsOne[i], r.rate()/s.rates[0][rep])
				s.p50s[i], s.p99s[i] = append(s.p50s[i], r.pct(0.5)), append(s.p99s[i], r.pct(0.99))
			}
		}
	}

	fmt.Fprintf(out, "  %-46s %10s %8s %12s %8s %10s %10s\n", "target", "trips/s", "vs echo", "(min-max)", "vs 1", "p50", "p99")
	fmt.Fprintf(out, "  %-46s %10.0f %7.2fx %12s %8s %10s %10s\n", fmt.Sprintf("gorilla echo, %d clients (the create bytes)", cfg.Clients),
		median(echo), 1.0, fmt.Sprintf("(%.0fk-%.0fk)", slices.Min(echo)/1000, slices.Max(echo)/1000), "-",
		millis(medianDuration(echoP50)), millis(medianDuration(echoP99)))
	for _, srv := range servers {
		for i, load := range loads {
			s := srv.s
			fmt.Fprintf(out, "  %-46s %10.0f %7.3fx %12s %7.2fx %10s %10s\n", srv.name+", "+load.label,
				median(s.rates[i]), median(s.vsEcho[i]), fmt.Sprintf("(%.3f-%.3f)", slices.Min(s.vsEcho[i]), slices.Max(s.vsEcho[i])),
				median(s.vsOne[i]), millis(medianDuration(s.p50s[i])), millis(medianDuration(s.p99s[i])))
		}
	}
	if len(servers) > 1 {
		cur, old := servers[0].s, servers[1].s
		for _, q := range []struct {
			name     string
			cur, old []time.Duration
		}{{"p50", cur.p50s[0], old.p50s[0]}, {"p99", cur.p99s[0], old.p99s[0]}} {
			ratios := make([]float64, len(q.cur))
			for i := range ratios {
				ratios[i] = float64(q.cur[i]) / float64(q.old[i])
			}
			fmt.Fprintf(out, "  one client's create latency %s, bertsync / compare: %.2fx (%.2f-%.2f)\n",
				q.name, median(ratios), slices.Min(ratios), slices.Max(ratios))
		}
		for i, load := range loads[1:] {
			ratios := make([]float64, cfg.Repeat)
			for rep := range ratios {
				ratios[rep] = cur.rates[i+1][rep] / old.rates[i+1][rep]
			}
			fmt.Fprintf(out, "  %s trips/s, bertsync / compare: %.2fx (%.2f-%.2f)\n", load.label, median(ratios), slices.Min(ratios), slices.Max(ratios))
		}
	}
	fmt.Fprintf(out, "  (medians of %d runs; vs echo: against the mean of the echo runs around it; vs 1: against the one-client run of the\n", cfg.Repeat)
	fmt.Fprintf(out, "   same repetition; latencies from send to reply; targets: %d clients >= 0.25x echo on one type and over %d types,\n", cfg.Clients, cfg.Types)
	fmt.Fprintf(out, "   one client's latency no worse than the previous release's (--compare-url))\n")
	fmt.Fprintf(out, "  (load average: %s before, %s after)\n\n", load0, loadAverage())
	return nil
}

// medianDuration is the median of a non-empty slice of durations.
func medianDuration(ds []time.Duration) time.Duration {
	xs := make([]float64, len(ds))
	for i, d := range ds {
		xs[i] = float64(d)
	}
	return time.Duration(median(xs))
}
