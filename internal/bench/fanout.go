package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/bert/erltext"
	"github.com/gorilla/websocket"
)

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
func fanout(ctx context.Context, cfg Config, target string, subscribe []byte, round func(int) []byte, roundOf func([]byte) (int, bool)) (fanoutStats, error) {
	setup := func(c *websocket.Conn) error {
		if subscribe == nil {
			// The hub: wait until it has registered this connection.
			c.SetReadDeadline(time.Now().Add(phaseTimeout))
			_, msg, err := c.ReadMessage()
			if err != nil {
				return err
			}
			if !bytes.Equal(msg, hubJoined) {
				return fmt.Errorf("the hub said %q, want %q", msg, hubJoined)
			}
			return nil
		}
		reply, err := call(c, subscribe)
		if err != nil {
			return err
		}
		return checkOK(reply)
	}
	subs, err := dialMany(ctx, target, nil, cfg.Subscribers, setup)
	if err != nil {
		return fanoutStats{}, err
	}
	defer closeAll(subs)
	pub, err := dial(ctx, target)
	if err != nil {
		return fanoutStats{}, err
	}
	defer pub.Close()

	recv := make([][]time.Time, cfg.Rounds) // recv[round][subscriber]
	for i := range recv {
		recv[i] = make([]time.Time, len(subs))
	}
	arrived := make([]atomic.Int64, cfg.Rounds)
	var readers sync.WaitGroup
	var bad atomic.Value
	for i, c := range subs {
		readers.Add(1)
		go func() {
			defer readers.Done()
			first := true
			for {
				c.SetReadDeadline(time.Now().Add(phaseTimeout + time.Duration(cfg.Rounds)*time.Second))
				_, msg, err := c.ReadMessage()
				now := time.Now()
				if err != nil {
					return
				}
				if first {
					first = false
					if err := roundCheck(msg); err != nil {
						bad.CompareAndSwap(nil, fmt.Sprintf("subscriber %d: %v", i, err))
					}
				}
				r, ok := roundOf(msg)
				if !ok || r < 0 || r >= cfg.Rounds {
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
		closeAll(subs)
		readers.Wait()
	}()

	sent := make([]time.Time, cfg.Rounds)
	for r := range cfg.Rounds {
		msg := round(r)
		sent[r] = time.Now()
		reply, err := call(pub, msg)
		if err != nil {
			return fanoutStats{}, fmt.Errorf("round %d: %w", r, err)
		}
		if subscribe != nil {
			if err := checkOK(reply); err != nil {
				return fanoutStats{}, fmt.Errorf("round %d: %w", r, err)
			}
		}
		limit := time.Now().Add(phaseTimeout)
		for arrived[r].Load() < int64(len(subs)) {
			if time.Now().After(limit) || ctx.Err() != nil {
				return fanoutStats{}, fmt.Errorf("round %d: %d of %d subscribers got the message within %v (%v)",
					r, arrived[r].Load(), len(subs), phaseTimeout, bad.Load())
			}
			time.Sleep(200 * time.Microsecond)
		}
		time.Sleep(20 * time.Millisecond) // let the machine settle between rounds
	}
	if b := bad.Load(); b != nil {
		return fanoutStats{}, fmt.Errorf("%v", b)
	}
	var st fanoutStats
	for r := range cfg.Rounds {
		for _, t := range recv[r] {
			st.lat = append(st.lat, t.Sub(sent[r]))
		}
	}
	slices.Sort(st.lat)
	return st, nil
}

// roundAtom is the ATOM_EXT of round, the key of the property that
// numbers a fan-out round.
var roundAtom = []byte{100, 0, 5, 'r', 'o', 'u', 'n', 'd'}

// roundProp finds the value of the round property in a message: the
// push {sync, updated, Model, Props, Seq} and the request {sync, patch,
// Model, Props} the hub relays alike. It scans the bytes rather than
// decoding the term, so that 1,000 subscribers in this process do not
// spend the CPU the server under test needs; the first message of each
// run is checked by a full decode (roundCheck).
func roundProp(msg []byte) (int, bool) {
	i := bytes.Index(msg, roundAtom)
	if i < 0 {
		return 0, false
	}
	v := msg[i+len(roundAtom):]
	switch {
	case len(v) >= 2 && v[0] == 97: // SMALL_INTEGER_EXT
		return int(v[1]), true
	case len(v) >= 5 && v[0] == 98: // INTEGER_EXT
		return int(int32(binary.BigEndian.Uint32(v[1:]))), true
	}
	return 0, false
}

// roundCheck decodes a message fully and requires a tuple whose
// fourth element is a proplist with the round property roundProp
// found.
func roundCheck(msg []byte) error {
	var term any
	if err := bert.Unmarshal(msg, &term); err != nil {
		return err
	}
	s, _ := erltext.Format(term)
	t, ok := term.(bert.Tuple)
	if !ok || len(t) < 4 {
		return fmt.Errorf("message %s is no push", s)
	}
	want, ok := roundProp(msg)
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

// roundTerm is the patch of fan-out round r.
func roundTerm(r int) bert.Tuple {
	return bert.Tuple{bert.Atom("sync"), bert.Atom("patch"), bert.Atom("bench_fanout"), bert.List{
		bert.Tuple{bert.Atom("id"), []byte("fan")},
		bert.Tuple{bert.Atom("round"), int64(r)},
	}}
}

// fanoutPhase is the fan-out phase.
func fanoutPhase(ctx context.Context, cfg Config, target, hubURL string, out io.Writer) error {
	model := bert.Atom("bench_fanout")
	subscribe := marshal(bert.Tuple{bert.Atom("sync"), bert.Atom("subscribe"), model, bert.List{}})
	round := func(r int) []byte { return marshal(roundTerm(r)) }
	if err := ensure(ctx, target, model, bert.List{bert.Tuple{bert.Atom("id"), []byte("fan")}}); err != nil {
		return fmt.Errorf("fan-out: storing the document: %w", err)
	}
	fmt.Fprintf(out, "Fan-out: one update pushed to %d subscribers, %d rounds; latency from send to receipt, all subscribers\n", cfg.Subscribers, cfg.Rounds)
	fmt.Fprintf(out, "  %-44s %10s %10s %10s\n", "target", "p50", "p99", "max")
	hub, err := fanout(ctx, cfg, hubURL, nil, round, roundProp)
	if err != nil {
		return fmt.Errorf("fan-out, gorilla hub: %w", err)
	}
	fmt.Fprintf(out, "  %-44s %10s %10s %10s\n", "gorilla broadcast hub (naive loop)", millis(hub.pct(0.5)), millis(hub.pct(0.99)), millis(hub.pct(1)))
	bs, err := fanout(ctx, cfg, target, subscribe, round, roundProp)
	if err != nil {
		return fmt.Errorf("fan-out, bertsync: %w", err)
	}
	fmt.Fprintf(out, "  %-44s %10s %10s %10s\n", "bertsync {sync, patch, …} → {sync, updated, …}", millis(bs.pct(0.5)), millis(bs.pct(0.99)), millis(bs.pct(1)))
	fmt.Fprintf(out, "  (target: bertsync p99 < 50 ms for 1000 subscribers)\n\n")
	return nil
}

func millis(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}
