package tests

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestE2ESubscribePush checks pushes between two WebSocket connections:
// every change reaches the subscriber with Seq +1 per event of the model
// type, the changer gets its reply, unsubscribe stops the pushes.
func TestE2ESubscribePush(t *testing.T) {
	t.Parallel()
	s := e2eStartServer(t, "")
	model := e2eA("quest")
	sub := e2eDial(t, s.Addr, false)
	pub := e2eDial(t, s.Addr, true)
	sub.OK(e2eT{e2eA("sync"), e2eA("subscribe"), model, e2eL{}})

	pub.OK(e2eT{e2eA("sync"), e2eA("create"), model, e2eProps("id", []byte("q1"), "goal", []byte("Mordor"))})
	p1 := sub.Push()
	if p1.Event != "created" || p1.Model != "quest" {
		t.Fatalf("push = %s, want {sync, created, quest, _, _}", e2eFmt(p1.Term))
	}
	if v, _ := e2eGet(p1.Props, "goal"); e2eText(v) != "Mordor" {
		t.Fatalf("push props = %s", e2eFmt(p1.Props))
	}
	pub.OK(e2eT{e2eA("sync"), e2eA("patch"), model, e2eProps("id", []byte("q1"), "done", e2eA("false"))})
	p2 := sub.Push()
	if p2.Event != "updated" || p2.Seq != p1.Seq+1 {
		t.Fatalf("second push = %s after seq %d, want updated with seq %d", e2eFmt(p2.Term), p1.Seq, p1.Seq+1)
	}
	pub.OK(e2eT{e2eA("sync"), e2eA("update"), model, e2eProps("id", []byte("q1"), "goal", []byte("Shire"))})
	if p := sub.Push(); p.Event != "updated" || p.Seq != p2.Seq+1 {
		t.Fatalf("third push = %s", e2eFmt(p.Term))
	}
	pub.OK(e2eT{e2eA("sync"), e2eA("delete"), model, e2eProps("id", []byte("q1"))})
	p4 := sub.Push()
	if p4.Event != "deleted" || p4.Seq != p2.Seq+2 {
		t.Fatalf("fourth push = %s", e2eFmt(p4.Term))
	}
	if v, _ := e2eGet(p4.Props, "id"); e2eText(v) != "q1" {
		t.Fatalf("deleted push props = %s, want the id", e2eFmt(p4.Props))
	}
	// A read changes nothing: no push. Another model type: no push.
	pub.OK(e2eT{e2eA("sync"), e2eA("read"), model, e2eL{}})
	pub.OK(e2eT{e2eA("sync"), e2eA("create"), e2eA("other"), e2eL{}})
	sub.Quiet()
	pub.Quiet() // the publisher is not subscribed: no push for it either

	sub.OK(e2eT{e2eA("sync"), e2eA("unsubscribe"), model, e2eL{}})
	pub.OK(e2eT{e2eA("sync"), e2eA("create"), model, e2eProps("id", []byte("q2"))})
	sub.Quiet()

	// A subscriber that makes a change itself hears of it too (only
	// broadcast excludes the sender).
	sub.OK(e2eT{e2eA("sync"), e2eA("subscribe"), model, e2eL{}})
	if _, p := sub.Change(e2eT{e2eA("sync"), e2eA("create"), model, e2eProps("id", []byte("q3"))}); p.Event != "created" {
		t.Fatalf("own change pushed %s", e2eFmt(p.Term))
	}
}

// TestE2EBroadcast checks that broadcast reaches every subscriber but the
// sender, stores nothing, and counts in Seq.
func TestE2EBroadcast(t *testing.T) {
	t.Parallel()
	s := e2eStartServer(t, "")
	model := e2eA("chat")
	a := e2eDial(t, s.Addr, false)
	b := e2eDial(t, s.Addr, true)
	c := e2eDial(t, s.Addr, false)
	for _, x := range []*e2eConn{a, b, c} {
		x.OK(e2eT{e2eA("sync"), e2eA("subscribe"), model, e2eL{}})
	}
	a.OK(e2eT{e2eA("sync"), e2eA("broadcast"), model, e2eProps("text", []byte("hello all"))})
	var seq int64
	for i, x := range []*e2eConn{b, c} {
		p := x.Push()
		if p.Event != "broadcast" || p.Model != "chat" {
			t.Fatalf("subscriber %d got %s", i, e2eFmt(p.Term))
		}
		if v, _ := e2eGet(p.Props, "text"); e2eText(v) != "hello all" {
			t.Fatalf("broadcast props = %s", e2eFmt(p.Props))
		}
		if i > 0 && p.Seq != seq {
			t.Fatalf("subscribers saw seq %d and %d for one broadcast", seq, p.Seq)
		}
		seq = p.Seq
	}
	a.Quiet() // the sender hears nothing of its own broadcast

	// Nothing was stored.
	if all, ok := a.OK(e2eT{e2eA("sync"), e2eA("read"), model, e2eL{}}).(e2eL); !ok || len(all) != 0 {
		t.Fatalf("broadcast stored something: %s", e2eFmt(all))
	}
	// The next change counts on from the broadcast's Seq.
	d := e2eDial(t, s.Addr, false)
	d.OK(e2eT{e2eA("sync"), e2eA("create"), model, e2eL{}})
	if p := c.Push(); p.Seq != seq+1 {
		t.Fatalf("seq after broadcast = %d, want %d", p.Seq, seq+1)
	}
}

// TestE2ESlowConsumer: a subscriber that stops reading is cut off once its
// queue is full, with a logged reason, while another subscriber receives
// every push and the publisher every reply.
func TestE2ESlowConsumer(t *testing.T) {
	t.Parallel()
	// The publisher sends as fast as the server answers, past the
	// default rate limit of one connection.
	s := e2eStartServer(t, "", "--rate-limit", "1000000")
	model := e2eA("firehose")
	slow := e2eDial(t, s.Addr, false)
	slow.OK(e2eT{e2eA("sync"), e2eA("subscribe"), model, e2eL{}})
	fast := e2eDial(t, s.Addr, false)
	fast.OK(e2eT{e2eA("sync"), e2eA("subscribe"), model, e2eL{}})
	pub := e2eDial(t, s.Addr, false)

	// 700 pushes of 64 KiB: more than the server's queue of 256 frames
	// plus what the loopback socket buffers hold (a few MiB each side).
	const n = 700
	var count atomic.Int64
	got := make(chan struct{})
	go func() {
		defer close(got)
		for count.Load() < n {
			op, data, err := fast.ws.ReadMessage(e2eTimeout)
			if err != nil {
				return
			}
			m, err := e2eDecodeFrame(op, data)
			if p, ok := e2eParsePush(m); err == nil && ok && p.Event == "broadcast" {
				count.Add(1)
			}
		}
	}()
	chunk := bytes.Repeat([]byte("z"), 64<<10)
	for i := range n {
		pub.OK(e2eT{e2eA("sync"), e2eA("broadcast"), model, e2eProps("i", int64(i), "data", chunk)})
		// Keep the fast subscriber within 64 pushes of the publisher, so
		// that it never becomes a slow consumer itself on a loaded machine.
		for limit := time.Now().Add(e2eTimeout); count.Load() < int64(i-64); time.Sleep(time.Millisecond) {
			if time.Now().After(limit) {
				t.Fatalf("the fast subscriber is stuck at %d pushes of %d sent", count.Load(), i+1)
			}
		}
	}
	<-got
	if c := count.Load(); c != n {
		t.Fatalf("the fast subscriber got %d of %d pushes", c, n)
	}

	// The slow one now reads what reached its socket, then the end.
	received := 0
	var end error
	for {
		_, _, err := slow.ws.ReadMessage(e2eTimeout)
		if err != nil {
			end = err
			break
		}
		received++
	}
	if received >= n {
		t.Fatalf("the slow subscriber got all %d pushes: it was never cut off", n)
	}
	var ce *e2eWSCloseError
	var ne net.Error
	if errors.As(end, &ne) && ne.Timeout() {
		t.Fatalf("the slow subscriber's connection is still open after %d pushes", received)
	}
	if errors.As(end, &ce) && ce.Code != 1008 {
		t.Errorf("slow consumer closed with %d %q, want 1008 (policy violation)", ce.Code, ce.Reason)
	}
	t.Logf("slow subscriber: %d pushes, then %v", received, end)
	if !strings.Contains(strings.ToLower(s.Log()), "slow") {
		t.Errorf("no log line names the slow consumer:\n%s", s.Log())
	}
}
