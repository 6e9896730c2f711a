package actors

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/models"
)

// directTransport is a fakeTransport that takes pushes from the model
// actors' goroutines ([PushSender]). Once gated, a reply the session
// actor sends waits until the gate opens, as if the actor were slow: what
// it sends reaches the frames channel only then, while a push queued
// directly reaches it at once.
type directTransport struct {
	*fakeTransport
	direct  atomic.Int64 // pushes that came through SendPush
	gated   atomic.Bool
	gate    chan struct{}
	waiting chan struct{} // a value each time a reply starts waiting
}

var _ PushSender = (*directTransport)(nil)

func newDirectTransport(capacity int) *directTransport {
	return &directTransport{fakeTransport: newFakeTransport(capacity), gate: make(chan struct{}), waiting: make(chan struct{}, 10)}
}

func (d *directTransport) Send(f Frame) error {
	if f.Reply && d.gated.Load() {
		d.waiting <- struct{}{}
		select {
		case <-d.gate:
		case <-time.After(waitLimit):
		}
	}
	return d.fakeTransport.Send(f)
}

func (d *directTransport) SendPush(f Frame) error {
	d.direct.Add(1)
	return d.fakeTransport.Send(f)
}

// An idle subscriber gets its pushes straight from the model actor, in
// order, in the frame type of its latest request.
func TestDirectPushWhenIdle(t *testing.T) {
	t.Parallel()
	const n = 50
	sys := newTestSystem(t, Config{}, map[string]models.Handler{"m": echo})
	ts := newDirectTransport(2 * n)
	s := sys.NewSession(ts)
	s.Deliver(Frame{Data: enc(t, request("subscribe", "m", nil)), Text: true})
	reply, _ := ts.next(t)
	wantOK(t, reply)
	eventually(t, "the session has no request in flight", func() bool { return s.inflight.Load() == 0 })
	for range n {
		if _, err := sys.Call(context.Background(), models.Request{Method: models.Create, Model: "m"}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range int64(n) {
		push, fr := ts.next(t)
		wantPush(t, push, "created", "m", i+1)
		if !fr.Text || fr.Reply {
			t.Fatalf("push %d: Text %v, Reply %v; want a text push", i+1, fr.Text, fr.Reply)
		}
	}
	if got := ts.direct.Load(); got != n {
		t.Errorf("%d of %d pushes came through SendPush, want all: the session was idle", got, n)
	}
}

// A push never overtakes a reply its model actor sent before it, even
// while the session actor is too busy to send that reply: here it is held
// up sending an earlier reply, when g answers the read and then pushes a
// create. A push queued on the transport as the model actor sends it
// would reach the client first.
func TestDirectPushNeverOvertakesReply(t *testing.T) {
	t.Parallel()
	gRead, hDone := make(chan struct{}, 1), make(chan struct{}, 1)
	g := models.HandlerFunc(func(_ context.Context, req models.Request) (any, error) {
		if req.Method == models.Read {
			gRead <- struct{}{}
		}
		return req.Props, nil
	})
	// h answers once g has the read: the read is then in g's hands
	// before h's reply can hold the session actor up.
	h := models.HandlerFunc(func(_ context.Context, req models.Request) (any, error) {
		waitSignal(t, gRead, "g's read handler")
		hDone <- struct{}{}
		return req.Props, nil
	})
	sys := newTestSystem(t, Config{}, map[string]models.Handler{"g": g, "h": h})
	ts, tp := newDirectTransport(10), newFakeTransport(10)
	s, p := sys.NewSession(ts), sys.NewSession(tp)
	send(t, s, request("subscribe", "g", nil))
	reply, _ := ts.next(t)
	wantOK(t, reply)
	eventually(t, "the session has no request in flight", func() bool { return s.inflight.Load() == 0 })

	ts.gated.Store(true)
	send(t, s, request("read", "h", nil, bert.Atom("h")))
	send(t, s, request("read", "g", nil, bert.Atom("g")))
	waitSignal(t, hDone, "h's read handler")
	waitSignal(t, ts.waiting, "the session actor sending h's reply")
	// g answers the read before it takes the create; the create's reply
	// to p comes after its push to s.
	send(t, p, request("create", "g", nil))
	reply, _ = tp.next(t)
	wantOK(t, reply)
	close(ts.gate)

	reply, _ = ts.next(t)
	wantOK(t, reply, bert.Atom("h"))
	reply, _ = ts.next(t)
	wantOK(t, reply, bert.Atom("g"))
	push, _ := ts.next(t)
	wantPush(t, push, "created", "g", 1)

	// Idle again, s gets the next push directly.
	eventually(t, "the session has no request in flight", func() bool { return s.inflight.Load() == 0 })
	send(t, p, request("create", "g", nil))
	reply, _ = tp.next(t)
	wantOK(t, reply)
	push, _ = ts.next(t)
	wantPush(t, push, "created", "g", 2)
	if ts.direct.Load() != 1 {
		t.Errorf("%d pushes came through SendPush, want the second only", ts.direct.Load())
	}
}

// A push that the transport refuses ends the session as a slow consumer,
// as a refused send of the session actor does.
func TestDirectPushSlowConsumer(t *testing.T) {
	t.Parallel()
	sys := newTestSystem(t, Config{}, map[string]models.Handler{"m": echo})
	ts := newDirectTransport(1)
	s := sys.NewSession(ts)
	send(t, s, request("subscribe", "m", nil))
	eventually(t, "the session has no request in flight", func() bool { return s.inflight.Load() == 0 })
	// The subscribe's reply fills the queue, which nobody reads.
	for range 3 {
		if _, err := sys.Call(context.Background(), models.Request{Method: models.Create, Model: "m"}); err != nil {
			t.Fatal(err)
		}
	}
	if got := ts.waitClosed(t); got != SlowConsumer {
		t.Fatalf("transport closed with %v, want %v", got, SlowConsumer)
	}
	if ts.direct.Load() == 0 {
		t.Error("no push came through SendPush")
	}
}
