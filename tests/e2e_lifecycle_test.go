package tests

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// TestE2ERestart writes, stops the server with SIGTERM (exit 0), starts a
// new one on the same --data and reads everything back.
func TestE2ERestart(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	s := e2eStartServer(t, data)
	c := e2eDial(t, s.Addr, false)
	model := e2eA("ledger")
	var ids []string
	for i := range 20 {
		m := c.OK(e2eT{e2eA("sync"), e2eA("create"), model, e2eProps("n", int64(i), "pi", 3.25)})
		id, _ := e2eGet(m, "id")
		ids = append(ids, e2eText(id))
	}
	c.OK(e2eT{e2eA("sync"), e2eA("patch"), model, e2eProps("id", []byte(ids[0]), "extra", []byte("kept"))})
	c.OK(e2eT{e2eA("sync"), e2eA("delete"), model, e2eProps("id", []byte(ids[1]))})
	s.Stop()

	s2 := e2eStartServer(t, data)
	c2 := e2eDial(t, s2.Addr, true)
	all := c2.OK(e2eT{e2eA("sync"), e2eA("read"), model, e2eL{}})
	if l, ok := all.(e2eL); !ok || len(l) != 19 {
		t.Fatalf("after restart the collection is %s, want 19 documents", e2eFmt(all))
	}
	got := c2.OK(e2eT{e2eA("sync"), e2eA("read"), model, e2eProps("id", []byte(ids[0]))})
	if v, _ := e2eGet(got, "extra"); e2eText(v) != "kept" {
		t.Fatalf("patched document after restart: %s", e2eFmt(got))
	}
	if v, _ := e2eGet(got, "pi"); v != 3.25 {
		t.Fatalf("float after restart: %s", e2eFmt(v))
	}
	got = c2.OK(e2eT{e2eA("sync"), e2eA("read"), model, e2eProps("id", []byte(ids[7]))})
	if v, _ := e2eGet(got, "n"); v != int64(7) {
		t.Fatalf("document 7 after restart: %s", e2eFmt(got))
	}
	if code := c2.Err(e2eT{e2eA("sync"), e2eA("read"), model, e2eProps("id", []byte(ids[1]))}); code != "not_found" {
		t.Fatalf("deleted document after restart: %s", code)
	}
	s2.Stop()
}

// TestE2ESigtermAnswersInFlight pipelines many creates, sends SIGTERM as
// soon as the first reply arrives, and then requires: the process exits 0,
// every reply read is ok (or unavailable for requests refused during
// shutdown), the connection ends rather than hangs, and every acknowledged
// create is there after a restart.
func TestE2ESigtermAnswersInFlight(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	s := e2eStartServer(t, data)
	c := e2eDial(t, s.Addr, false)
	model := e2eA("inflight")
	// Fewer than the server's 256 pending requests per session, which
	// it would answer rate_limited.
	const n = 200
	for i := range n {
		c.Send(e2eT{e2eA("sync"), e2eA("create"), model, e2eProps("id", []byte(fmt.Sprint(i))), int64(i)})
	}
	acked := map[string]bool{}
	unavailable := 0
	signalled := false
	for {
		op, msg, err := c.ws.ReadMessage(20 * time.Second)
		if err != nil {
			var ce *e2eWSCloseError
			var ne net.Error
			switch {
			case errors.As(err, &ce), errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
			case errors.As(err, &ne) && ne.Timeout():
				t.Fatalf("connection neither answered nor closed 20s after SIGTERM (%d acked)", len(acked))
			default:
				t.Logf("connection ended: %v", err)
			}
			break
		}
		m, err := e2eDecodeFrame(op, msg)
		if err != nil {
			t.Fatal(err)
		}
		r, ok := e2eParseReply(m)
		if !ok {
			t.Fatalf("not a reply: %s", e2eFmt(m))
		}
		if !signalled {
			s.Signal(syscall.SIGTERM)
			signalled = true
		}
		switch {
		case r.OK:
			acked[fmt.Sprint(r.Ref)] = true
		case r.Code == "unavailable":
			unavailable++
		default:
			t.Fatalf("reply during shutdown: %s", e2eFmt(r.Term))
		}
		if len(acked)+unavailable == n {
			break
		}
	}
	code, err := s.Wait(15 * time.Second)
	if err != nil || code != 0 {
		t.Fatalf("after SIGTERM: exit %d, %v\n%s", code, err, s.Log())
	}
	t.Logf("%d of %d requests acknowledged, %d refused as unavailable", len(acked), n, unavailable)
	if len(acked) == 0 {
		t.Fatal("no request was answered")
	}

	s2 := e2eStartServer(t, data)
	c2 := e2eDial(t, s2.Addr, false)
	all := c2.OK(e2eT{e2eA("sync"), e2eA("read"), model, e2eProps("limit", int64(n))})
	stored := map[string]bool{}
	for _, doc := range e2eList(all) {
		id, _ := e2eGet(doc, "id")
		stored[e2eText(id)] = true
	}
	for id := range acked {
		if !stored[id] {
			t.Fatalf("create %s was acknowledged but is gone after restart", id)
		}
	}
}
