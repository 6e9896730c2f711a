package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bertsync/bertsync/internal/bench"
)

// Bounds of the load client's waits.
const (
	dialTimeout = 15 * time.Second
	// roundTimeout is how long a round waits for its message to reach
	// every subscriber; what has not arrived by the end of the run is
	// lost.
	roundTimeout = 5 * time.Second
	// roundPause lets the machine settle between rounds.
	roundPause = 20 * time.Millisecond
	// dialParallel bounds the handshakes in flight.
	dialParallel = 64
)

// runConfig is one run of one server.
type runConfig struct {
	server      string
	subscribers int
	rounds      int
	// size is the push's WebSocket payload in bytes.
	size int
	// profile, if not empty, is the prefix of the profiles the child
	// writes: PREFIX.heap while the subscribers are idle, PREFIX.cpu
	// during the rounds.
	profile string
}

// runResult is what one run measured.
type runResult struct {
	lat      []time.Duration // every receipt's latency, sorted
	lost     int             // messages that reached no subscriber by the end
	perConn  float64         // server RSS growth per idle subscriber, bytes
	pushMin  int             // sizes of the pushes received, bytes
	pushMax  int
	elapsed  time.Duration
	rssError error // why perConn is unknown
	// serverCPU and clientCPU are the CPU time of the server's process
	// and of this one during the rounds (zero when unknown).
	serverCPU, clientCPU time.Duration
	// notes, when profiling, are the child's memory figures.
	notes string
}

// run starts cfg.server as a child and loads it.
func run(ctx context.Context, cfg runConfig) (runResult, error) {
	start := time.Now()
	srv, err := startChild(ctx, cfg.server, cfg.profile != "")
	if err != nil {
		return runResult{}, err
	}
	defer srv.stop()
	proto := protocols[cfg.server]
	target := "ws://" + srv.addr + proto.path()
	res, err := load(ctx, srv, proto, target, cfg)
	res.elapsed = time.Since(start)
	if err != nil {
		return res, fmt.Errorf("%s, %d subscribers: %w", cfg.server, cfg.subscribers, err)
	}
	return res, nil
}

func load(ctx context.Context, srv *child, proto protocol, target string, cfg runConfig) (runResult, error) {
	var res runResult
	// Warm up what a server makes once, for the first subscriber and
	// publisher (a model actor, a hub shard), before the first sample: a
	// subscriber that stays and drains what it hears, and the publisher.
	warm, err := dial(ctx, target)
	if err != nil {
		return res, err
	}
	defer warm.Close()
	if err := proto.subscribe(warm); err != nil {
		return res, fmt.Errorf("warm-up subscriber: %w", err)
	}
	go drain(warm, proto)
	pub, err := dial(ctx, target)
	if err != nil {
		return res, err
	}
	defer pub.Close()
	if err := proto.join(pub); err != nil {
		return res, fmt.Errorf("publisher: %w", err)
	}

	before, statsBefore, rssErr := srv.rss()
	subs, err := dialMany(ctx, target, cfg.subscribers, proto.subscribe)
	defer closeAll(subs)
	if err != nil {
		return res, err
	}
	after, statsAfter, err := srv.rss()
	if rssErr == nil && err != nil {
		rssErr = err
	}
	if rssErr == nil && after > before {
		res.perConn = float64(after-before) / float64(cfg.subscribers)
	}
	res.rssError = rssErr
	if cfg.profile != "" {
		if _, err := srv.do("heap " + filepath.Clean(cfg.profile+".heap")); err != nil {
			return res, err
		}
		res.notes = fmt.Sprintf("before the subscribers: %s; with them: %s", statsBefore, statsAfter)
	}

	n := len(subs)
	recv := make([][]time.Time, cfg.rounds) // recv[round][subscriber]
	for i := range recv {
		recv[i] = make([]time.Time, n)
	}
	arrived := make([]atomic.Int64, cfg.rounds)
	complete := make([]chan struct{}, cfg.rounds)
	for i := range complete {
		complete[i] = make(chan struct{})
	}
	var sizeMu sync.Mutex
	res.pushMin = -1
	var readers sync.WaitGroup
	for i, c := range subs {
		readers.Go(func() {
			lo, hi := -1, 0
			defer func() {
				sizeMu.Lock()
				if lo >= 0 && (res.pushMin < 0 || lo < res.pushMin) {
					res.pushMin = lo
				}
				res.pushMax = max(res.pushMax, hi)
				sizeMu.Unlock()
			}()
			// One buffer per reader, reused: the client's allocations
			// would cost it CPU the servers compete for.
			var buf bytes.Buffer
			for {
				_, r, err := c.NextReader()
				if err == nil {
					buf.Reset()
					_, err = buf.ReadFrom(r)
				}
				now := time.Now()
				if err != nil {
					return
				}
				msg := buf.Bytes()
				if a := proto.answer(msg); a != nil {
					c.WriteMessage(websocket.TextMessage, a)
				}
				pushed := false
				eachRound(msg, func(r int) {
					if r >= cfg.rounds || !recv[r][i].IsZero() {
						return
					}
					pushed = true
					recv[r][i] = now
					if arrived[r].Add(1) == int64(n) {
						close(complete[r])
					}
				})
				if pushed {
					if lo < 0 || len(msg) < lo {
						lo = len(msg)
					}
					hi = max(hi, len(msg))
				}
			}
		})
	}

	if cfg.profile != "" {
		if _, err := srv.do("cpu " + filepath.Clean(cfg.profile+".cpu")); err != nil {
			return res, err
		}
	}
	pid := srv.cmd.Process.Pid
	server0, serr := bench.PidCPU(pid)
	client0, cerr := bench.ProcessCPU()
	sent := make([]time.Time, cfg.rounds)
	payloadSize := max(cfg.size-proto.overhead(), minPayload)
	for r := range cfg.rounds {
		msg := payload(r, payloadSize)
		sent[r] = time.Now()
		if err := proto.publish(pub, r, msg); err != nil {
			return res, fmt.Errorf("round %d: %w", r, err)
		}
		select {
		case <-complete[r]:
		case <-time.After(roundTimeout):
		case <-ctx.Done():
			return res, ctx.Err()
		}
		time.Sleep(roundPause)
	}
	if server1, err := bench.PidCPU(pid); serr == nil && err == nil {
		res.serverCPU = server1 - server0
	}
	if client1, err := bench.ProcessCPU(); cerr == nil && err == nil {
		res.clientCPU = client1 - client0
	}
	if cfg.profile != "" {
		if _, err := srv.do("cpustop"); err != nil {
			return res, err
		}
	}
	closeAll(subs)
	readers.Wait()
	for r := range cfg.rounds {
		for _, t := range recv[r] {
			if t.IsZero() {
				res.lost++
				continue
			}
			res.lat = append(res.lat, t.Sub(sent[r]))
		}
	}
	slices.Sort(res.lat)
	return res, nil
}

// drain reads c until it closes, answering pings.
func drain(c *websocket.Conn, proto protocol) {
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		if a := proto.answer(msg); a != nil {
			c.WriteMessage(websocket.TextMessage, a)
		}
	}
}

// dialer is the load client's: small buffers, since thousands of its
// connections share this process with nothing to measure in it.
var dialer = websocket.Dialer{HandshakeTimeout: dialTimeout, ReadBufferSize: 1024, WriteBufferSize: 1024}

func dial(ctx context.Context, target string) (*websocket.Conn, error) {
	c, resp, err := dialer.DialContext(ctx, target, nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial %s: %w (HTTP %s)", target, err, resp.Status)
		}
		return nil, fmt.Errorf("dial %s: %w", target, err)
	}
	return c, nil
}

// dialMany opens n connections, dialParallel at a time, and runs setup on
// each. On error it returns the connections it opened, for closeAll.
func dialMany(ctx context.Context, target string, n int, setup func(*websocket.Conn) error) ([]*websocket.Conn, error) {
	conns := make([]*websocket.Conn, n)
	errs := make([]error, n)
	sem := make(chan struct{}, dialParallel)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := dial(ctx, target)
			if err == nil {
				conns[i] = c
				err = setup(c)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return conns, fmt.Errorf("subscriber %d of %d: %w", i+1, n, err)
		}
	}
	return conns, nil
}

func closeAll(conns []*websocket.Conn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}
