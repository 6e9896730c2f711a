package actors

import (
	"bytes"
	"context"
	"testing"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/models"
)

// A push must not overtake a reply that its model actor sent before it.
// The test makes the push follow the reply closely: the create is in the
// model's mailbox, behind the read, when the read is released.
func TestPushAfterEarlierReply(t *testing.T) {
	t.Parallel()
	entered, release := make(chan struct{}, 1), make(chan struct{})
	// Reads wait for release; creates answer at once, so that the push
	// of a create queued behind a read follows the read's reply closely.
	h := models.HandlerFunc(func(_ context.Context, req models.Request) (any, error) {
		if req.Method == models.Read {
			entered <- struct{}{}
			<-release
		}
		return req.Props, nil
	})
	// A session sends its requests to their model actors in order, each
	// before it reads the next frame: once p's request to mark reaches the
	// handler, p's create before it is in g's mailbox.
	queued := make(chan struct{}, 1)
	mark := models.HandlerFunc(func(_ context.Context, req models.Request) (any, error) {
		queued <- struct{}{}
		return req.Props, nil
	})
	sys := newTestSystem(t, Config{}, map[string]models.Handler{"g": h, "mark": mark})
	ts, tp := newFakeTransport(100), newFakeTransport(100)
	s, p := sys.NewSession(ts), sys.NewSession(tp)
	send(t, s, request("subscribe", "g", nil))
	reply, _ := ts.next(t)
	wantOK(t, reply)

	for i := range 20 {
		send(t, s, request("read", "g", nil, int64(i)))
		waitSignal(t, entered, "the read handler")
		send(t, p, request("create", "g", nil, bert.Atom("create")))
		send(t, p, request("read", "mark", nil, bert.Atom("mark")))
		waitSignal(t, queued, "the marker handler")
		release <- struct{}{}
		reply, _ := tp.next(t)
		wantOK(t, reply, bert.Atom("create"))
		reply, _ = tp.next(t)
		wantOK(t, reply, bert.Atom("mark"))
		reply, _ = ts.next(t)
		wantOK(t, reply, int64(i))
		push, _ := ts.next(t)
		wantPush(t, push, "created", "g", int64(i+1))
	}
}

// Pushes keep their Seq order while the subscriber goes from idle to busy
// with requests of its own and back, and replies keep theirs.
func TestPushOrderWhileBusy(t *testing.T) {
	t.Parallel()
	const n = 300
	sys := newTestSystem(t, Config{}, map[string]models.Handler{"m": echo, "other": echo})
	ts := newFakeTransport(4 * n)
	s := sys.NewSession(ts)
	send(t, s, request("subscribe", "m", nil))
	reply, _ := ts.next(t)
	wantOK(t, reply)

	done := make(chan error, 1)
	go func() {
		for range n {
			if _, err := sys.Call(context.Background(), models.Request{Method: models.Create, Model: "m"}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	var replies, pushes int64
	// take reads one frame and checks it comes in order.
	take := func() {
		t.Helper()
		term, fr := ts.next(t)
		if fr.Reply {
			wantOK(t, term, replies)
			replies++
			return
		}
		pushes++
		wantPush(t, term, "created", "m", pushes)
	}
	for i := range int64(n) {
		model := "m"
		if i%3 == 0 {
			model = "other"
		}
		send(t, s, request("read", model, nil, i))
		if i%4 == 0 {
			// Wait for the replies now and then, so that the session
			// goes idle while pushes keep coming.
			for replies <= i {
				take()
			}
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for replies < n || pushes < n {
		take()
	}
}

// A push to text subscribers is marked Text and carries the same bytes,
// the one encoding of the push, to every subscriber, so that the gateway
// can convert it to a text frame once for all of them.
func TestTextPushSharedBytes(t *testing.T) {
	t.Parallel()
	sys := newTestSystem(t, Config{}, map[string]models.Handler{"m": echo})
	ta, tb, tp := newFakeTransport(10), newFakeTransport(10), newFakeTransport(10)
	a, b, p := sys.NewSession(ta), sys.NewSession(tb), sys.NewSession(tp)
	for _, st := range []struct {
		s  *Session
		tr *fakeTransport
	}{{a, ta}, {b, tb}} {
		st.s.Deliver(Frame{Data: enc(t, request("subscribe", "m", nil)), Text: true})
		reply, _ := st.tr.next(t)
		wantOK(t, reply)
	}
	send(t, p, request("create", "m", kv("name", []byte("é\x00\xff"))))
	tp.next(t)
	_, fa := ta.next(t)
	_, fb := tb.next(t)
	if !fa.Text || !fb.Text || fa.Reply || fb.Reply {
		t.Fatalf("text pushes: a Text %v Reply %v, b Text %v Reply %v", fa.Text, fa.Reply, fb.Text, fb.Reply)
	}
	if len(fa.Data) == 0 || fa.Data[0] != 131 || !bytes.Equal(fa.Data, fb.Data) {
		t.Fatalf("push bytes: a % x, b % x", fa.Data, fb.Data)
	}
	if &fa.Data[0] != &fb.Data[0] {
		t.Fatal("each subscriber got its own encoding of the push")
	}
}
