package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bertsync/bertsync/bert"
)

// rtResult is one round-trip run.
type rtResult struct {
	trips   int64
	elapsed time.Duration
	cpu     time.Duration // CPU time of this whole process (clients and servers) during the run
}

func (r rtResult) rate() float64 { return float64(r.trips) / r.elapsed.Seconds() }

// cpuRate is round trips per CPU second: what the rate would be with one
// core to itself. On a machine shared with other work the wall-clock rate
// follows the load; this one much less.
func (r rtResult) cpuRate() float64 {
	if r.cpu <= 0 {
		return 0
	}
	return float64(r.trips) / r.cpu.Seconds()
}

// roundTrips runs cfg.Clients connections, opened with the handshake
// headers hdr (nil: none), that each send msg and wait for the reply,
// again and again, for the duration or the request count. check
// validates the first reply on each connection fully, fast every later
// one. cpuClock, if not nil, measures the run's CPU time.
func roundTrips(ctx context.Context, cfg Config, target string, hdr http.Header, msg []byte, check func([]byte) error, fast func([]byte) bool, cpuClock func() time.Duration) (rtResult, error) {
	conns, err := dialMany(ctx, target, hdr, cfg.Clients, nil)
	if err != nil {
		return rtResult{}, err
	}
	defer closeAll(conns)
	// One warm-up call per connection, fully checked.
	for _, c := range conns {
		reply, err := call(c, msg)
		if err != nil {
			return rtResult{}, fmt.Errorf("warm-up: %w", err)
		}
		if err := check(reply); err != nil {
			return rtResult{}, err
		}
	}
	perClient := 0
	if cfg.Requests > 0 {
		perClient = max(1, cfg.Requests/cfg.Clients)
	}
	var trips atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var stop atomic.Bool
	var wg sync.WaitGroup
	var cpu0 time.Duration
	if cpuClock != nil {
		cpu0 = cpuClock()
	}
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	if perClient > 0 {
		deadline = start.Add(maxDuration)
	}
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; perClient == 0 || n < perClient; n++ {
				if stop.Load() || ctx.Err() != nil || time.Now().After(deadline) {
					return
				}
				reply, err := call(c, msg)
				if err == nil && !fast(reply) {
					err = fmt.Errorf("unexpected reply % x", reply[:min(len(reply), 64)])
				}
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					stop.Store(true)
					return
				}
				trips.Add(1)
			}
		}()
	}
	wg.Wait()
	res := rtResult{trips: trips.Load(), elapsed: time.Since(start)}
	if cpuClock != nil {
		res.cpu = cpuClock() - cpu0
	}
	if firstErr != nil {
		return res, firstErr
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	return res, nil
}

// readModel and readDoc are the document the read round trips read, by
// readRequest.
var (
	readModel = bert.Atom("bench_item")
	readDoc   = bert.List{
		bert.Tuple{bert.Atom("id"), []byte("bench-1")},
		bert.Tuple{bert.Atom("name"), []byte("Frodo Baggins")},
		bert.Tuple{bert.Atom("level"), int64(42)},
		bert.Tuple{bert.Atom("tags"), bert.List{[]byte("hobbit"), []byte("ring-bearer")}},
	}
	readRequest = marshal(bert.Tuple{bert.Atom("sync"), bert.Atom("read"), readModel, bert.List{bert.Tuple{bert.Atom("id"), []byte("bench-1")}}})
)

// roundTripPhase is the round-trip phase.
func roundTripPhase(ctx context.Context, cfg Config, target, echoURL string, out io.Writer) error {
	if err := ensure(ctx, target, readModel, readDoc); err != nil {
		return fmt.Errorf("storing the document the reads read: %w", err)
	}

	read := readRequest
	create := marshal(bert.Tuple{bert.Atom("sync"), bert.Atom("create"), bert.Atom("bench_created"), readDoc[1:]})

	clock, cpuErr := cpuClock(cfg)
	run := func(label, url string, msg []byte, check func([]byte) error) (rtResult, error) {
		fast := isOK
		if url == echoURL {
			fast = func(b []byte) bool { return bytes.Equal(b, msg) }
		}
		r, err := roundTrips(ctx, cfg, url, nil, msg, check, fast, clock)
		if err != nil {
			return r, fmt.Errorf("round trips, %s: %w", label, err)
		}
		return r, nil
	}
	how := fmt.Sprintf("%v per run", cfg.Duration)
	if cfg.Requests > 0 {
		how = fmt.Sprintf("%d requests per run", max(1, cfg.Requests/cfg.Clients)*cfg.Clients)
	}
	fmt.Fprintf(out, "Round trips: %d clients, one request in flight per client, binary frames, %s, %d repetitions\n", cfg.Clients, how, cfg.Repeat)
	// The runs alternate: echo, then each bertsync request, then echo
	// again, cfg.Repeat times. Each bertsync run is compared with the mean
	// of the echo runs on either side of it, so that a change in the
	// machine's load during the run moves both sides of a ratio.
	var echo, echoCPU []float64
	rates := make([][]float64, len(cfg.Ops))
	ratios := make([][]float64, len(cfg.Ops))
	cpuRates := make([][]float64, len(cfg.Ops))
	cpuRatios := make([][]float64, len(cfg.Ops))
	for rep := 0; rep <= cfg.Repeat; rep++ {
		r, err := run("echo", echoURL, read, checkEcho(read))
		if err != nil {
			return err
		}
		echo, echoCPU = append(echo, r.rate()), append(echoCPU, r.cpuRate())
		if rep > 0 {
			ref := (echo[rep-1] + echo[rep]) / 2
			refCPU := (echoCPU[rep-1] + echoCPU[rep]) / 2
			for i := range cfg.Ops {
				ratios[i] = append(ratios[i], rates[i][rep-1]/ref)
				cpuRatios[i] = append(cpuRatios[i], cpuRates[i][rep-1]/refCPU)
			}
		}
		if rep == cfg.Repeat {
			break
		}
		for i, op := range cfg.Ops {
			msg := read
			if op == "create" {
				msg = create
			}
			r, err := run(op, target, msg, checkOK)
			if err != nil {
				return err
			}
			rates[i] = append(rates[i], r.rate())
			cpuRates[i] = append(cpuRates[i], r.cpuRate())
		}
	}
	cpuCols := func(rate, ratio float64) string {
		if clock == nil || rate <= 0 {
			return fmt.Sprintf("%14s %8s", "-", "-")
		}
		return fmt.Sprintf("%14.0f %7.2fx", rate, ratio)
	}
	fmt.Fprintf(out, "  %-44s %10s %8s %12s %14s %8s\n", "target", "trips/s", "vs echo", "(min-max)", "trips/CPU-s", "vs echo")
	fmt.Fprintf(out, "  %-44s %10.0f %7.2fx %12s %s\n", "gorilla echo (the same request bytes back)",
		median(echo), 1.0, fmt.Sprintf("(%.0fk-%.0fk)", slices.Min(echo)/1000, slices.Max(echo)/1000), cpuCols(median(echoCPU), 1))
	for i, op := range cfg.Ops {
		label := "bertsync {sync, read, bench_item, [{id, _}]}"
		if op == "create" {
			label = "bertsync {sync, create, bench_created, Props}"
		}
		fmt.Fprintf(out, "  %-44s %10.0f %7.2fx %12s %s\n", label, median(rates[i]), median(ratios[i]),
			fmt.Sprintf("(%.2f-%.2f)", slices.Min(ratios[i]), slices.Max(ratios[i])), cpuCols(median(cpuRates[i]), median(cpuRatios[i])))
	}
	fmt.Fprintf(out, "  (medians of %d runs, each bertsync run against the mean of the echo runs around it; trips/CPU-s counts the CPU\n", cfg.Repeat)
	fmt.Fprintf(out, "   time of the clients and the server under test together (--url needs --pid); target: bertsync read >= 0.50x echo)\n")
	if cpuErr != nil && !errors.Is(cpuErr, errNoPID) {
		fmt.Fprintf(out, "  (trips/CPU-s: %v)\n", cpuErr)
	}
	fmt.Fprintln(out)
	return nil
}

// median of a non-empty slice.
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
