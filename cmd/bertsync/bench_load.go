package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bertsync/bertsync/bert"
	"github.com/gorilla/websocket"
)

// benchDial opens one client connection with a bounded handshake.
func benchDial(ctx context.Context, target string) (*websocket.Conn, error) {
	d := websocket.Dialer{HandshakeTimeout: benchPhaseTimeout}
	conn, _, err := d.DialContext(ctx, target, nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", target, err)
	}
	return conn, nil
}

// benchDialMany opens n connections, at most 64 handshakes at a time, and
// runs setup on each.
func benchDialMany(ctx context.Context, target string, n int, setup func(*websocket.Conn) error) ([]*websocket.Conn, error) {
	conns := make([]*websocket.Conn, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := benchDial(ctx, target)
			if err == nil && setup != nil {
				if err = setup(c); err != nil {
					c.Close()
				}
			}
			conns[i], errs[i] = c, err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			benchCloseAll(conns)
			return nil, fmt.Errorf("connection %d of %d: %w", i+1, n, err)
		}
	}
	return conns, nil
}

func benchCloseAll(conns []*websocket.Conn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

// benchCall sends one binary message and reads the next message.
func benchCall(c *websocket.Conn, msg []byte) ([]byte, error) {
	c.SetWriteDeadline(time.Now().Add(benchPhaseTimeout))
	if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
		return nil, err
	}
	c.SetReadDeadline(time.Now().Add(benchPhaseTimeout))
	_, reply, err := c.ReadMessage()
	return reply, err
}

// benchOKPrefix is how every {sync, ok, …} reply of the BERT-JS profile
// starts: 131, SMALL_TUPLE_EXT of 3 or 4, ATOM_EXT sync, ATOM_EXT ok.
var benchOKTail = []byte{100, 0, 4, 's', 'y', 'n', 'c', 100, 0, 2, 'o', 'k'}

// benchIsOK checks a reply cheaply, so that the client's decoding does not
// dominate what is measured; the first reply of each run is decoded fully.
func benchIsOK(reply []byte) bool {
	return len(reply) > 3+len(benchOKTail) && reply[0] == 131 && reply[1] == 104 && bytes.HasPrefix(reply[3:], benchOKTail)
}

func benchMarshal(term any) []byte {
	b, err := bert.Marshal(term)
	if err != nil {
		panic(fmt.Sprintf("bench: marshal %#v: %v", term, err)) // the bench's own constant terms
	}
	return b
}

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

// processCPU is the user plus system time of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pidCPU is the user plus system time of another process, from
// /proc/PID/stat (Linux; its clock ticks are USER_HZ, 100 per second).
func pidCPU(pid int) (time.Duration, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name (field 2) may hold spaces: count from its ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * (time.Second / 100), true
}

// benchCPU returns the CPU clock of the round-trip phase: this process,
// plus the server's process with --url and --pid. It returns nil when the
// server runs elsewhere and its CPU time is unknown.
func benchCPU(o benchOptions) func() time.Duration {
	switch {
	case o.url == "":
		return processCPU
	case o.pid != 0:
		return func() time.Duration {
			d, _ := pidCPU(o.pid)
			return processCPU() + d
		}
	}
	return nil
}

// roundTrips runs clients connections that each send msg and wait for the
// reply, again and again, for the duration or the request count.
// check validates the first reply on each connection fully, fast every
// later one.
func roundTrips(ctx context.Context, o benchOptions, target string, msg []byte, check func([]byte) error, fast func([]byte) bool) (rtResult, error) {
	conns, err := benchDialMany(ctx, target, o.clients, nil)
	if err != nil {
		return rtResult{}, err
	}
	defer benchCloseAll(conns)
	// One warm-up call per connection, fully checked.
	for _, c := range conns {
		reply, err := benchCall(c, msg)
		if err != nil {
			return rtResult{}, fmt.Errorf("warm-up: %w", err)
		}
		if err := check(reply); err != nil {
			return rtResult{}, err
		}
	}
	perClient := 0
	if o.requests > 0 {
		perClient = max(1, o.requests/o.clients)
	}
	var trips atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var stop atomic.Bool
	var wg sync.WaitGroup
	cpuClock := benchCPU(o)
	var cpu0 time.Duration
	if cpuClock != nil {
		cpu0 = cpuClock()
	}
	start := time.Now()
	deadline := start.Add(o.duration)
	if perClient > 0 {
		deadline = start.Add(benchMaxDuration)
	}
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; perClient == 0 || n < perClient; n++ {
				if stop.Load() || ctx.Err() != nil || time.Now().After(deadline) {
					return
				}
				reply, err := benchCall(c, msg)
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

// benchCheckOK decodes a reply fully and requires {sync, ok, _}.
func benchCheckOK(reply []byte) error {
	var term any
	if err := bert.Unmarshal(reply, &term); err != nil {
		return fmt.Errorf("reply % x: %w", reply, err)
	}
	if t, ok := term.(bert.Tuple); !ok || len(t) != 3 || t[1] != bert.Atom("ok") || !benchIsOK(reply) {
		s, _ := bert.Format(term)
		return fmt.Errorf("reply %s, want {sync, ok, _}", s)
	}
	return nil
}

func benchCheckEcho(msg []byte) func([]byte) error {
	return func(reply []byte) error {
		if !bytes.Equal(reply, msg) {
			return fmt.Errorf("echo returned % x", reply)
		}
		return nil
	}
}

// benchRoundTrips is the round-trip phase.
func benchRoundTrips(ctx context.Context, o benchOptions, target, echoURL string, out io.Writer) error {
	model := bert.Atom("bench_item")
	doc := bert.List{
		bert.Tuple{bert.Atom("id"), []byte("bench-1")},
		bert.Tuple{bert.Atom("name"), []byte("Frodo Baggins")},
		bert.Tuple{bert.Atom("level"), int64(42)},
		bert.Tuple{bert.Atom("tags"), bert.List{[]byte("hobbit"), []byte("ring-bearer")}},
	}
	if err := benchEnsure(ctx, target, model, doc); err != nil {
		return fmt.Errorf("storing the document the reads read: %w", err)
	}

	read := benchMarshal(bert.Tuple{bert.Atom("sync"), bert.Atom("read"), model, bert.List{bert.Tuple{bert.Atom("id"), []byte("bench-1")}}})
	create := benchMarshal(bert.Tuple{bert.Atom("sync"), bert.Atom("create"), bert.Atom("bench_created"), doc[1:]})

	run := func(label, url string, msg []byte, check func([]byte) error) (rtResult, error) {
		fast := benchIsOK
		if url == echoURL {
			fast = func(b []byte) bool { return bytes.Equal(b, msg) }
		}
		r, err := roundTrips(ctx, o, url, msg, check, fast)
		if err != nil {
			return r, fmt.Errorf("round trips, %s: %w", label, err)
		}
		return r, nil
	}
	how := fmt.Sprintf("%v per run", o.duration)
	if o.requests > 0 {
		how = fmt.Sprintf("%d requests per run", max(1, o.requests/o.clients)*o.clients)
	}
	fmt.Fprintf(out, "Round trips: %d clients, one request in flight per client, binary frames, %s, %d repetitions\n", o.clients, how, o.repeat)
	// The runs alternate: echo, then each bertsync request, then echo
	// again, o.repeat times. Each bertsync run is compared with the mean
	// of the echo runs on either side of it, so that a change in the
	// machine's load during the run moves both sides of a ratio.
	var echo, echoCPU []float64
	rates := make([][]float64, len(o.ops))
	ratios := make([][]float64, len(o.ops))
	cpuRates := make([][]float64, len(o.ops))
	cpuRatios := make([][]float64, len(o.ops))
	for rep := 0; rep <= o.repeat; rep++ {
		r, err := run("echo", echoURL, read, benchCheckEcho(read))
		if err != nil {
			return err
		}
		echo, echoCPU = append(echo, r.rate()), append(echoCPU, r.cpuRate())
		if rep > 0 {
			ref := (echo[rep-1] + echo[rep]) / 2
			refCPU := (echoCPU[rep-1] + echoCPU[rep]) / 2
			for i := range o.ops {
				ratios[i] = append(ratios[i], rates[i][rep-1]/ref)
				cpuRatios[i] = append(cpuRatios[i], cpuRates[i][rep-1]/refCPU)
			}
		}
		if rep == o.repeat {
			break
		}
		for i, op := range o.ops {
			msg := read
			if op == "create" {
				msg = create
			}
			r, err := run(op, target, msg, benchCheckOK)
			if err != nil {
				return err
			}
			rates[i] = append(rates[i], r.rate())
			cpuRates[i] = append(cpuRates[i], r.cpuRate())
		}
	}
	cpuCols := func(rate, ratio float64) string {
		if benchCPU(o) == nil || rate <= 0 {
			return fmt.Sprintf("%14s %8s", "-", "-")
		}
		return fmt.Sprintf("%14.0f %7.2fx", rate, ratio)
	}
	fmt.Fprintf(out, "  %-44s %10s %8s %12s %14s %8s\n", "target", "trips/s", "vs echo", "(min-max)", "trips/CPU-s", "vs echo")
	fmt.Fprintf(out, "  %-44s %10.0f %7.2fx %12s %s\n", "gorilla echo (the same request bytes back)",
		median(echo), 1.0, fmt.Sprintf("(%.0fk-%.0fk)", slices.Min(echo)/1000, slices.Max(echo)/1000), cpuCols(median(echoCPU), 1))
	for i, op := range o.ops {
		label := "bertsync {sync, read, bench_item, [{id, _}]}"
		if op == "create" {
			label = "bertsync {sync, create, bench_created, Props}"
		}
		fmt.Fprintf(out, "  %-44s %10.0f %7.2fx %12s %s\n", label, median(rates[i]), median(ratios[i]),
			fmt.Sprintf("(%.2f-%.2f)", slices.Min(ratios[i]), slices.Max(ratios[i])), cpuCols(median(cpuRates[i]), median(cpuRatios[i])))
	}
	fmt.Fprintf(out, "  (medians of %d runs, each bertsync run against the mean of the echo runs around it; trips/CPU-s counts the CPU\n", o.repeat)
	fmt.Fprintf(out, "   time of the clients and the server under test together (--url needs --pid); target: bertsync read >= 0.50x echo)\n\n")
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

// benchEnsure stores doc (which has an id) with create, or with update
// when it exists already (a --data directory used before).
func benchEnsure(ctx context.Context, target string, model bert.Atom, doc bert.List) error {
	c, err := benchDial(ctx, target)
	if err != nil {
		return err
	}
	defer c.Close()
	reply, err := benchCall(c, benchMarshal(bert.Tuple{bert.Atom("sync"), bert.Atom("create"), model, doc}))
	if err != nil {
		return err
	}
	if benchCheckOK(reply) == nil {
		return nil
	}
	reply, err = benchCall(c, benchMarshal(bert.Tuple{bert.Atom("sync"), bert.Atom("update"), model, doc}))
	if err != nil {
		return err
	}
	return benchCheckOK(reply)
}

// fanoutStats are the latencies of one fan-out run.
type fanoutStats struct {
	lat []time.Duration
}

func (s fanoutStats) pct(p float64) time.Duration {
	if len(s.lat) == 0 {
		return 0
	}
	i := min(len(s.lat)-1, int(p*float64(len(s.lat))))
	return s.lat[i]
}

// fanout subscribes n connections (subscribe is the request that makes
// them subscribers, or nil for the hub), then sends rounds messages from
// one more connection, one at a time, and measures how long each takes to
// reach every subscriber. round(i) is the message of round i, and
// roundOf extracts the round number from what a subscriber receives.
func fanout(ctx context.Context, o benchOptions, target string, subscribe []byte, round func(int) []byte, roundOf func([]byte) (int, bool)) (fanoutStats, error) {
	setup := func(c *websocket.Conn) error {
		if subscribe == nil {
			// The hub: wait until it has registered this connection.
			c.SetReadDeadline(time.Now().Add(benchPhaseTimeout))
			_, msg, err := c.ReadMessage()
			if err != nil {
				return err
			}
			if !bytes.Equal(msg, hubJoined) {
				return fmt.Errorf("the hub said %q, want %q", msg, hubJoined)
			}
			return nil
		}
		reply, err := benchCall(c, subscribe)
		if err != nil {
			return err
		}
		return benchCheckOK(reply)
	}
	subs, err := benchDialMany(ctx, target, o.subscribers, setup)
	if err != nil {
		return fanoutStats{}, err
	}
	defer benchCloseAll(subs)
	pub, err := benchDial(ctx, target)
	if err != nil {
		return fanoutStats{}, err
	}
	defer pub.Close()

	recv := make([][]time.Time, o.rounds) // recv[round][subscriber]
	for i := range recv {
		recv[i] = make([]time.Time, len(subs))
	}
	arrived := make([]atomic.Int64, o.rounds)
	var readers sync.WaitGroup
	var bad atomic.Value
	for i, c := range subs {
		readers.Add(1)
		go func() {
			defer readers.Done()
			first := true
			for {
				c.SetReadDeadline(time.Now().Add(benchPhaseTimeout + time.Duration(o.rounds)*time.Second))
				_, msg, err := c.ReadMessage()
				now := time.Now()
				if err != nil {
					return
				}
				if first {
					first = false
					if err := benchRoundCheck(msg); err != nil {
						bad.CompareAndSwap(nil, fmt.Sprintf("subscriber %d: %v", i, err))
					}
				}
				r, ok := roundOf(msg)
				if !ok || r < 0 || r >= o.rounds {
					bad.CompareAndSwap(nil, fmt.Sprintf("subscriber %d got % x", i, msg[:min(len(msg), 64)]))
					continue
				}
				if recv[r][i].IsZero() {
					recv[r][i] = now
					arrived[r].Add(1)
				}
			}
		}()
	}
	defer func() {
		benchCloseAll(subs)
		readers.Wait()
	}()

	sent := make([]time.Time, o.rounds)
	for r := range o.rounds {
		msg := round(r)
		sent[r] = time.Now()
		reply, err := benchCall(pub, msg)
		if err != nil {
			return fanoutStats{}, fmt.Errorf("round %d: %w", r, err)
		}
		if subscribe != nil {
			if err := benchCheckOK(reply); err != nil {
				return fanoutStats{}, fmt.Errorf("round %d: %w", r, err)
			}
		}
		limit := time.Now().Add(benchPhaseTimeout)
		for arrived[r].Load() < int64(len(subs)) {
			if time.Now().After(limit) || ctx.Err() != nil {
				return fanoutStats{}, fmt.Errorf("round %d: %d of %d subscribers got the message within %v (%v)",
					r, arrived[r].Load(), len(subs), benchPhaseTimeout, bad.Load())
			}
			time.Sleep(200 * time.Microsecond)
		}
		time.Sleep(20 * time.Millisecond) // let the machine settle between rounds
	}
	if b := bad.Load(); b != nil {
		return fanoutStats{}, fmt.Errorf("%v", b)
	}
	var st fanoutStats
	for r := range o.rounds {
		for _, t := range recv[r] {
			st.lat = append(st.lat, t.Sub(sent[r]))
		}
	}
	slices.Sort(st.lat)
	return st, nil
}

// benchRoundAtom is the ATOM_EXT of round, the key of the property that
// numbers a fan-out round.
var benchRoundAtom = []byte{100, 0, 5, 'r', 'o', 'u', 'n', 'd'}

// benchRoundProp finds the value of the round property in a message: the
// push {sync, updated, Model, Props, Seq} and the request {sync, patch,
// Model, Props} the hub relays alike. It scans the bytes rather than
// decoding the term, so that 1,000 subscribers in this process do not
// spend the CPU the server under test needs; the first message of each
// run is checked by a full decode (benchRoundCheck).
func benchRoundProp(msg []byte) (int, bool) {
	i := bytes.Index(msg, benchRoundAtom)
	if i < 0 {
		return 0, false
	}
	v := msg[i+len(benchRoundAtom):]
	switch {
	case len(v) >= 2 && v[0] == 97: // SMALL_INTEGER_EXT
		return int(v[1]), true
	case len(v) >= 5 && v[0] == 98: // INTEGER_EXT
		return int(int32(binary.BigEndian.Uint32(v[1:]))), true
	}
	return 0, false
}

// benchRoundCheck decodes a message fully and requires a tuple whose
// fourth element is a proplist with the round property benchRoundProp
// found.
func benchRoundCheck(msg []byte) error {
	var term any
	if err := bert.Unmarshal(msg, &term); err != nil {
		return err
	}
	s, _ := bert.Format(term)
	t, ok := term.(bert.Tuple)
	if !ok || len(t) < 4 {
		return fmt.Errorf("message %s is no push", s)
	}
	want, ok := benchRoundProp(msg)
	if !ok {
		return fmt.Errorf("message %s has no round", s)
	}
	props, _ := t[3].(bert.List)
	for _, p := range props {
		if kv, ok := p.(bert.Tuple); ok && len(kv) == 2 && kv[0] == bert.Atom("round") && kv[1] == int64(want) {
			return nil
		}
	}
	return fmt.Errorf("message %s: props do not hold {round, %d}", s, want)
}

// benchRoundTerm is the patch of fan-out round r.
func benchRoundTerm(r int) bert.Tuple {
	return bert.Tuple{bert.Atom("sync"), bert.Atom("patch"), bert.Atom("bench_fanout"), bert.List{
		bert.Tuple{bert.Atom("id"), []byte("fan")},
		bert.Tuple{bert.Atom("round"), int64(r)},
	}}
}

// benchFanout is the fan-out phase.
func benchFanout(ctx context.Context, o benchOptions, target, hubURL string, out io.Writer) error {
	model := bert.Atom("bench_fanout")
	subscribe := benchMarshal(bert.Tuple{bert.Atom("sync"), bert.Atom("subscribe"), model, bert.List{}})
	round := func(r int) []byte { return benchMarshal(benchRoundTerm(r)) }
	if err := benchEnsure(ctx, target, model, bert.List{bert.Tuple{bert.Atom("id"), []byte("fan")}}); err != nil {
		return fmt.Errorf("fan-out: storing the document: %w", err)
	}
	fmt.Fprintf(out, "Fan-out: one update pushed to %d subscribers, %d rounds; latency from send to receipt, all subscribers\n", o.subscribers, o.rounds)
	fmt.Fprintf(out, "  %-44s %10s %10s %10s\n", "target", "p50", "p99", "max")
	hub, err := fanout(ctx, o, hubURL, nil, round, benchRoundProp)
	if err != nil {
		return fmt.Errorf("fan-out, gorilla hub: %w", err)
	}
	fmt.Fprintf(out, "  %-44s %10s %10s %10s\n", "gorilla broadcast hub (naive loop)", benchMs(hub.pct(0.5)), benchMs(hub.pct(0.99)), benchMs(hub.pct(1)))
	bs, err := fanout(ctx, o, target, subscribe, round, benchRoundProp)
	if err != nil {
		return fmt.Errorf("fan-out, bertsync: %w", err)
	}
	fmt.Fprintf(out, "  %-44s %10s %10s %10s\n", "bertsync {sync, patch, …} → {sync, updated, …}", benchMs(bs.pct(0.5)), benchMs(bs.pct(0.99)), benchMs(bs.pct(1)))
	fmt.Fprintf(out, "  (target: bertsync p99 < 50 ms for 1000 subscribers)\n\n")
	return nil
}

func benchMs(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}
