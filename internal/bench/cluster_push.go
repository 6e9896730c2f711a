package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/bert/erltext"
	"github.com/gorilla/websocket"
)

// The push half of the cluster phase: subscribers spread over the nodes,
// one writer on the first node creating documents one at a time, and the
// latency from the create's send to the push at every subscriber. Each
// subscriber checks the stream as DESIGN §7 states it: every push in Seq
// order, from the Top its subscribe reply gave, with no gap and no
// duplicate; anything else fails the run.

// pushRun is one run's latencies, sorted: over every subscriber, and over
// those on the writer's node (local) and on the others (remote).
type pushRun struct {
	all, local, remote []time.Duration
}

// pushSub is one subscriber and what it has received.
type pushSub struct {
	conn *websocket.Conn
	node int   // index of its node in the targets
	top  int64 // Top of its subscribe reply: the Seq before its first push
}

// subscribeTop reads Top from a subscribe reply, {sync, ok, [{seq, Top},
// {epoch, Epoch}]}.
func subscribeTop(reply []byte) (int64, error) {
	if err := checkOK(reply); err != nil {
		return 0, err
	}
	var term any
	if err := bert.Unmarshal(reply, &term); err != nil {
		return 0, err
	}
	props, _ := term.(bert.Tuple)[2].(bert.List)
	for _, p := range props {
		if kv, ok := p.(bert.Tuple); ok && len(kv) == 2 && kv[0] == bert.Atom("seq") {
			if top, ok := kv[1].(int64); ok {
				return top, nil
			}
		}
	}
	s, _ := erltext.Format(term)
	return 0, fmt.Errorf("subscribe reply %s has no {seq, Top}", s)
}

// pushSeq reads the Seq of a push {sync, Event, Model, Props, Seq} from
// its last bytes: the proplist's NIL_EXT, then SMALL_INTEGER_EXT or
// INTEGER_EXT. It does not decode the term, so that a thousand
// subscribers in this process leave the CPU to the nodes; a Seq that is
// not the one expected is checked by a full decode (pushSeqFull) before
// it fails the run.
func pushSeq(msg []byte) (int64, bool) {
	n := len(msg)
	if n < 3 || msg[0] != 131 || msg[1] != 104 || msg[2] != 5 {
		return 0, false
	}
	switch {
	case n >= 6 && msg[n-6] == 106 && msg[n-5] == 98:
		return int64(int32(binary.BigEndian.Uint32(msg[n-4:]))), true
	case msg[n-3] == 106 && msg[n-2] == 97:
		return int64(msg[n-1]), true
	}
	return 0, false
}

// pushSeqFull decodes a push fully and returns its Seq.
func pushSeqFull(msg []byte) (int64, error) {
	var term any
	if err := bert.Unmarshal(msg, &term); err != nil {
		return 0, err
	}
	if t, ok := term.(bert.Tuple); ok && len(t) == 5 && t[0] == bert.Atom("sync") {
		if seq, ok := t[4].(int64); ok {
			return seq, nil
		}
	}
	s, _ := erltext.Format(term)
	return 0, fmt.Errorf("message %s is no push {sync, Event, Model, Props, Seq}", s)
}

// seqCheck follows one subscriber's stream: next is the Seq its next
// push must have.
type seqCheck struct {
	next int64
}

// accept checks the push msg against the stream so far and advances it.
// A Seq below the expected one is a duplicate (or a replay out of order),
// one above it a gap: a lost push.
func (c *seqCheck) accept(msg []byte) error {
	seq, ok := pushSeq(msg)
	if !ok || seq != c.next {
		full, err := pushSeqFull(msg)
		if err != nil {
			return err
		}
		seq = full
	}
	switch {
	case seq < c.next:
		return fmt.Errorf("push with Seq %d again or out of order, want %d: a duplicate", seq, c.next)
	case seq > c.next:
		return fmt.Errorf("push with Seq %d, want %d: %d pushes lost", seq, c.next, seq-c.next)
	}
	c.next++
	return nil
}

// pushRound is the create of round r on model: a new document whose id
// the server chooses.
func pushRound(model bert.Atom, r int) []byte {
	return marshal(bert.Tuple{bert.Atom("sync"), bert.Atom("create"), model, bert.List{
		bert.Tuple{bert.Atom("round"), int64(r)},
		bert.Tuple{bert.Atom("name"), []byte("Frodo Baggins")},
	}})
}

// pushLatency subscribes cfg.Subscribers connections to model, subscriber
// i on targets[i mod len(targets)], and creates cfg.Rounds documents from
// a writer on targets[0], one at a time, each once every subscriber has
// the push of the one before. A warm-up round before and a closing round
// after the measured ones are not counted: the closing one makes the
// last measured round's checks complete, since a subscriber's pushes
// arrive in Seq order.
func pushLatency(ctx context.Context, cfg Config, targets []string, model bert.Atom) (pushRun, error) {
	writer, err := dial(ctx, targets[0])
	if err != nil {
		return pushRun{}, fmt.Errorf("writer: %w", err)
	}
	defer writer.Close()
	create := func(r int) error {
		reply, err := call(writer, pushRound(model, r))
		if err != nil {
			return err
		}
		return explainReply(checkOK(reply), reply)
	}
	// The type's first event, before anyone subscribes: the subscribers'
	// Tops are then not 0, as on a server in use.
	if err := create(-1); err != nil {
		return pushRun{}, fmt.Errorf("writer, first create: %w", err)
	}

	subscribe := marshal(bert.Tuple{bert.Atom("sync"), bert.Atom("subscribe"), model, bert.List{}})
	subs := make([]*pushSub, 0, cfg.Subscribers)
	defer func() {
		for _, s := range subs {
			s.conn.Close()
		}
	}()
	for node, target := range targets {
		count := (cfg.Subscribers - node + len(targets) - 1) / len(targets) // subscribers i ≡ node (mod len)
		var mu sync.Mutex
		tops := map[*websocket.Conn]int64{}
		conns, err := dialMany(ctx, target, nil, count, func(c *websocket.Conn) error {
			reply, err := call(c, subscribe)
			if err != nil {
				return err
			}
			top, err := subscribeTop(reply)
			mu.Lock()
			tops[c] = top
			mu.Unlock()
			return err
		})
		if err != nil {
			return pushRun{}, fmt.Errorf("subscribers on node %d: %w", node+1, err)
		}
		for _, c := range conns {
			subs = append(subs, &pushSub{conn: c, node: node, top: tops[c]})
		}
	}

	rounds := cfg.Rounds + 2            // round 0 warms up, round Rounds+1 closes
	recv := make([][]time.Time, rounds) // recv[round][subscriber]
	for i := range recv {
		recv[i] = make([]time.Time, len(subs))
	}
	arrived := make([]atomic.Int64, rounds)
	got := make([]atomic.Int64, len(subs)) // rounds each subscriber has received
	var bad atomic.Value
	fail := func(format string, args ...any) { bad.CompareAndSwap(nil, fmt.Sprintf(format, args...)) }
	var readers sync.WaitGroup
	for i, s := range subs {
		readers.Go(func() {
			check := seqCheck{next: s.top + 1}
			first := true
			for {
				s.conn.SetReadDeadline(time.Now().Add(phaseTimeout + time.Duration(rounds)*time.Second))
				_, msg, err := s.conn.ReadMessage()
				now := time.Now()
				if err != nil {
					return
				}
				if first {
					first = false
					if err := roundCheck(msg); err != nil {
						fail("subscriber %d (node %d): %v", i, s.node+1, err)
					}
				}
				if err := check.accept(msg); err != nil {
					fail("subscriber %d (node %d): %v", i, s.node+1, err)
					continue
				}
				// The writer creates one round at a time: each subscriber
				// gets round 0, 1, 2 … in that order, each once.
				r, ok := roundProp(msg)
				if want := int(got[i].Load()); !ok || r != want || r >= rounds {
					fail("subscriber %d (node %d) got round %d (want %d): % x", i, s.node+1, r, want, msg[:min(len(msg), 64)])
					continue
				}
				recv[r][i] = now
				got[i].Add(1)
				arrived[r].Add(1)
			}
		})
	}
	defer func() {
		for _, s := range subs {
			s.conn.Close()
		}
		readers.Wait()
	}()

	sent := make([]time.Time, rounds)
	for r := range rounds {
		sent[r] = time.Now()
		if err := create(r); err != nil {
			return pushRun{}, fmt.Errorf("round %d: %w", r, err)
		}
		limit := time.Now().Add(phaseTimeout)
		for arrived[r].Load() < int64(len(subs)) {
			if b := bad.Load(); b != nil {
				return pushRun{}, fmt.Errorf("round %d: %v", r, b)
			}
			if time.Now().After(limit) || ctx.Err() != nil {
				return pushRun{}, fmt.Errorf("round %d: lost pushes: %s got the push within %v", r, missing(r, got, subs, len(targets)), phaseTimeout)
			}
			time.Sleep(200 * time.Microsecond)
		}
		time.Sleep(20 * time.Millisecond) // let the machine settle between rounds
	}
	if b := bad.Load(); b != nil {
		return pushRun{}, fmt.Errorf("%v", b)
	}
	var run pushRun
	for r := 1; r <= cfg.Rounds; r++ {
		for i, t := range recv[r] {
			d := t.Sub(sent[r])
			run.all = append(run.all, d)
			if subs[i].node == 0 {
				run.local = append(run.local, d)
			} else {
				run.remote = append(run.remote, d)
			}
		}
	}
	slices.Sort(run.all)
	slices.Sort(run.local)
	slices.Sort(run.remote)
	return run, nil
}

// missing says, per node, how many of its subscribers had received
// round r.
func missing(r int, got []atomic.Int64, subs []*pushSub, nodes int) string {
	have, of := make([]int, nodes), make([]int, nodes)
	for i, s := range subs {
		of[s.node]++
		if got[i].Load() > int64(r) {
			have[s.node]++
		}
	}
	var out string
	for n := range nodes {
		if n > 0 {
			out += ", "
		}
		out += fmt.Sprintf("node %d: %d of %d subscribers", n+1, have[n], of[n])
	}
	return out
}
