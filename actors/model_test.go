package actors

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strings"
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

func TestPanickingHandler(t *testing.T) {
	t.Parallel()
	logs := &logRecorder{}
	sys := newTestSystem(t, Config{Logger: slog.New(logs)}, map[string]models.Handler{"boom": boom, "m": echo})
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
	if n := logs.count("actors: model actor failed, restarting"); n != 1 {
		t.Fatalf("%d restarts logged, want 1", n)
	}

	// Calls from outside go on too, even after many panics.
	for range 20 {
		_, err := sys.Call(context.Background(), models.Request{Method: models.Create, Model: "boom", Props: models.Props{{Key: "panic", Value: true}}})
		if models.CodeOf(err) != models.CodeInternal {
			t.Fatalf("Call of a panicking handler: %v", err)
		}
	}
	got, err := sys.Call(context.Background(), models.Request{Method: models.Read, Model: "boom", Props: models.Props{{Key: "n", Value: int64(3)}}})
	if err != nil || prop(t, got, "n") != int64(3) {
		t.Fatalf("Call after panics: %v, %v", got, err)
	}
	select {
	case <-a.Done():
		t.Fatal("session of the panicking request closed")
	case <-b.Done():
		t.Fatal("subscriber session closed")
	default:
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

func TestMaxModels(t *testing.T) {
	t.Parallel()
	sys := newTestSystem(t, Config{MaxModels: 1}, map[string]models.Handler{"a": echo, "b": echo})
	if _, err := sys.Call(context.Background(), models.Request{Method: models.Read, Model: "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := sys.Call(context.Background(), models.Request{Method: models.Read, Model: "b"}); models.CodeOf(err) != models.CodeUnavailable {
		t.Fatalf("a model type beyond MaxModels: %v", err)
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
