package actors

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/models"
)

// boom panics on requests with a panic prop and echoes the others.
var boom = models.HandlerFunc(func(_ context.Context, req models.Request) (any, error) {
	if req.Props.Has("panic") {
		panic("boom: " + req.ID)
	}
	return req.Props, nil
})

// TestPanickingHandler: without a restart limit, a handler that panics
// answers that request internal and the next ones are served, however
// many panics there were.
func TestPanickingHandler(t *testing.T) {
	t.Parallel()
	logs := &logRecorder{}
	sys := newTestSystem(t, Config{Logger: slog.New(logs), MaxModelRestarts: -1}, map[string]models.Handler{"boom": boom, "m": echo})
	ta, tb := newFakeTransport(100), newFakeTransport(100)
	a, b := sys.NewSession(ta), sys.NewSession(tb)

	send(t, b, request("subscribe", "boom", nil))
	reply, _ := tb.next(t)
	wantOK(t, reply)
	send(t, a, request("create", "boom", kv("n", int64(1))))
	reply, _ = ta.next(t)
	wantOK(t, reply)
	push, _ := tb.next(t)
	wantPush(t, push, "created", "boom", 1)

	// The panicking request, then more behind it in the same mailbox.
	send(t, a, request("create", "boom", kv("panic", true), bert.Atom("r1")))
	send(t, a, request("create", "boom", kv("n", int64(2)), bert.Atom("r2")))
	send(t, a, request("read", "m", nil, bert.Atom("r3")))
	reply, _ = ta.next(t)
	if msg := wantError(t, reply, models.CodeInternal, bert.Atom("r1")); strings.Contains(msg, "boom:") {
		t.Errorf("internal error leaks the panic value: %q", msg)
	}
	reply, _ = ta.next(t)
	wantOK(t, reply, bert.Atom("r2"))
	reply, _ = ta.next(t)
	wantOK(t, reply, bert.Atom("r3"))

	// The subscriber and the Seq survived the restart.
	push, _ = tb.next(t)
	wantPush(t, push, "created", "boom", 2)
	if n := logs.count("actors: model actor restarted"); n != 1 {
		t.Fatalf("%d restarts logged, want 1", n)
	}

	// Calls from outside go on too, even after more panics than the
	// default limit.
	for range 2 * DefaultMaxModelRestarts {
		_, err := sys.Call(context.Background(), models.Request{Method: models.Create, Model: "boom", Props: models.Props{{Key: "panic", Value: true}}})
		if models.CodeOf(err) != models.CodeInternal {
			t.Fatalf("Call of a panicking handler: %v", err)
		}
	}
	got, err := sys.Call(context.Background(), models.Request{Method: models.Read, Model: "boom", Props: models.Props{{Key: "n", Value: int64(3)}}})
	if err != nil || prop(t, got, "n") != int64(3) {
		t.Fatalf("Call after panics: %v, %v", got, err)
	}
	if n := logs.count("actors: model stopped after repeated failures"); n != 0 {
		t.Fatalf("a model without a restart limit was stopped %d times", n)
	}
	select {
	case <-a.Done():
		t.Fatal("session of the panicking request closed")
	case <-b.Done():
		t.Fatal("subscriber session closed")
	default:
	}
}

// TestModelRestartLimit: a handler that keeps panicking is restarted up
// to the limit; one panic more stops the type for the window, its queued
// and new requests refused at once, its subscribers kept; after the
// window it is served again, with a fresh restart budget.
func TestModelRestartLimit(t *testing.T) {
	t.Parallel()
	entered, release := make(chan struct{}, 1), make(chan struct{})
	broken := models.HandlerFunc(func(_ context.Context, req models.Request) (any, error) {
		if req.Props.Has("panic") {
			if req.Props.Has("wait") {
				entered <- struct{}{}
				<-release
			}
			panic("broken")
		}
		return req.Props, nil
	})
	queued := make(chan struct{}, 1)
	mark := models.HandlerFunc(func(_ context.Context, req models.Request) (any, error) {
		queued <- struct{}{}
		return req.Props, nil
	})
	logs := &attrLog{}
	const window = time.Hour // longer than any test run: protoactor counts in real time
	sys := newTestSystem(t, Config{Logger: slog.New(logs), MaxModelRestarts: 2, ModelRestartWindow: window},
		map[string]models.Handler{"broken": broken, "mark": mark})
	clk := &testClock{t: time.Now()}
	sys.now = clk.Now
	ctx := context.Background()
	create := func(props models.Props) (any, error) {
		return sys.Call(ctx, models.Request{Method: models.Create, Model: "broken", Props: props})
	}
	panicky := models.Props{{Key: "panic", Value: true}}

	tb := newFakeTransport(100)
	b := sys.NewSession(tb)
	send(t, b, request("subscribe", "broken", nil))
	reply, _ := tb.next(t)
	wantOK(t, reply)

	// Two panics within the window: each answered internal, the actor
	// restarted, the next request served.
	for i := range 2 {
		if _, err := create(panicky); models.CodeOf(err) != models.CodeInternal {
			t.Fatalf("panic %d: %v, want internal", i+1, err)
		}
		if _, err := create(models.Props{{Key: "n", Value: int64(i)}}); err != nil {
			t.Fatalf("request after panic %d: %v", i+1, err)
		}
		push, _ := tb.next(t)
		wantPush(t, push, "created", "broken", int64(i+1))
	}
	if got := logs.find("actors: model actor restarted", "model", "broken"); len(got) != 2 {
		t.Fatalf("%d restarts logged, want 2", len(got))
	}

	// The third panic, with requests queued behind it: the session's
	// marker request reaches its own model only after the session has
	// put the two before it into broken's mailbox.
	ts := newFakeTransport(100)
	s := sys.NewSession(ts)
	send(t, s, request("create", "broken", kv("panic", true, "wait", true), int64(1)))
	waitSignal(t, entered, "the panicking handler")
	send(t, s, request("create", "broken", kv("n", int64(9)), int64(2)))
	send(t, s, request("read", "broken", nil, int64(3)))
	send(t, s, request("read", "mark", nil, int64(4)))
	waitSignal(t, queued, "the marker")
	close(release)
	reply, _ = ts.next(t)
	wantError(t, reply, models.CodeInternal, int64(1))
	for _, ref := range []int64{2, 3} {
		reply, _ = ts.next(t)
		if msg := wantError(t, reply, models.CodeUnavailable, ref); !strings.Contains(msg, "stopped until") {
			t.Fatalf("queued request refused with %q", msg)
		}
	}
	reply, _ = ts.next(t)
	wantOK(t, reply, int64(4))
	stops := logs.find("actors: model stopped after repeated failures", "model", "broken")
	if len(stops) != 1 || stops[0]["failures"] != "3" || stops[0]["reason"] == "" {
		t.Fatalf("stops logged: %v, want one after 3 failures", stops)
	}

	// New requests are refused until the window has passed, from Call
	// too; the actor still answers subscriptions itself.
	clk.Advance(window - time.Second)
	if _, err := create(models.Props{}); !errors.Is(err, models.ErrUnavailable) {
		t.Fatalf("Call to a stopped type: %v, want unavailable", err)
	}
	send(t, s, request("subscribe", "broken", nil, int64(5)))
	reply, _ = ts.next(t)
	if prop(t, wantOK(t, reply, int64(5)), "seq") != int64(2) {
		t.Fatalf("subscribe during the stop: %s, want Seq 2", format(reply))
	}
	select {
	case fr := <-tb.frames:
		t.Fatalf("the subscriber got a frame while the type was stopped: % x", fr.Data)
	default:
	}

	// After the window the first request is served, and pushed to the
	// subscribers kept across the stop.
	clk.Advance(2 * time.Second)
	if _, err := create(models.Props{{Key: "n", Value: int64(10)}}); err != nil {
		t.Fatalf("first request after the window: %v", err)
	}
	for _, tr := range []*fakeTransport{tb, ts} {
		push, _ := tr.next(t)
		wantPush(t, push, "created", "broken", 3)
	}
	if n := len(logs.find("actors: model serving again after its stop", "model", "broken")); n != 1 {
		t.Fatalf("%d resumptions logged, want 1", n)
	}
	// The budget is fresh: one panic is restarted, not a stop.
	if _, err := create(panicky); models.CodeOf(err) != models.CodeInternal {
		t.Fatalf("panic after the stop: %v", err)
	}
	if _, err := create(models.Props{}); err != nil {
		t.Fatalf("request after the first panic since the stop: %v", err)
	}
}

// TestModelPanicOnceKeepsServing: a single panic is restarted even with
// the smallest limit, and the type serves on.
func TestModelPanicOnceKeepsServing(t *testing.T) {
	t.Parallel()
	logs := &attrLog{}
	sys := newTestSystem(t, Config{Logger: slog.New(logs), MaxModelRestarts: 1, ModelRestartWindow: time.Hour},
		map[string]models.Handler{"boom": boom})
	ctx := context.Background()
	if _, err := sys.Call(ctx, models.Request{Method: models.Update, Model: "boom", ID: "x", Props: models.Props{{Key: "panic", Value: true}}}); models.CodeOf(err) != models.CodeInternal {
		t.Fatalf("panic: %v", err)
	}
	tr := newFakeTransport(100)
	s := sys.NewSession(tr)
	for i := range int64(50) {
		send(t, s, request("read", "boom", kv("i", i), i))
		reply, _ := tr.next(t)
		if prop(t, wantOK(t, reply, i), "i") != i {
			t.Fatalf("reply %d: %s", i, format(reply))
		}
	}
	restarts := logs.find("actors: model actor restarted", "model", "boom")
	if len(restarts) != 1 || restarts[0]["failures"] != "1" || !strings.Contains(restarts[0]["reason"], "boom: x") {
		t.Fatalf("restarts logged: %v, want one with the panic as reason", restarts)
	}
	if n := len(logs.find("actors: model stopped after repeated failures", "model", "boom")); n != 0 {
		t.Fatalf("%d stops logged after one panic", n)
	}
}

// TestModelStoppedUntilRestart: with a negative window the panics count
// over the system's life, however far apart, and a stopped type stays
// stopped.
func TestModelStoppedUntilRestart(t *testing.T) {
	t.Parallel()
	sys := newTestSystem(t, Config{MaxModelRestarts: 1, ModelRestartWindow: -1}, map[string]models.Handler{"boom": boom, "m": echo})
	clk := &testClock{t: time.Now()}
	sys.now = clk.Now
	ctx := context.Background()
	req := models.Request{Method: models.Create, Model: "boom", Props: models.Props{{Key: "panic", Value: true}}}
	for i := range 2 {
		if _, err := sys.Call(ctx, req); models.CodeOf(err) != models.CodeInternal {
			t.Fatalf("panic %d: %v", i+1, err)
		}
		clk.Advance(1000 * time.Hour)
	}
	clk.Advance(10 * 365 * 24 * time.Hour)
	_, err := sys.Call(ctx, models.Request{Method: models.Read, Model: "boom"})
	if models.CodeOf(err) != models.CodeUnavailable || !strings.Contains(err.Error(), "until the server restarts") {
		t.Fatalf("Call to a type stopped for good: %v", err)
	}
	// Other types are not affected.
	if _, err := sys.Call(ctx, models.Request{Method: models.Read, Model: "m"}); err != nil {
		t.Fatalf("another type: %v", err)
	}
}

func TestHandlerErrors(t *testing.T) {
	t.Parallel()
	logs := &logRecorder{}
	plain := models.HandlerFunc(func(_ context.Context, req models.Request) (any, error) {
		switch req.ID {
		case "secret":
			return nil, errors.New("open /var/lib/secret: permission denied")
		case "conflict":
			return nil, models.Errorf(models.CodeConflict, "version mismatch")
		}
		return func() {}, nil // cannot be encoded
	})
	sys := newTestSystem(t, Config{Logger: slog.New(logs)}, map[string]models.Handler{"p": plain})

	_, err := sys.Call(context.Background(), models.Request{Method: models.Read, Model: "p", ID: "secret"})
	if models.CodeOf(err) != models.CodeInternal || strings.Contains(err.Error(), "/var/lib") {
		t.Fatalf("plain error: %v", err)
	}
	if logs.count("actors: model handler failed") != 1 {
		t.Fatal("plain handler error not logged")
	}
	_, err = sys.Call(context.Background(), models.Request{Method: models.Read, Model: "p", ID: "conflict"})
	if models.CodeOf(err) != models.CodeConflict {
		t.Fatalf("conflict error: %v", err)
	}

	tr := newFakeTransport(10)
	s := sys.NewSession(tr)
	send(t, s, request("read", "p", kv("id", []byte("x")), int64(1)))
	reply, _ := tr.next(t)
	wantError(t, reply, models.CodeInternal, int64(1))
	// A change whose reply cannot be encoded is reported, not pushed.
	send(t, s, request("create", "p", nil, int64(2)))
	reply, _ = tr.next(t)
	wantError(t, reply, models.CodeInternal, int64(2))
}

func TestCallMethods(t *testing.T) {
	t.Parallel()
	sys := newTestSystem(t, Config{}, map[string]models.Handler{"m": echo})
	if _, err := sys.Call(context.Background(), models.Request{Method: "subscribe", Model: "m"}); models.CodeOf(err) != models.CodeBadRequest {
		t.Fatalf("subscribe over Call: %v", err)
	}
	if _, err := sys.Call(context.Background(), models.Request{Method: "explode", Model: "m"}); models.CodeOf(err) != models.CodeBadRequest {
		t.Fatalf("unknown method over Call: %v", err)
	}
	tr := newFakeTransport(10)
	s := sys.NewSession(tr)
	send(t, s, request("subscribe", "m", nil))
	reply, _ := tr.next(t)
	wantOK(t, reply)
	seq, err := sys.Call(context.Background(), models.Request{Method: "broadcast", Model: "m", Props: models.Props{{Key: "hello", Value: []byte("all")}}})
	if err != nil || seq != int64(1) {
		t.Fatalf("broadcast over Call: %v, %v", seq, err)
	}
	push, _ := tr.next(t)
	wantPush(t, push, "broadcast", "m", 1)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := sys.Call(ctx, models.Request{Method: models.Read, Model: "m"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Call with a cancelled context: %v", err)
	}
}

// TestMaxModels: at MaxModels live actors a new type passivates an idle
// one; when every live one has a subscriber, only the caller of the new
// type is refused, and the others are served.
func TestMaxModels(t *testing.T) {
	t.Parallel()
	sys := newTestSystem(t, Config{MaxModels: 1}, map[string]models.Handler{"a": echo, "b": echo})
	ctx := context.Background()
	read := func(model string) error {
		_, err := sys.Call(ctx, models.Request{Method: models.Read, Model: model})
		return err
	}
	if err := read("a"); err != nil {
		t.Fatal(err)
	}
	a, _ := sys.model("a")
	if err := read("b"); err != nil {
		t.Fatalf("a model type beyond MaxModels with an idle one live: %v", err)
	}
	waitSignal(t, a.done, "the passivated actor of a")

	tr := newFakeTransport(10)
	s := sys.NewSession(tr)
	send(t, s, request("subscribe", "b", nil))
	reply, _ := tr.next(t)
	wantOK(t, reply)
	err := read("a")
	if models.CodeOf(err) != models.CodeUnavailable || !strings.Contains(err.Error(), "too many model types in use (limit 1)") {
		t.Fatalf("a model type beyond MaxModels, the live one subscribed: %v", err)
	}
	send(t, s, request("read", "a", nil, int64(1)))
	reply, _ = tr.next(t)
	wantError(t, reply, models.CodeUnavailable, int64(1))
	if err := read("b"); err != nil {
		t.Fatalf("the live type, while another was refused: %v", err)
	}

	send(t, s, request("unsubscribe", "b", nil))
	reply, _ = tr.next(t)
	wantOK(t, reply)
	if err := read("a"); err != nil {
		t.Fatalf("a model type beyond MaxModels once the live one has no subscriber: %v", err)
	}
}

// TestGracefulShutdown: requests in flight at Shutdown are answered, from
// sessions and from Call, before the sessions close and Shutdown returns.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	g, g2 := newGate(), newGate()
	reg := models.NewRegistry()
	if err := reg.Register("slow", g); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register("slow2", g2); err != nil {
		t.Fatal(err)
	}
	sys, err := NewSystem(context.Background(), Config{Registry: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	tr := newFakeTransport(10)
	s := sys.NewSession(tr)
	send(t, s, request("read", "slow", kv("n", int64(1)), int64(1)))
	g.waitEntered(t)

	callDone := make(chan error, 1)
	go func() {
		_, err := sys.Call(context.Background(), models.Request{Method: models.Read, Model: "slow2"})
		callDone <- err
	}()
	g2.waitEntered(t)
	shutdownDone := make(chan error, 1)
	go func() { shutdownDone <- sys.Shutdown(context.Background()) }()
	// Wait until Shutdown has begun; then a new frame is refused, in order.
	for !sys.isClosing() {
		runtime.Gosched()
	}
	send(t, s, request("read", "slow", nil, int64(2)))
	select {
	case err := <-shutdownDone:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	default:
	}

	if _, err := sys.Call(context.Background(), models.Request{Method: models.Read, Model: "slow"}); !errors.Is(err, ErrShutdown) {
		t.Fatalf("Call after Shutdown began: %v", err)
	}
	close(g.release)
	close(g2.release)
	reply, _ := tr.next(t)
	wantOK(t, reply, int64(1))
	reply, _ = tr.next(t)
	wantError(t, reply, models.CodeUnavailable, int64(2))
	if r := tr.waitClosed(t); r != ServerShutdown {
		t.Fatalf("session closed with %v, want %v", r, ServerShutdown)
	}
	if err := <-callDone; err != nil {
		t.Fatalf("Call in flight at shutdown: %v", err)
	}
	if err := <-shutdownDone; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}

	// After shutdown: new sessions are born closed, calls refused.
	late := newFakeTransport(1)
	ls := sys.NewSession(late)
	if r := late.waitClosed(t); r != ServerShutdown || ls.Reason() != ServerShutdown {
		t.Fatalf("session after shutdown: %v", r)
	}
	if _, err := sys.Call(context.Background(), models.Request{Method: models.Read, Model: "slow"}); !errors.Is(err, models.ErrUnavailable) {
		t.Fatalf("Call after shutdown: %v", err)
	}
	if err := sys.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}

func TestShutdownDeadline(t *testing.T) {
	t.Parallel()
	g := newGate()
	stuck := models.HandlerFunc(func(_ context.Context, req models.Request) (any, error) {
		g.entered <- req
		<-g.release
		return nil, nil
	})
	reg := models.NewRegistry()
	if err := reg.Register("stuck", stuck); err != nil {
		t.Fatal(err)
	}
	sys, err := NewSystem(context.Background(), Config{Registry: reg, Logger: slog.New(slog.DiscardHandler), RequestTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	tr := newFakeTransport(10)
	s := sys.NewSession(tr)
	send(t, s, request("read", "stuck", nil))
	g.waitEntered(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sys.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown with an expired context: %v", err)
	}
	if r := tr.waitClosed(t); r != ServerShutdown {
		t.Fatalf("forced close reason %v", r)
	}
	close(g.release) // let the handler's goroutine end
}

// TestNoGoroutineLeak runs a busy system and checks that Shutdown leaves
// no goroutine behind. It is not parallel, so that the count is its own.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	reg := models.NewRegistry()
	for name, h := range map[string]models.Handler{"character": newMemModel(), "boom": boom} {
		if err := reg.Register(name, h); err != nil {
			t.Fatal(err)
		}
	}
	sys, err := NewSystem(context.Background(), Config{Registry: reg, Logger: slog.New(slog.DiscardHandler), SessionIdleTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var trs []*fakeTransport
	for i := range 20 {
		tr := newFakeTransport(1000)
		trs = append(trs, tr)
		s := sys.NewSession(tr)
		send(t, s, request("subscribe", "character", nil))
		send(t, s, request("create", "character", kv("i", int64(i))))
		send(t, s, request("create", "boom", kv("panic", true)))
		if i%5 == 0 {
			s.Close()
		}
	}
	for _, tr := range trs[1:4] {
		tr.next(t)
	}
	if err := sys.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, tr := range trs {
		tr.waitClosed(t)
	}
	deadline := time.Now().Add(waitLimit)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before, %d after Shutdown:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// attrLog keeps the records logged, with their attributes as text.
type attrLog struct {
	mu   sync.Mutex
	recs []logRecord
}

type logRecord struct {
	msg   string
	attrs map[string]string
}

func (l *attrLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *attrLog) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{msg: r.Message, attrs: make(map[string]string)}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	l.mu.Lock()
	l.recs = append(l.recs, rec)
	l.mu.Unlock()
	return nil
}
func (l *attrLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *attrLog) WithGroup(string) slog.Handler      { return l }

// find returns the attributes of the records with message msg and the
// attribute key = value.
func (l *attrLog) find(msg, key, value string) []map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]string
	for _, r := range l.recs {
		if r.msg == msg && r.attrs[key] == value {
			out = append(out, r.attrs)
		}
	}
	return out
}

// testClock is a clock that moves only when told.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// waitSignal waits for one value on ch, what naming the sender.
func waitSignal(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitLimit):
		t.Fatalf("no signal from %s within %v", what, waitLimit)
	}
}
