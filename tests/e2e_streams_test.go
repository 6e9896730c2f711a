package tests

// End-to-end tests of the streams (DESIGN §5) against `bertsync serve`
// child processes: Seq and epoch across SIGTERM and kill -9 restarts,
// recovery with since and epoch across a restart, the bounds of history
// (size, TTL, epoch, none kept), no acknowledged write or its event lost
// when the server is killed under load, and REST and upload changes in
// the same stream as Bullet ones.

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bertsync/bertsync/bert"
)

// stArgs lifts the per-connection rate limit, which the tests that send
// many requests from one connection would otherwise reach.
var stArgs = []string{"--rate-limit", "1000000"}

// stPos is the reply of a subscribe or unsubscribe.
type stPos struct {
	Top          int64
	Epoch        string
	Recovered    bool
	HasRecovered bool
}

// stParsePos reads [{seq, Top}, {epoch, Epoch}] and, when recovering,
// the {recovered, Bool} after them, in that order and nothing else.
func stParsePos(t testing.TB, msg any, recovering bool) stPos {
	t.Helper()
	l, ok := msg.(e2eL)
	want := 2
	if recovering {
		want = 3
	}
	if !ok || len(l) != want {
		t.Fatalf("position reply %s: want a proplist of %d", e2eFmt(msg), want)
	}
	var p stPos
	for i, key := range []string{"seq", "epoch", "recovered"}[:want] {
		kv, ok := l[i].(e2eT)
		if !ok || len(kv) != 2 || kv[0] != e2eA(key) {
			t.Fatalf("position reply %s: element %d is not {%s, _}", e2eFmt(msg), i, key)
		}
	}
	if p.Top, ok = e2eInt(l[0].(e2eT)[1]); !ok || p.Top < 0 {
		t.Fatalf("position reply %s: seq is not a non-negative integer", e2eFmt(msg))
	}
	epoch, ok := l[1].(e2eT)[1].([]byte)
	if !ok || len(epoch) == 0 {
		t.Fatalf("position reply %s: epoch is not a non-empty binary", e2eFmt(msg))
	}
	p.Epoch = string(epoch)
	if recovering {
		p.HasRecovered = true
		if p.Recovered, ok = l[2].(e2eT)[1].(bool); !ok {
			t.Fatalf("position reply %s: recovered is not a boolean", e2eFmt(msg))
		}
	}
	return p
}

// stSubscribe subscribes c to model and returns the reply, which must be
// the very next message.
func stSubscribe(t testing.TB, c *e2eConn, model e2eA) stPos {
	t.Helper()
	return stParsePos(t, c.OK(e2eT{e2eA("sync"), e2eA("subscribe"), model, e2eL{}}), false)
}

// stRecover subscribes c to model with since and epoch.
func stRecover(t testing.TB, c *e2eConn, model e2eA, since int64, epoch string) stPos {
	t.Helper()
	return stParsePos(t, c.OK(e2eT{e2eA("sync"), e2eA("subscribe"), model, e2eProps("since", since, "epoch", []byte(epoch))}), true)
}

// stEpoch returns the epoch of model's stream, from the reply of an
// unsubscribe, which subscribes c to nothing.
func stEpoch(t testing.TB, c *e2eConn, model e2eA) string {
	t.Helper()
	return stParsePos(t, c.OK(e2eT{e2eA("sync"), e2eA("unsubscribe"), model, e2eL{}}), false).Epoch
}

// stWant is an event a test expects: its name and the value of one of
// its properties (the id of a change, the note of a broadcast).
type stWant struct {
	event, key, value string
}

func (w stWant) String() string { return fmt.Sprintf("%s %s=%s", w.event, w.key, w.value) }

// stChange is a stWant of a change to document id.
func stChange(event, id string) stWant { return stWant{event, "id", id} }

// stExpect reads the next message of c, which must be the push of want
// with Seq seq.
func stExpect(t testing.TB, c *e2eConn, model string, seq int64, want stWant) e2ePush {
	t.Helper()
	p := c.Push()
	v, _ := e2eGet(p.Props, want.key)
	if p.Event != want.event || p.Model != model || p.Seq != seq || e2eText(v) != want.value {
		t.Fatalf("push %s, want %s of %s with seq %d", e2eFmt(p.Term), want, model, seq)
	}
	return p
}

// stMix makes, over w (not subscribed), one event of each kind on model:
// creates, a patch, an update, a delete and a broadcast, with ids and
// notes prefixed by tag. It returns the events in order.
func stMix(t testing.TB, w *e2eConn, model e2eA, tag string) []stWant {
	t.Helper()
	id := func(n int) []byte { return []byte(fmt.Sprintf("%s%d", tag, n)) }
	sy := e2eA("sync")
	for n := 1; n <= 3; n++ {
		w.OK(e2eT{sy, e2eA("create"), model, e2eProps("id", id(n), "n", int64(n))})
	}
	w.OK(e2eT{sy, e2eA("patch"), model, e2eProps("id", id(1), "extra", []byte("kept"))})
	w.OK(e2eT{sy, e2eA("update"), model, e2eProps("id", id(2), "n", int64(20))})
	w.OK(e2eT{sy, e2eA("delete"), model, e2eProps("id", id(3))})
	w.OK(e2eT{sy, e2eA("broadcast"), model, e2eProps("note", []byte(tag+"-note"))})
	w.OK(e2eT{sy, e2eA("create"), model, e2eProps("id", id(4))})
	s := func(n int) string { return string(id(n)) }
	return []stWant{
		stChange("created", s(1)), stChange("created", s(2)), stChange("created", s(3)),
		stChange("updated", s(1)), stChange("updated", s(2)), stChange("deleted", s(3)),
		{"broadcast", "note", tag + "-note"}, stChange("created", s(4)),
	}
}

// stRestart ends s, with SIGTERM (a clean exit required) or kill -9, and
// starts a server on the same --data with args.
func stRestart(t testing.TB, s *e2eServer, kill bool, args ...string) *e2eServer {
	t.Helper()
	if kill {
		stKill(t, s)
	} else {
		s.Stop()
	}
	return e2eStartServer(t, s.Data, args...)
}

// stKill kills s with SIGKILL and waits for it to be gone.
func stKill(t testing.TB, s *e2eServer) {
	t.Helper()
	s.Signal(syscall.SIGKILL)
	code, err := s.Wait(15 * time.Second)
	if err != nil {
		t.Fatalf("after SIGKILL: %v", err)
	}
	if code != -1 {
		t.Fatalf("after SIGKILL: exit status %d, want killed by the signal", code)
	}
}

// stEnds names the two ways a server ends before a restart.
var stEnds = []struct {
	name string
	kill bool
}{{"sigterm", false}, {"kill9", true}}

// TestStreamsRestartKeepsPosition: after creates, updates, a delete and a
// broadcast, a server stopped by SIGTERM or killed with kill -9 comes
// back on the same --data with the same epoch and the last Seq, and the
// next event is the one after it. Each type counts on its own, under the
// one epoch of the store file.
func TestStreamsRestartKeepsPosition(t *testing.T) {
	t.Parallel()
	for _, end := range stEnds {
		t.Run(end.name, func(t *testing.T) {
			t.Parallel()
			s := e2eStartServer(t, "", stArgs...)
			model, other := e2eA("ledger"), e2eA("ledger_other")
			sub := e2eDial(t, s.Addr, false)
			w := e2eDial(t, s.Addr, true)
			start := stSubscribe(t, sub, model)
			if start.Top != 0 {
				t.Fatalf("a new store's stream is at %d, want 0", start.Top)
			}
			events := stMix(t, w, model, "a")
			for i, want := range events {
				stExpect(t, sub, "ledger", int64(i+1), want)
			}
			last := int64(len(events))
			w.OK(e2eT{e2eA("sync"), e2eA("create"), other, e2eProps("id", []byte("o1"))})
			sub.Quiet()

			s2 := stRestart(t, s, end.kill, stArgs...)
			c := e2eDial(t, s2.Addr, false)
			pos := stSubscribe(t, c, model)
			if pos.Top != last || pos.Epoch != start.Epoch {
				t.Fatalf("after the restart: seq %d epoch %q, want %d %q", pos.Top, pos.Epoch, last, start.Epoch)
			}
			if o := stSubscribe(t, c, other); o.Top != 1 || o.Epoch != start.Epoch {
				t.Fatalf("the other type after the restart: seq %d epoch %q, want 1 %q", o.Top, o.Epoch, start.Epoch)
			}
			w2 := e2eDial(t, s2.Addr, true)
			w2.OK(e2eT{e2eA("sync"), e2eA("create"), model, e2eProps("id", []byte("a5"))})
			stExpect(t, c, "ledger", last+1, stChange("created", "a5"))
			w2.OK(e2eT{e2eA("sync"), e2eA("broadcast"), other, e2eProps("note", []byte("o"))})
			stExpect(t, c, "ledger_other", 2, stWant{"broadcast", "note", "o"})
			u := stParsePos(t, c.OK(e2eT{e2eA("sync"), e2eA("unsubscribe"), model, e2eL{}}), false)
			if u.Top != last+1 || u.Epoch != start.Epoch {
				t.Fatalf("unsubscribe: seq %d epoch %q, want %d %q", u.Top, u.Epoch, last+1, start.Epoch)
			}
			// The documents came back with their stream.
			got := w2.OK(e2eT{e2eA("sync"), e2eA("read"), model, e2eProps("id", []byte("a1"))})
			if v, _ := e2eGet(got, "extra"); e2eText(v) != "kept" {
				t.Fatalf("a1 after the restart: %s", e2eFmt(got))
			}
		})
	}
}

// TestStreamsRecoveryAcrossRestart: a client that saw Seq k and went
// away, while more events were made and the server restarted (SIGTERM or
// kill -9), subscribes with since k and the epoch on a new connection. It
// gets recovered true, then exactly the events k+1..Top in order, then
// the live pushes, the first of them right after the replay, with no gap
// or repeat, although another connection was creating all along.
func TestStreamsRecoveryAcrossRestart(t *testing.T) {
	t.Parallel()
	for _, end := range stEnds {
		t.Run(end.name, func(t *testing.T) {
			t.Parallel()
			s := e2eStartServer(t, "", stArgs...)
			model := e2eA("journal")
			sub := e2eDial(t, s.Addr, false)
			start := stSubscribe(t, sub, model)
			w := e2eDial(t, s.Addr, false)
			for n := 1; n <= 3; n++ {
				w.OK(e2eT{e2eA("sync"), e2eA("create"), model, e2eProps("id", []byte(fmt.Sprintf("j%d", n)))})
				stExpect(t, sub, "journal", int64(n), stChange("created", fmt.Sprintf("j%d", n)))
			}
			const k = 3
			sub.ws.Close()
			missed := stMix(t, w, model, "m")

			s2 := stRestart(t, s, end.kill, stArgs...)
			// Creates already in flight when the subscribe is sent:
			// wherever the subscribe falls among them, each event must
			// come once, in Seq order, by history or live.
			const live = 20
			w2 := e2eDial(t, s2.Addr, false)
			for n := range live {
				w2.Send(e2eT{e2eA("sync"), e2eA("create"), model, e2eProps("id", []byte(fmt.Sprintf("live%d", n))), int64(n)})
			}
			c := e2eDial(t, s2.Addr, true)
			pos := stRecover(t, c, model, k, start.Epoch)
			if !pos.Recovered || pos.Epoch != start.Epoch || pos.Top < k+int64(len(missed)) || pos.Top > k+int64(len(missed))+live {
				t.Fatalf("recovery from %d: %+v, want recovered in epoch %q at %d..%d", k, pos, start.Epoch, k+len(missed), k+len(missed)+live)
			}
			seq := int64(k)
			for _, want := range missed {
				seq++
				stExpect(t, c, "journal", seq, want)
			}
			for n := range live {
				seq++
				stExpect(t, c, "journal", seq, stChange("created", fmt.Sprintf("live%d", n)))
			}
			for n := range live {
				if r := w2.Reply(); !r.OK || r.Ref != int64(n) {
					t.Fatalf("create live%d: %s", n, e2eFmt(r.Term))
				}
			}
			c.Quiet()
			w2.OK(e2eT{e2eA("sync"), e2eA("create"), model, e2eProps("id", []byte("after"))})
			stExpect(t, c, "journal", seq+1, stChange("created", "after"))
		})
	}
}

// TestStreamsHistoryBounds: what is not in history is never replayed, and
// a stream whose history is short or gone still keeps its Seq.
func TestStreamsHistoryBounds(t *testing.T) {
	t.Parallel()
	create := func(c *e2eConn, model e2eA, id string) {
		c.t.Helper()
		c.OK(e2eT{e2eA("sync"), e2eA("create"), model, e2eProps("id", []byte(id))})
	}

	// --history-size 5 keeps the latest five events: from below Top-5
	// nothing is replayed, from Top-5 the five are.
	t.Run("size", func(t *testing.T) {
		t.Parallel()
		s := e2eStartServer(t, "", append([]string{"--history-size", "5"}, stArgs...)...)
		model := e2eA("floor")
		w := e2eDial(t, s.Addr, false)
		for n := 1; n <= 10; n++ {
			create(w, model, fmt.Sprintf("f%d", n))
		}
		epoch := stEpoch(t, w, model)
		c := e2eDial(t, s.Addr, false)
		for _, since := range []int64{0, 3, 4} {
			if pos := stRecover(t, c, model, since, epoch); pos.Recovered || pos.Top != 10 {
				t.Fatalf("since %d with 5 events kept of 10: %+v, want not recovered at 10", since, pos)
			}
			c.Quiet()
		}
		if pos := stRecover(t, c, model, 5, epoch); !pos.Recovered || pos.Top != 10 {
			t.Fatalf("since 5: %+v, want recovered at 10", pos)
		}
		for n := int64(6); n <= 10; n++ {
			stExpect(t, c, "floor", n, stChange("created", fmt.Sprintf("f%d", n)))
		}
		c.Quiet()
		if pos := stRecover(t, c, model, 10, epoch); !pos.Recovered {
			t.Fatalf("since Top: %+v, want recovered with nothing to replay", pos)
		}
		c.Quiet()
		if pos := stRecover(t, c, model, 11, epoch); pos.Recovered {
			t.Fatalf("since past Top: %+v, want not recovered", pos)
		}
		c.Quiet()
	})

	// A Seq of another epoch, or with none, is never recovered, even where
	// the same Seq of the right epoch is.
	t.Run("epoch", func(t *testing.T) {
		t.Parallel()
		s := e2eStartServer(t, "", stArgs...)
		model := e2eA("epochs")
		w := e2eDial(t, s.Addr, false)
		for n := 1; n <= 4; n++ {
			create(w, model, fmt.Sprintf("e%d", n))
		}
		epoch := stEpoch(t, w, model)
		c := e2eDial(t, s.Addr, false)
		// Another store's epoch: as a client of a wiped server holds.
		other := stEpoch(t, e2eDial(t, e2eStartServer(t, "").Addr, false), model)
		if other == epoch {
			t.Fatalf("two new stores have the same epoch %q", epoch)
		}
		for _, bad := range []string{other, epoch + "x", "0"} {
			if pos := stRecover(t, c, model, 2, bad); pos.Recovered || pos.Epoch != epoch || pos.Top != 4 {
				t.Fatalf("since 2 in epoch %q: %+v, want not recovered, epoch %q at 4", bad, pos, epoch)
			}
			c.Quiet()
		}
		pos := stParsePos(t, c.OK(e2eT{e2eA("sync"), e2eA("subscribe"), model, e2eProps("since", int64(2))}), true)
		if pos.Recovered {
			t.Fatalf("since 2 without an epoch: %+v, want not recovered", pos)
		}
		c.Quiet()
		if pos := stRecover(t, c, model, 2, epoch); !pos.Recovered {
			t.Fatalf("since 2 in the right epoch: %+v", pos)
		}
		stExpect(t, c, "epochs", 3, stChange("created", "e3"))
		stExpect(t, c, "epochs", 4, stChange("created", "e4"))
		c.Quiet()
	})

	// --history-ttl: events older than the TTL are not replayed; the
	// newer ones after them are.
	t.Run("ttl", func(t *testing.T) {
		t.Parallel()
		const ttl = time.Second
		s := e2eStartServer(t, "", append([]string{"--history-ttl", ttl.String()}, stArgs...)...)
		model := e2eA("aging")
		w := e2eDial(t, s.Addr, false)
		c := e2eDial(t, s.Addr, false)
		before := time.Now()
		create(w, model, "t1")
		epoch := stEpoch(t, w, model)
		pos := stRecover(t, c, model, 0, epoch)
		if time.Since(before) < ttl {
			// The event was appended after before and replayed, or not,
			// before now: younger than the TTL, it must be replayed.
			if !pos.Recovered {
				t.Fatalf("since 0 within the TTL: %+v, want recovered", pos)
			}
			stExpect(t, c, "aging", 1, stChange("created", "t1"))
		} else {
			t.Logf("the machine took %v, more than the TTL, to subscribe: the replay within the TTL is not checked", time.Since(before))
			if pos.Recovered {
				stExpect(t, c, "aging", 1, stChange("created", "t1"))
			}
		}
		create(w, model, "t2")
		stExpect(t, c, "aging", 2, stChange("created", "t2"))
		after := time.Now() // every event so far was appended before this
		// Nothing the server does can show that an event got older: the
		// test lets the TTL pass on the clock, which is the event waited
		// for. The server compares its clock (the same machine's) with
		// the time stored with each event.
		time.Sleep(time.Until(after.Add(ttl + 10*time.Millisecond)))
		d := e2eDial(t, s.Addr, false)
		for _, since := range []int64{0, 1} {
			if pos := stRecover(t, d, model, since, epoch); pos.Recovered || pos.Top != 2 {
				t.Fatalf("since %d past the TTL: %+v, want not recovered at 2", since, pos)
			}
			d.Quiet()
		}
		if pos := stRecover(t, d, model, 2, epoch); !pos.Recovered {
			t.Fatalf("since Top past the TTL: %+v, want recovered with nothing to replay", pos)
		}
		create(w, model, "t3")
		stExpect(t, d, "aging", 3, stChange("created", "t3"))
		stExpect(t, c, "aging", 3, stChange("created", "t3"))
		e := e2eDial(t, s.Addr, false)
		if pos := stRecover(t, e, model, 2, epoch); !pos.Recovered || pos.Top != 3 {
			t.Fatalf("since 2, the expired events before it: %+v, want recovered at 3", pos)
		}
		stExpect(t, e, "aging", 3, stChange("created", "t3"))
		e.Quiet()
	})

	// --history-size 0 keeps no event, yet Seq and epoch persist across a
	// kill -9.
	t.Run("none", func(t *testing.T) {
		t.Parallel()
		args := append([]string{"--history-size", "0"}, stArgs...)
		s := e2eStartServer(t, "", args...)
		model := e2eA("unkept")
		w := e2eDial(t, s.Addr, false)
		for n := 1; n <= 3; n++ {
			create(w, model, fmt.Sprintf("u%d", n))
		}
		epoch := stEpoch(t, w, model)
		c := e2eDial(t, s.Addr, false)
		if pos := stRecover(t, c, model, 2, epoch); pos.Recovered || pos.Top != 3 {
			t.Fatalf("since 2 with no history: %+v, want not recovered at 3", pos)
		}
		c.Quiet()
		if pos := stRecover(t, c, model, 3, epoch); !pos.Recovered {
			t.Fatalf("since Top with no history: %+v, want recovered (nothing was missed)", pos)
		}
		s2 := stRestart(t, s, true, args...)
		d := e2eDial(t, s2.Addr, false)
		if pos := stSubscribe(t, d, model); pos.Top != 3 || pos.Epoch != epoch {
			t.Fatalf("after kill -9 with no history: %+v, want seq 3 in epoch %q", pos, epoch)
		}
		create(e2eDial(t, s2.Addr, false), model, "u4")
		stExpect(t, d, "unkept", 4, stChange("created", "u4"))
	})

	// A server restarted with a smaller --history-size keeps, and so
	// replays, only the latest events of the new size.
	t.Run("shrunk", func(t *testing.T) {
		t.Parallel()
		s := e2eStartServer(t, "", append([]string{"--history-size", "100"}, stArgs...)...)
		model := e2eA("shrunk")
		w := e2eDial(t, s.Addr, false)
		for n := 1; n <= 30; n++ {
			create(w, model, fmt.Sprintf("s%d", n))
		}
		epoch := stEpoch(t, w, model)
		s2 := stRestart(t, s, false, append([]string{"--history-size", "5"}, stArgs...)...)
		c := e2eDial(t, s2.Addr, false)
		if pos := stRecover(t, c, model, 10, epoch); pos.Recovered || pos.Top != 30 {
			t.Errorf("since 10 with 5 events kept of 30: %+v, want not recovered at 30", pos)
			// Read what the server replayed, so the checks below see
			// their own replies.
			for n := int64(11); pos.Recovered && n <= 30; n++ {
				c.Push()
			}
		}
		c.Quiet()
		if pos := stRecover(t, c, model, 25, epoch); !pos.Recovered {
			t.Fatalf("since 25 with 5 events kept of 30: %+v, want recovered", pos)
		}
		for n := int64(26); n <= 30; n++ {
			stExpect(t, c, "shrunk", n, stChange("created", fmt.Sprintf("s%d", n)))
		}
		c.Quiet()
	})

	// A recovery never cuts its client off as a slow consumer: one that
	// would not fit its outbound queue (--max-queue) is refused, and one
	// that fits is delivered whole.
	t.Run("queue", func(t *testing.T) {
		t.Parallel()
		const n = 200
		s := e2eStartServer(t, "", append([]string{"--max-queue", "64"}, stArgs...)...)
		model := e2eA("backlog")
		w := e2eDial(t, s.Addr, false)
		// In flight 32 at a time: their replies, too, must fit the
		// queue of 64.
		for lo := 0; lo < n; lo += 32 {
			hi := min(lo+32, n)
			for i := lo; i < hi; i++ {
				w.Send(e2eT{e2eA("sync"), e2eA("broadcast"), model, e2eProps("note", []byte(fmt.Sprint(i))), int64(i)})
			}
			for i := lo; i < hi; i++ {
				if r := w.Reply(); !r.OK || r.Ref != int64(i) {
					t.Fatalf("broadcast %d: %s", i, e2eFmt(r.Term))
				}
			}
		}
		epoch := stEpoch(t, w, model)
		// A replay goes to the connection's queue at once, so the server
		// replays at most half the queue (32 events here): 200 missed
		// events are not recovered, and the connection lives on, not cut
		// as a slow consumer.
		c := e2eDial(t, s.Addr, false)
		if pos := stRecover(t, c, model, 0, epoch); pos.Recovered || pos.Top != n {
			t.Fatalf("since 0: %+v, want not recovered at %d", pos, n)
		}
		// 30 missed events fit: they are replayed, in order.
		const since = n - 30
		if pos := stRecover(t, c, model, since, epoch); !pos.Recovered || pos.Top != n {
			t.Fatalf("since %d: %+v, want recovered at %d", since, pos, n)
		}
		for i := since; i < n; i++ {
			op, data, err := c.ws.ReadMessage(e2eTimeout)
			if err != nil {
				t.Fatalf("the replay of %d events ended after %d: %v", n-since, i-since, err)
			}
			m, err := e2eDecodeFrame(op, data)
			if err != nil {
				t.Fatal(err)
			}
			p, ok := e2eParsePush(m)
			if v, _ := e2eGet(p.Props, "note"); !ok || p.Seq != int64(i+1) || e2eText(v) != fmt.Sprint(i) {
				t.Fatalf("replayed event %d: %s", i+1, e2eFmt(m))
			}
		}
		c.Quiet()
	})
}

// stWriter is one connection of TestStreamsDurabilityUnderLoad: it keeps
// window creates in flight, each with a client-chosen id, a random
// payload and its number as the Ref, until it has sent max or the server
// is gone.
type stWriter struct {
	name     string // of the round and the writer, the prefix of its ids
	ws       *e2eWS
	model    e2eA
	window   int
	max      int
	payloads [][]byte // of each create sent, by number
	acked    int      // creates answered ok, the first ones sent
	err      error    // what went wrong before the kill
}

func (w *stWriter) id(i int) string { return fmt.Sprintf("%s-%04d", w.name, i) }

func (w *stWriter) send(i int) error {
	payload := make([]byte, 1+(i*37+len(w.payloads)*11)%251)
	rand.Read(payload)
	w.payloads = append(w.payloads, payload)
	b, err := bert.Marshal(e2eT{e2eA("sync"), e2eA("create"), w.model,
		e2eProps("id", []byte(w.id(i)), "payload", payload, "n", int64(i)), int64(i)})
	if err != nil {
		return err
	}
	return w.ws.WriteMessage(wsBinary, b)
}

// run sends and reads until done, calling onAck for each
// acknowledgement. An error once killed is set is the server going away.
func (w *stWriter) run(onAck func(), killed *atomic.Bool) {
	fail := func(err error) {
		if !killed.Load() {
			w.err = err
		}
	}
	sent := 0
	for ; sent < w.window && sent < w.max; sent++ {
		if err := w.send(sent); err != nil {
			fail(fmt.Errorf("send %d: %w", sent, err))
			return
		}
	}
	for w.acked < sent {
		op, data, err := w.ws.ReadMessage(2 * e2eTimeout)
		if err != nil {
			fail(fmt.Errorf("after %d replies: %w", w.acked, err))
			return
		}
		m, err := e2eDecodeFrame(op, data)
		if err != nil {
			fail(err)
			return
		}
		r, ok := e2eParseReply(m)
		if !ok || !r.OK || r.Ref != int64(w.acked) {
			fail(fmt.Errorf("reply %d: %s", w.acked, e2eFmt(m)))
			return
		}
		w.acked++
		onAck()
		if sent < w.max {
			if err := w.send(sent); err != nil {
				fail(fmt.Errorf("send %d: %w", sent, err))
				return
			}
			sent++
		}
	}
}

// stSent is a create sent in TestStreamsDurabilityUnderLoad.
type stSent struct {
	payload []byte
	acked   bool
}

// stLoadAndKill runs writers connections of creates on model against s
// and kills s with kill -9 once killAt of them are acknowledged. It adds
// every create sent to sent and returns how many were acknowledged.
func stLoadAndKill(t *testing.T, s *e2eServer, model e2eA, round, writers, killAt int, sent map[string]stSent) int {
	t.Helper()
	var acks atomic.Int64
	var killed atomic.Bool
	reached := make(chan struct{})
	var reachedOnce sync.Once
	onAck := func() {
		if acks.Add(1) >= int64(killAt) {
			reachedOnce.Do(func() { close(reached) })
		}
	}
	ws := make([]*stWriter, writers)
	for i := range ws {
		conn, err := e2eDialWS(s.Addr, "/bullet", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		// 16 in flight per connection, under the 256 a session takes.
		ws[i] = &stWriter{name: fmt.Sprintf("r%dw%02d", round, i), ws: conn, model: model, window: 16, max: 100}
	}
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Go(func() { w.run(onAck, &killed) })
	}
	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()
	select {
	case <-reached:
	case <-allDone:
		for _, w := range ws {
			if w.err != nil {
				t.Fatalf("writer %s: %v", w.name, w.err)
			}
		}
		t.Fatalf("round %d: every writer ended with %d acknowledgements, before the kill at %d", round, acks.Load(), killAt)
	case <-time.After(60 * time.Second):
		t.Fatalf("round %d: %d acknowledgements in 60 s, want %d before the kill", round, acks.Load(), killAt)
	}
	killed.Store(true)
	stKill(t, s)
	select {
	case <-allDone:
	case <-time.After(3 * e2eTimeout):
		t.Fatalf("round %d: writers still reading 30 s after the kill", round)
	}
	acked, n := 0, 0
	for _, w := range ws {
		if w.err != nil {
			t.Fatalf("writer %s before the kill: %v", w.name, w.err)
		}
		for i, p := range w.payloads {
			sent[w.id(i)] = stSent{payload: p, acked: i < w.acked}
		}
		acked += w.acked
		n += len(w.payloads)
	}
	t.Logf("round %d: killed with %d of %d creates sent acknowledged", round, acked, n)
	if acked == n {
		t.Fatalf("round %d: every create sent (%d) was answered: the kill came after the load, not in it", round, n)
	}
	return acked
}

// TestStreamsDurabilityUnderLoad: 20 connections pipeline creates with
// client-chosen ids and random payloads, and the server is killed with
// kill -9 in the middle, three times over on the same --data. After each
// restart every acknowledged create is there byte for byte, and the
// history (since 0) holds one created event for each document and
// nothing else, Seqs 1..Top with no gap or repeat: a change and its event
// commit together or not at all.
func TestStreamsDurabilityUnderLoad(t *testing.T) {
	t.Parallel()
	const (
		writers = 20
		killAt  = 300 // acknowledgements before each kill, of the 2,000 a round sends at most
		rounds  = 3
	)
	// The history holds every event (at most 6,000 of about 200 bytes,
	// within the 1 MiB a recovery may take), and the replay fits the
	// client's queue.
	args := append([]string{"--history-size", "100000", "--max-queue", "100000", "--max-queue-size", "64MiB"}, stArgs...)
	s := e2eStartServer(t, "", args...)
	model := e2eA("durable")
	epoch := stEpoch(t, e2eDial(t, s.Addr, false), model)
	sent := map[string]stSent{}
	acked := 0
	for round := range rounds {
		acked += stLoadAndKill(t, s, model, round, writers, killAt, sent)
		s = e2eStartServer(t, s.Data, args...)
		c := e2eDial(t, s.Addr, false)
		pos := stRecover(t, c, model, 0, epoch)
		if !pos.Recovered || pos.Epoch != epoch || pos.Top < int64(acked) || pos.Top > int64(len(sent)) {
			t.Fatalf("round %d: since 0 after the kill: %+v, want recovered in epoch %q at %d..%d", round, pos, epoch, acked, len(sent))
		}
		inHistory := map[string]bool{}
		for seq := int64(1); seq <= pos.Top; seq++ {
			p := c.Push()
			id, _ := e2eGet(p.Props, "id")
			payload, _ := e2eGet(p.Props, "payload")
			key := e2eText(id)
			sc, ok := sent[key]
			if p.Event != "created" || p.Model != "durable" || p.Seq != seq || !ok || inHistory[key] {
				t.Fatalf("round %d: event %d of %d: %s (an unknown or repeated id, or out of order)", round, seq, pos.Top, e2eFmt(p.Term))
			}
			if !bytes.Equal(e2eBytes(payload), sc.payload) {
				t.Fatalf("round %d: event %d, %s: the payload differs from the one sent", round, seq, key)
			}
			inHistory[key] = true
		}
		c.Quiet()
		for id, sc := range sent {
			if sc.acked && !inHistory[id] {
				t.Fatalf("round %d: create %s was acknowledged but its event is not in history", round, id)
			}
		}

		// Every document of an event is stored, byte for byte (the
		// acknowledged ones among them), pipelined 200 reads at a time.
		var ids []string
		for id := range inHistory {
			ids = append(ids, id)
		}
		for lo := 0; lo < len(ids); lo += 200 {
			hi := min(lo+200, len(ids))
			for i := lo; i < hi; i++ {
				c.Send(e2eT{e2eA("sync"), e2eA("read"), model, e2eProps("id", []byte(ids[i])), int64(i)})
			}
			for i := lo; i < hi; i++ {
				r := c.Reply()
				if !r.OK || r.Ref != int64(i) {
					t.Fatalf("round %d: read %s: %s", round, ids[i], e2eFmt(r.Term))
				}
				if v, _ := e2eGet(r.Msg, "payload"); !bytes.Equal(e2eBytes(v), sent[ids[i]].payload) {
					t.Fatalf("round %d: document %s: %s, not the payload sent", round, ids[i], e2eFmt(r.Msg))
				}
			}
		}
		// And no document is stored without its event.
		stored := 0
		for {
			page := e2eList(c.OK(e2eT{e2eA("sync"), e2eA("read"), model, e2eProps("limit", int64(1000), "offset", int64(stored))}))
			if len(page) == 0 {
				break
			}
			for _, doc := range page {
				id, _ := e2eGet(doc, "id")
				if key := e2eText(id); !inHistory[key] {
					t.Fatalf("round %d: document %s (acknowledged: %v) is stored but has no event; the stream is at %d",
						round, key, sent[key].acked, pos.Top)
				}
			}
			stored += len(page)
		}
		if stored != len(inHistory) {
			t.Fatalf("round %d: %d documents stored, %d created events", round, stored, len(inHistory))
		}
	}
	s.Stop()
}

// TestStreamsRESTAndUpload: changes over REST (POST, PUT, PATCH, DELETE
// on /api/<model>) and a multipart upload are events of the same stream
// as Bullet changes and broadcasts, with consecutive Seqs, live and
// replayed alike.
func TestStreamsRESTAndUpload(t *testing.T) {
	t.Parallel()
	s := e2eStartServer(t, "", stArgs...)
	h := e2eNewHTTP(t, s)
	model := e2eA("restream")
	sub := e2eDial(t, s.Addr, true)
	start := stSubscribe(t, sub, model)
	ws := e2eDial(t, s.Addr, false)
	rest := func(method, path, ctype string, body []byte, want int) string {
		t.Helper()
		hdr := map[string]string{}
		if ctype != "" {
			hdr["Content-Type"] = ctype
		}
		resp := h.do(context.Background(), method, s.URL()+path, body, hdr)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %s %s, want %d", method, path, resp.Status, b, want)
		}
		return string(b)
	}
	const js = "application/json"
	var seen []e2ePush
	expect := func(want stWant) e2ePush {
		t.Helper()
		p := stExpect(t, sub, "restream", int64(len(seen)+1), want)
		seen = append(seen, p)
		return p
	}

	rest("POST", "/api/restream", js, []byte(`{"id":"r1","name":"Ann"}`), http.StatusCreated)
	expect(stChange("created", "r1"))
	rest("PUT", "/api/restream/r1", js, []byte(`{"name":"Bea","level":2}`), http.StatusOK)
	expect(stChange("updated", "r1"))
	ws.OK(e2eT{e2eA("sync"), e2eA("patch"), model, e2eProps("id", []byte("r1"), "level", int64(3))})
	expect(stChange("updated", "r1"))
	rest("PATCH", "/api/restream/r1", js, []byte(`{"level":4}`), http.StatusOK)
	expect(stChange("updated", "r1"))
	file := bytes.Repeat([]byte("streamed upload\n"), 300)
	body, ctype := e2eMultipart(t, "notes.txt", file)
	if got := rest("PUT", "/api/restream/r1", ctype, body, http.StatusOK); !strings.Contains(got, `"file"`) {
		t.Fatalf("upload answered %s", got)
	}
	up := expect(stChange("updated", "r1"))
	f, _ := e2eGet(up.Props, "file")
	if name, _ := e2eGet(f, "name"); e2eText(name) != "notes.txt" {
		t.Fatalf("the upload's push has file %s", e2eFmt(f))
	}
	if size, _ := e2eGet(f, "size"); size != int64(len(file)) {
		t.Fatalf("the upload's push has file %s, want size %d", e2eFmt(f), len(file))
	}
	ws.OK(e2eT{e2eA("sync"), e2eA("broadcast"), model, e2eProps("note", []byte("hi"))})
	expect(stWant{"broadcast", "note", "hi"})
	created := rest("POST", "/api/restream", js, []byte(`{"name":"Cy"}`), http.StatusCreated)
	p := sub.Push()
	id, _ := e2eGet(p.Props, "id")
	if p.Event != "created" || p.Seq != int64(len(seen)+1) || !strings.Contains(created, `"id":"`+e2eText(id)+`"`) {
		t.Fatalf("push %s after a REST create without an id that answered %s", e2eFmt(p.Term), created)
	}
	seen = append(seen, p)
	rest("DELETE", "/api/restream/r1", "", nil, http.StatusOK)
	expect(stChange("deleted", "r1"))
	sub.Quiet()

	// The history holds the same events: a client that saw none
	// recovers them all, the same terms with the same Seqs.
	c := e2eDial(t, s.Addr, true)
	pos := stRecover(t, c, model, 0, start.Epoch)
	if !pos.Recovered || pos.Top != int64(len(seen)) {
		t.Fatalf("since 0: %+v, want recovered at %d", pos, len(seen))
	}
	for _, want := range seen {
		if got := c.Push(); e2eFmt(got.Term) != e2eFmt(want.Term) {
			t.Fatalf("replayed %s, pushed live %s", e2eFmt(got.Term), e2eFmt(want.Term))
		}
	}
	c.Quiet()
}
