package actors

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/models"
)

func TestCRUD(t *testing.T) {
	t.Parallel()
	sys := newTestSystem(t, Config{}, map[string]models.Handler{"character": newMemModel()})
	tr := newFakeTransport(100)
	s := sys.NewSession(tr)

	send(t, s, request("create", "character", kv("name", []byte("Arthur"))))
	reply, _ := tr.next(t)
	created := wantOK(t, reply)
	id := text(t, prop(t, created, "id"))
	if got := string(prop(t, created, "name").([]byte)); got != "Arthur" {
		t.Fatalf("created name %q", got)
	}

	// BERT-JS sends ids as byte lists: the same text as the binary.
	send(t, s, request("read", "character", kv("id", bert.ByteList(id))))
	reply, _ = tr.next(t)
	if got := string(prop(t, wantOK(t, reply), "name").([]byte)); got != "Arthur" {
		t.Fatalf("read name %q", got)
	}

	send(t, s, request("patch", "character", kv("id", []byte(id), "age", int64(42))))
	reply, _ = tr.next(t)
	patched := wantOK(t, reply)
	if prop(t, patched, "age") != int64(42) || string(prop(t, patched, "name").([]byte)) != "Arthur" {
		t.Fatalf("patched %s", format(patched))
	}

	send(t, s, request("update", "character", kv("id", []byte(id), "name", []byte("Ford"))))
	reply, _ = tr.next(t)
	wantOK(t, reply)

	send(t, s, request("read", "character", nil))
	reply, _ = tr.next(t)
	list, ok := wantOK(t, reply).(bert.List)
	if !ok || len(list) != 1 || string(prop(t, list[0], "name").([]byte)) != "Ford" {
		t.Fatalf("collection %s", format(reply))
	}

	send(t, s, request("delete", "character", kv("id", []byte(id))))
	reply, _ = tr.next(t)
	wantOK(t, reply)

	send(t, s, request("read", "character", kv("id", []byte(id))))
	reply, _ = tr.next(t)
	wantError(t, reply, models.CodeNotFound)
}

func TestRefAndNestedForm(t *testing.T) {
	t.Parallel()
	sys := newTestSystem(t, Config{}, map[string]models.Handler{"echo": echo})
	tr := newFakeTransport(100)
	s := sys.NewSession(tr)

	ref := bert.Tuple{bert.Atom("ref"), int64(7), []byte("x")}
	send(t, s, request("read", "echo", kv("a", int64(1)), ref))
	reply, _ := tr.next(t)
	if prop(t, wantOK(t, reply, ref), "a") != int64(1) {
		t.Fatalf("reply %s", format(reply))
	}

	// The second seed's form, with method and model as binaries.
	send(t, s, bert.Tuple{bert.Atom("sync"), bert.Tuple{[]byte("read"), []byte("echo"), kv("b", int64(2))}})
	reply, _ = tr.next(t)
	if prop(t, wantOK(t, reply), "b") != int64(2) {
		t.Fatalf("reply %s", format(reply))
	}

	// An error keeps the Ref.
	send(t, s, request("read", "nosuch", nil, int64(99)))
	reply, _ = tr.next(t)
	wantError(t, reply, models.CodeNotFound, int64(99))
}

// TestReplyOrder: a fast model's reply waits for a slow model's reply to
// an earlier request of the same connection.
func TestReplyOrder(t *testing.T) {
	t.Parallel()
	slow := newGate()
	fastCalled := make(chan struct{}, 10)
	fast := models.HandlerFunc(func(_ context.Context, req models.Request) (any, error) {
		if req.Method == models.Read {
			fastCalled <- struct{}{}
		}
		return req.Props, nil
	})
	sys := newTestSystem(t, Config{}, map[string]models.Handler{"slow": slow, "fast": fast})
	tr := newFakeTransport(100)
	s := sys.NewSession(tr)

	send(t, s, request("subscribe", "fast", nil))
	reply, _ := tr.next(t)
	wantOK(t, reply)

	send(t, s, request("read", "slow", kv("n", int64(1))))
	slow.waitEntered(t)
	send(t, s, request("read", "fast", kv("n", int64(2))))
	<-fastCalled
	// The fast model answered read 2; a change it pushes now reaches the
	// session after that reply, so the push coming out first proves the
	// reply is being held back.
	if _, err := sys.Call(context.Background(), models.Request{Method: models.Create, Model: "fast", Props: models.Props{{Key: "n", Value: int64(3)}}}); err != nil {
		t.Fatal(err)
	}
	push, _ := tr.next(t)
	wantPush(t, push, "created", "fast", 1)

	close(slow.release)
	for _, n := range []int64{1, 2} {
		reply, _ := tr.next(t)
		if got := prop(t, wantOK(t, reply), "n"); got != n {
			t.Fatalf("reply for n=%v came when n=%d was due", got, n)
		}
	}
}

func TestPushesAcrossSessions(t *testing.T) {
	t.Parallel()
	sys := newTestSystem(t, Config{}, map[string]models.Handler{"character": newMemModel()})
	ta, tb := newFakeTransport(100), newFakeTransport(100)
	a, b := sys.NewSession(ta), sys.NewSession(tb)

	send(t, b, request("subscribe", "character", nil))
	reply, _ := tb.next(t)
	if seq := prop(t, wantOK(t, reply), "seq"); seq != int64(0) {
		t.Fatalf("subscribe replied %s, want Seq 0", format(reply))
	}

	send(t, a, request("create", "character", kv("name", []byte("Zaphod"))))
	reply, _ = ta.next(t)
	id := prop(t, wantOK(t, reply), "id")
	push, _ := tb.next(t)
	if string(prop(t, wantPush(t, push, "created", "character", 1), "name").([]byte)) != "Zaphod" {
		t.Fatalf("push %s", format(push))
	}

	// A change over Call (REST) is pushed too.
	if _, err := sys.Call(context.Background(), models.Request{Method: models.Patch, Model: "character", ID: string(id.([]byte)),
		Props: models.Props{{Key: "id", Value: id}, {Key: "heads", Value: int64(2)}}}); err != nil {
		t.Fatal(err)
	}
	push, _ = tb.next(t)
	if prop(t, wantPush(t, push, "updated", "character", 2), "heads") != int64(2) {
		t.Fatalf("push %s", format(push))
	}

	send(t, a, request("delete", "character", kv("id", id)))
	reply, _ = ta.next(t)
	wantOK(t, reply)
	push, _ = tb.next(t)
	wantPush(t, push, "deleted", "character", 3)

	// After unsubscribe, no more pushes: the next frame b gets is the
	// reply to its own request.
	send(t, b, request("unsubscribe", "character", nil))
	reply, _ = tb.next(t)
	wantOK(t, reply)
	send(t, a, request("create", "character", nil))
	reply, _ = ta.next(t)
	wantOK(t, reply)
	send(t, b, request("read", "character", nil, bert.Atom("mine")))
	reply, _ = tb.next(t)
	wantOK(t, reply, bert.Atom("mine"))
}

func TestBroadcastExcludesSender(t *testing.T) {
	t.Parallel()
	sys := newTestSystem(t, Config{}, map[string]models.Handler{"chat": echo})
	ta, tb, tc := newFakeTransport(100), newFakeTransport(100), newFakeTransport(100)
	a, b, c := sys.NewSession(ta), sys.NewSession(tb), sys.NewSession(tc)
	for _, st := range []struct {
		s  *Session
		tr *fakeTransport
	}{{a, ta}, {b, tb}} {
		send(t, st.s, request("subscribe", "chat", nil))
		reply, _ := st.tr.next(t)
		wantOK(t, reply)
	}

	send(t, a, request("broadcast", "chat", kv("text", []byte("hi"))))
	reply, _ := ta.next(t)
	if wantOK(t, reply) != int64(1) {
		t.Fatalf("broadcast reply %s, want Seq 1", format(reply))
	}
	push, _ := tb.next(t)
	if string(prop(t, wantPush(t, push, "broadcast", "chat", 1), "text").([]byte)) != "hi" {
		t.Fatalf("push %s", format(push))
	}
	// a (the sender) got only its reply; c never subscribed. Their next
	// frames are replies to new requests.
	for _, st := range []struct {
		s  *Session
		tr *fakeTransport
	}{{a, ta}, {c, tc}} {
		send(t, st.s, request("read", "chat", nil, int64(5)))
		reply, _ := st.tr.next(t)
		wantOK(t, reply, int64(5))
	}
}

func TestFrameTypes(t *testing.T) {
	t.Parallel()
	sys := newTestSystem(t, Config{}, map[string]models.Handler{"m": echo})
	tr, other := newFakeTransport(100), newFakeTransport(100)
	s, o := sys.NewSession(tr), sys.NewSession(other)

	s.Deliver(Frame{Data: enc(t, request("subscribe", "m", nil)), Text: true})
	_, fr := tr.next(t)
	if !fr.Text {
		t.Fatal("reply to a text frame went as binary")
	}
	send(t, o, request("create", "m", nil))
	other.next(t)
	_, fr = tr.next(t)
	if !fr.Text {
		t.Fatal("push went as binary before the client sent binary")
	}
	send(t, s, request("read", "m", nil))
	if _, fr = tr.next(t); fr.Text {
		t.Fatal("reply to a binary frame went as text")
	}
	send(t, o, request("create", "m", nil))
	other.next(t)
	if _, fr = tr.next(t); fr.Text {
		t.Fatal("push went as text after the client sent binary")
	}
}

func TestBadFrames(t *testing.T) {
	t.Parallel()
	sys := newTestSystem(t, Config{MaxMessageSize: 4096}, map[string]models.Handler{"m": echo})
	tr := newFakeTransport(100)
	s := sys.NewSession(tr)

	valid := enc(t, request("read", "m", nil))
	tests := []struct {
		name string
		data []byte
		code models.Code
		ref  []any
		want string // in the message
	}{
		{"garbage", []byte("hello"), models.CodeBadRequest, nil, "BERT"},
		{"empty", nil, models.CodeBadRequest, nil, "BERT"},
		{"truncated", valid[:len(valid)-3], models.CodeBadRequest, nil, "BERT"},
		{"not a tuple", enc(t, bert.List{bert.Atom("sync")}), models.CodeBadRequest, nil, "{sync, Method"},
		{"not sync", enc(t, bert.Tuple{bert.Atom("cast"), bert.Atom("read"), bert.Atom("m"), bert.List{}}), models.CodeBadRequest, nil, "sync"},
		{"wrong size", enc(t, bert.Tuple{bert.Atom("sync"), bert.Atom("read"), bert.Atom("m")}), models.CodeBadRequest, nil, "3 elements"},
		{"unknown method", enc(t, request("frobnicate", "m", nil, int64(1))), models.CodeBadRequest, []any{int64(1)}, "unknown method"},
		{"method not text", enc(t, bert.Tuple{bert.Atom("sync"), int64(3), bert.Atom("m"), bert.List{}, int64(2)}), models.CodeBadRequest, []any{int64(2)}, "method"},
		{"bad props", enc(t, bert.Tuple{bert.Atom("sync"), bert.Atom("read"), bert.Atom("m"), int64(5), int64(3)}), models.CodeBadRequest, []any{int64(3)}, "props"},
		{"empty model", enc(t, bert.Tuple{bert.Atom("sync"), bert.Atom("read"), []byte(""), bert.List{}}), models.CodeBadRequest, nil, "model"},
		{"unknown model", enc(t, request("read", "nosuch", nil)), models.CodeNotFound, nil, "nosuch"},
		{"too large", enc(t, request("create", "m", kv("blob", bytes.Repeat([]byte("x"), 5000)))), models.CodeTooLarge, nil, "limit"},
	}
	for _, tc := range tests {
		s.Deliver(Frame{Data: tc.data})
		reply, _ := tr.next(t)
		msg := wantError(t, reply, tc.code, tc.ref...)
		if !strings.Contains(msg, tc.want) {
			t.Errorf("%s: message %q lacks %q", tc.name, msg, tc.want)
		}
	}
	// The session lives on.
	send(t, s, request("read", "m", kv("ok", bert.Atom("yes"))))
	reply, _ := tr.next(t)
	wantOK(t, reply)
	if sys.modelCount() != 1 {
		t.Fatalf("%d model actors, want 1: an unknown type must not spawn one", sys.modelCount())
	}
}

func TestUnknownModelSpawnsNothing(t *testing.T) {
	t.Parallel()
	sys := newTestSystem(t, Config{}, map[string]models.Handler{"m": echo})
	_, err := sys.Call(context.Background(), models.Request{Method: models.Read, Model: "ghost"})
	if models.CodeOf(err) != models.CodeNotFound || !strings.Contains(err.Error(), "ghost") {
		t.Fatalf("Call on an unknown type: %v", err)
	}
	if n := sys.modelCount(); n != 0 {
		t.Fatalf("%d model actors after a request for an unknown type", n)
	}
}

func TestRateLimited(t *testing.T) {
	t.Parallel()
	g := newGate()
	sys := newTestSystem(t, Config{MaxPendingRequests: 2}, map[string]models.Handler{"slow": g})
	tr := newFakeTransport(100)
	s := sys.NewSession(tr)

	for i := range 5 {
		send(t, s, request("read", "slow", kv("n", int64(i)), int64(i)))
	}
	close(g.release)
	for i := range 2 {
		reply, _ := tr.next(t)
		wantOK(t, reply, int64(i))
	}
	for range 3 {
		reply, _ := tr.next(t)
		wantError(t, reply, models.CodeRateLimited)
	}
	send(t, s, request("read", "slow", nil, int64(9)))
	reply, _ := tr.next(t)
	wantOK(t, reply, int64(9))
}

// TestFlood: a client sending far more than it waits for gets one answer
// per frame, in order, while the pending queue stays bounded.
func TestFlood(t *testing.T) {
	t.Parallel()
	const frames = 3000
	g := newGate()
	sys := newTestSystem(t, Config{MaxPendingRequests: 4}, map[string]models.Handler{"slow": g})
	tr := newFakeTransport(frames + 10)
	s := sys.NewSession(tr)
	frame := enc(t, request("read", "slow", nil))
	for range frames {
		s.Deliver(Frame{Data: frame})
	}
	g.waitEntered(t)
	close(g.release)
	ok, limited := 0, 0
	for range frames {
		reply, _ := tr.next(t)
		switch reply[1] {
		case bert.Atom("ok"):
			ok++
		default:
			wantError(t, reply, models.CodeRateLimited)
			limited++
		}
	}
	if ok < 4 || ok+limited != frames {
		t.Fatalf("%d ok, %d rate_limited of %d frames", ok, limited, frames)
	}
	send(t, s, request("read", "slow", nil, int64(1)))
	reply, _ := tr.next(t)
	wantOK(t, reply, int64(1))
}

func TestRequestTimeout(t *testing.T) {
	t.Parallel()
	g := newGate()
	// The handler ignores its context's deadline until released.
	stuck := models.HandlerFunc(func(_ context.Context, req models.Request) (any, error) {
		g.entered <- req
		<-g.release
		return req.Props, nil
	})
	sys := newTestSystem(t, Config{RequestTimeout: 20e6}, map[string]models.Handler{"stuck": stuck, "m": echo})
	tr := newFakeTransport(100)
	s := sys.NewSession(tr)

	send(t, s, request("read", "stuck", nil, int64(1)))
	send(t, s, request("read", "m", nil, int64(2)))
	reply, _ := tr.next(t)
	wantError(t, reply, models.CodeUnavailable, int64(1))
	reply, _ = tr.next(t)
	wantOK(t, reply, int64(2))
	close(g.release)
	// The late reply is dropped; the next frame answers the next request.
	send(t, s, request("read", "m", nil, int64(3)))
	reply, _ = tr.next(t)
	wantOK(t, reply, int64(3))
}

func TestSlowConsumerCutOff(t *testing.T) {
	t.Parallel()
	sys := newTestSystem(t, Config{}, map[string]models.Handler{"m": echo})
	slowT, fastT := newFakeTransport(2), newFakeTransport(100)
	slow, fast := sys.NewSession(slowT), sys.NewSession(fastT)
	for _, st := range []struct {
		s  *Session
		tr *fakeTransport
	}{{slow, slowT}, {fast, fastT}} {
		send(t, st.s, request("subscribe", "m", nil))
		reply, _ := st.tr.next(t)
		wantOK(t, reply)
	}
	// slowT is never read again: its queue of 2 fills on the second push.
	for i := range 10 {
		if _, err := sys.Call(context.Background(), models.Request{Method: models.Create, Model: "m"}); err != nil {
			t.Fatal(err)
		}
		push, _ := fastT.next(t)
		wantPush(t, push, "created", "m", int64(i+1))
	}
	if r := slowT.waitClosed(t); r != SlowConsumer {
		t.Fatalf("slow session closed with %v, want %v", r, SlowConsumer)
	}
	<-slow.Done()
	if slow.Reason() != SlowConsumer {
		t.Fatalf("Reason() = %v", slow.Reason())
	}
	slow.Deliver(Frame{Data: enc(t, request("read", "m", nil))}) // dropped, no panic
}

func TestClientCloseAndIdle(t *testing.T) {
	t.Parallel()
	sys := newTestSystem(t, Config{SessionIdleTimeout: 30e6}, map[string]models.Handler{"m": echo})

	tr := newFakeTransport(10)
	s := sys.NewSession(tr)
	s.Close()
	if r := tr.waitClosed(t); r != ClientClosed {
		t.Fatalf("closed with %v, want %v", r, ClientClosed)
	}
	s.Close() // no-op

	idle := newFakeTransport(10)
	sys.NewSession(idle)
	if r := idle.waitClosed(t); r != IdleTimeout {
		t.Fatalf("closed with %v, want %v", r, IdleTimeout)
	}
}

// Drain answers what was delivered before it, then closes for the client.
func TestDrainAnswersFirst(t *testing.T) {
	t.Parallel()
	g := newGate()
	sys := newTestSystem(t, Config{}, map[string]models.Handler{"slow": g})
	tr := newFakeTransport(10)
	s := sys.NewSession(tr)
	send(t, s, request("read", "slow", kv("k", 1), 7))
	g.waitEntered(t)
	s.Drain()
	close(g.release)
	reply, _ := tr.next(t)
	wantOK(t, reply, 7)
	if r := tr.waitClosed(t); r != ClientClosed {
		t.Fatalf("closed with %v, want %v", r, ClientClosed)
	}
	s.Drain() // no-op
}

func TestErlangProfileSession(t *testing.T) {
	t.Parallel()
	sys := newTestSystem(t, Config{}, map[string]models.Handler{"m": echo})
	tr := newFakeTransport(10)
	s := sys.NewSession(tr, WithProfile(bert.Erlang))
	send(t, s, request("subscribe", "m", nil))
	reply, _ := tr.next(t)
	wantOK(t, reply)
	if _, err := sys.Call(context.Background(), models.Request{Method: models.Create, Model: "m", Props: models.Props{{Key: "x", Value: 1.5}}}); err != nil {
		t.Fatal(err)
	}
	push, fr := tr.next(t)
	if prop(t, wantPush(t, push, "created", "m", 1), "x") != 1.5 {
		t.Fatalf("push %s", format(push))
	}
	// NEW_FLOAT_EXT (70) rather than BERT-JS's FLOAT_EXT (99).
	if !bytes.Contains(fr.Data, []byte{70}) {
		t.Fatalf("push not in the Erlang profile: % x", fr.Data)
	}
}

func TestFrameErrAndReplyFlag(t *testing.T) {
	t.Parallel()
	sys := newTestSystem(t, Config{}, map[string]models.Handler{"m": echo})
	tr := newFakeTransport(10)
	s := sys.NewSession(tr)
	send(t, s, request("subscribe", "m", nil))
	s.Deliver(Frame{Text: true, Err: models.Errorf(models.CodeTooLarge, "message of 9 bytes exceeds 8")})
	reply, fr := tr.next(t)
	if !fr.Reply {
		t.Fatal("reply to subscribe without Reply set")
	}
	wantOK(t, reply)
	reply, fr = tr.next(t)
	if !fr.Reply || !fr.Text {
		t.Fatalf("answer to an Err frame: Reply %v, Text %v", fr.Reply, fr.Text)
	}
	if msg := wantError(t, reply, models.CodeTooLarge); msg != "message of 9 bytes exceeds 8" {
		t.Fatalf("message %q", msg)
	}
	if _, err := sys.Call(context.Background(), models.Request{Method: models.Create, Model: "m"}); err != nil {
		t.Fatal(err)
	}
	if _, fr = tr.next(t); fr.Reply {
		t.Fatal("push with Reply set")
	}
}
