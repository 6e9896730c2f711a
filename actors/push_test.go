package actors

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/bertsync/bertsync/models"
)

// A push must not overtake a reply that its model actor sent before it.
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
	sys := newTestSystem(t, Config{}, map[string]models.Handler{"g": h})
	ts, tp := newFakeTransport(100), newFakeTransport(100)
	s, p := sys.NewSession(ts), sys.NewSession(tp)
	send(t, s, request("subscribe", "g", nil))
	reply, _ := ts.next(t)
	wantOK(t, reply)

	for i := range 20 {
		send(t, s, request("read", "g", nil, int64(i)))
		<-entered
		send(t, p, request("create", "g", nil))
		time.Sleep(2 * time.Millisecond) // the create waits in the model's mailbox
		release <- struct{}{}
		reply, _ := tp.next(t)
		wantOK(t, reply)
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

// A push in text frames is converted to a binary string once, and the
// same bytes go to every text subscriber.
func TestTextPushConvertedOnce(t *testing.T) {
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
	want := binaryString(fa.Data)
	if !fa.Text || !bytes.Equal(fa.TextWire, want) {
		t.Fatalf("text push: Text %v, TextWire % x, want % x", fa.Text, fa.TextWire, want)
	}
	if !bytes.HasPrefix(fa.TextWire, []byte{0xC2, 0x83}) {
		t.Fatalf("TextWire % x does not start with U+0083", fa.TextWire[:2])
	}
	if &fa.TextWire[0] != &fb.TextWire[0] {
		t.Fatal("each subscriber got its own conversion of the push")
	}
}
