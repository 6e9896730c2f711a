package actors

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/bert/erltext"
	"github.com/bertsync/bertsync/models"
)

// waitLimit bounds every wait of these tests so that a bug fails the test
// instead of hanging it; no test asserts on durations.
const waitLimit = 20 * time.Second

// TestMain fails the package if any goroutine of protoactor or of this
// package outlives the tests: every test shuts its system down.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := waitNoActorGoroutines(waitLimit); leaked != "" {
			fmt.Fprintf(os.Stderr, "goroutines left after the tests:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// waitNoActorGoroutines waits until no goroutine runs code of protoactor
// or of this package (the test's own goroutines aside) and returns the
// stacks of those left when d passes.
func waitNoActorGoroutines(d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var left []string
		for g := range strings.SplitSeq(string(buf), "\n\n") {
			if strings.Contains(g, "asynkron/protoactor-go") ||
				(strings.Contains(g, "bertsync/actors.") && !strings.Contains(g, "waitNoActorGoroutines")) {
				left = append(left, g)
			}
		}
		if len(left) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(left, "\n\n")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fakeTransport records what a session sends. Its queue holds cap frames;
// nobody reading it makes it a slow consumer.
type fakeTransport struct {
	frames chan Frame
	closed chan struct{}

	mu     sync.Mutex
	reason CloseReason
	closes int
}

func newFakeTransport(capacity int) *fakeTransport {
	return &fakeTransport{frames: make(chan Frame, capacity), closed: make(chan struct{})}
}

func (f *fakeTransport) Send(fr Frame) error {
	select {
	case <-f.closed:
		return ErrTransportClosed
	default:
	}
	select {
	case f.frames <- fr:
		return nil
	default:
		return fmt.Errorf("fake transport: %w", ErrSlowConsumer)
	}
}

func (f *fakeTransport) Close(reason CloseReason) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closes++
	if f.closes == 1 {
		f.reason = reason
		close(f.closed)
	}
}

// next returns the next frame the session sent, decoded.
func (f *fakeTransport) next(t testing.TB) (bert.Tuple, Frame) {
	t.Helper()
	select {
	case fr := <-f.frames:
		var term any
		if err := bert.Unmarshal(fr.Data, &term); err != nil {
			t.Fatalf("session sent undecodable frame % x: %v", fr.Data, err)
		}
		tup, ok := term.(bert.Tuple)
		if !ok {
			t.Fatalf("session sent %#v, want a tuple", term)
		}
		return tup, fr
	case <-time.After(waitLimit):
		t.Fatalf("no frame from the session within %v", waitLimit)
	}
	return nil, Frame{}
}

func (f *fakeTransport) waitClosed(t testing.TB) CloseReason {
	t.Helper()
	select {
	case <-f.closed:
	case <-time.After(waitLimit):
		t.Fatalf("transport not closed within %v", waitLimit)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reason
}

// memModel is a model handler keeping documents in memory.
type memModel struct {
	docs map[string]models.Props
	next int
}

func newMemModel() *memModel { return &memModel{docs: make(map[string]models.Props)} }

func (m *memModel) Sync(_ context.Context, req models.Request) (any, error) {
	switch req.Method {
	case models.Create:
		m.next++
		id := strconv.Itoa(m.next)
		p := req.Props.Set("id", []byte(id))
		m.docs[id] = p
		return p, nil
	case models.Read:
		if req.ID == "" {
			ids := make([]string, 0, len(m.docs))
			for id := range m.docs {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			out := make([]models.Props, len(ids))
			for i, id := range ids {
				out[i] = m.docs[id]
			}
			return out, nil
		}
		p, ok := m.docs[req.ID]
		if !ok {
			return nil, fmt.Errorf("%s %q: %w", req.Model, req.ID, models.ErrNotFound)
		}
		return p, nil
	case models.Update, models.Patch:
		old, ok := m.docs[req.ID]
		if !ok {
			return nil, models.Errorf(models.CodeNotFound, "no %s %q", req.Model, req.ID)
		}
		p := req.Props
		if req.Method == models.Patch {
			p = old.Merge(req.Props)
		}
		m.docs[req.ID] = p
		return p, nil
	case models.Delete:
		if _, ok := m.docs[req.ID]; !ok {
			return nil, models.Errorf(models.CodeNotFound, "no %s %q", req.Model, req.ID)
		}
		delete(m.docs, req.ID)
		return models.Props{{Key: "id", Value: []byte(req.ID)}}, nil
	}
	return nil, models.Errorf(models.CodeBadRequest, "method %s", req.Method)
}

// gate is a handler that blocks each request until released, after
// telling entered that it got it.
type gate struct {
	entered chan models.Request
	release chan struct{}
}

func newGate() *gate {
	return &gate{entered: make(chan models.Request, 100), release: make(chan struct{})}
}

func (g *gate) Sync(ctx context.Context, req models.Request) (any, error) {
	g.entered <- req
	select {
	case <-g.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return req.Props, nil
}

func (g *gate) waitEntered(t testing.TB) models.Request {
	t.Helper()
	select {
	case r := <-g.entered:
		return r
	case <-time.After(waitLimit):
		t.Fatalf("handler not called within %v", waitLimit)
	}
	return models.Request{}
}

// echo returns the request's props.
var echo = models.HandlerFunc(func(_ context.Context, req models.Request) (any, error) {
	return req.Props, nil
})

// logRecorder keeps the messages logged, for tests that check a restart.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Message)
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

func (l *logRecorder) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if m == msg {
			n++
		}
	}
	return n
}

// newTestSystem starts a system with the given handlers registered and
// shuts it down when the test ends.
func newTestSystem(t testing.TB, cfg Config, handlers map[string]models.Handler) *System {
	t.Helper()
	if cfg.Registry == nil {
		cfg.Registry = models.NewRegistry()
	}
	for name, h := range handlers {
		if err := cfg.Registry.Register(name, h); err != nil {
			t.Fatal(err)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := NewSystem(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s
}

// enc encodes a term for a frame.
func enc(t testing.TB, term any) []byte {
	t.Helper()
	data, err := bert.Marshal(term)
	if err != nil {
		t.Fatalf("Marshal(%#v): %v", term, err)
	}
	return data
}

// request builds {sync, Method, Model, Props} or, with a ref, the
// five-element form.
func request(method, model string, props bert.List, ref ...any) bert.Tuple {
	if props == nil {
		props = bert.List{}
	}
	t := bert.Tuple{bert.Atom("sync"), bert.Atom(method), bert.Atom(model), props}
	return append(t, ref...)
}

func kv(pairs ...any) bert.List {
	l := bert.List{}
	for i := 0; i < len(pairs); i += 2 {
		l = append(l, bert.Tuple{bert.Atom(pairs[i].(string)), pairs[i+1]})
	}
	return l
}

// send delivers term as a binary frame.
func send(t testing.TB, s *Session, term any) {
	t.Helper()
	s.Deliver(Frame{Data: enc(t, term)})
}

// wantOK checks an {sync, ok, Msg[, Ref]} reply and returns Msg.
func wantOK(t testing.TB, reply bert.Tuple, ref ...any) any {
	t.Helper()
	if len(reply) != 3+len(ref) || reply[0] != bert.Atom("sync") || reply[1] != bert.Atom("ok") {
		t.Fatalf("reply %s, want {sync, ok, Msg%s}", format(reply), refSuffix(ref))
	}
	if len(ref) == 1 {
		checkRef(t, reply, ref[0])
	}
	return reply[2]
}

// wantError checks an {sync, error, {Code, Msg}[, Ref]} reply and returns
// Msg.
func wantError(t testing.TB, reply bert.Tuple, code models.Code, ref ...any) string {
	t.Helper()
	if len(reply) != 3+len(ref) || reply[0] != bert.Atom("sync") || reply[1] != bert.Atom("error") {
		t.Fatalf("reply %s, want {sync, error, {%s, Msg}%s}", format(reply), code, refSuffix(ref))
	}
	reason, ok := reply[2].(bert.Tuple)
	if !ok || len(reason) != 2 || reason[0] != bert.Atom(code) {
		t.Fatalf("reply %s, want error code %s", format(reply), code)
	}
	msg, ok := reason[1].([]byte)
	if !ok || len(msg) == 0 {
		t.Fatalf("reply %s: error message is not a non-empty binary", format(reply))
	}
	if len(ref) == 1 {
		checkRef(t, reply, ref[0])
	}
	return string(msg)
}

func checkRef(t testing.TB, reply bert.Tuple, ref any) {
	t.Helper()
	got, _ := erltext.Format(reply[len(reply)-1])
	want, _ := erltext.Format(ref)
	if got != want {
		t.Fatalf("reply %s carries Ref %s, want %s", format(reply), got, want)
	}
}

func refSuffix(ref []any) string {
	if len(ref) == 0 {
		return ""
	}
	return ", Ref"
}

func format(term any) string {
	s, err := erltext.Format(term)
	if err != nil {
		return fmt.Sprintf("%#v", term)
	}
	return s
}

// prop returns the value of key in a proplist term.
func prop(t testing.TB, term any, key string) any {
	t.Helper()
	l, ok := term.(bert.List)
	if !ok {
		t.Fatalf("%s is not a proplist", format(term))
	}
	for _, el := range l {
		if tup, ok := el.(bert.Tuple); ok && len(tup) == 2 && tup[0] == bert.Atom(key) {
			return tup[1]
		}
	}
	t.Fatalf("%s has no %s", format(term), key)
	return nil
}

func text(t testing.TB, term any) string {
	t.Helper()
	s, ok := bert.AsString(term)
	if !ok {
		t.Fatalf("%s is not text", format(term))
	}
	return s
}

// wantPush checks a {sync, Event, Model, Props, Seq} push and returns
// Props.
func wantPush(t testing.TB, push bert.Tuple, event, model string, seq int64) any {
	t.Helper()
	if len(push) != 5 || push[0] != bert.Atom("sync") || push[1] != bert.Atom(event) ||
		push[2] != bert.Atom(model) || push[4] != seq {
		t.Fatalf("push %s, want {sync, %s, %s, Props, %d}", format(push), event, model, seq)
	}
	return push[3]
}

// modelCount returns how many model actors sys has spawned.
func (s *System) modelCount() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.models)
}
