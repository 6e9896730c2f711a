package actors

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/models"
)

// waitFor polls cond, which watches an observable effect of the code
// under test, until it holds or waitLimit passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, waitLimit)
		}
		time.Sleep(time.Millisecond)
	}
}

func openStore(t testing.TB) *models.Store {
	t.Helper()
	store, err := models.OpenStore(filepath.Join(t.TempDir(), "bertsync.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() }) // after the system's Shutdown
	return store
}

// processCount returns the number of processes in protoactor's registry:
// actors, guardians and the like.
func processCount(sys *System) int {
	n := 0
	for _, m := range sys.as.ProcessRegistry.LocalPIDs.LocalPIDs {
		n += m.Count()
	}
	return n
}

// liveModel returns the live actor state of a type, which must exist.
func liveModel(t testing.TB, sys *System, name string) *modelState {
	t.Helper()
	sys.mu.RLock()
	defer sys.mu.RUnlock()
	m, ok := sys.models[name]
	if !ok {
		t.Fatalf("no live model actor for %s", name)
	}
	return m
}

// TestJunkReadsDoNotExhaustModels is the report of issue #8: reads of
// junk type names used up the model actors, and every new type was then
// refused to everyone. Now every read is answered, nothing is stored for
// them, and a real type is still served, its subscriber too.
func TestJunkReadsDoNotExhaustModels(t *testing.T) {
	t.Parallel()
	store := openStore(t)
	docs := models.NewDocumentsWith(store, models.DocumentsConfig{MaxTypes: 10})
	sys := newTestSystem(t, Config{Documents: docs, MaxModels: DefaultMaxModels}, nil)

	sub := newFakeTransport(10)
	subscriber := sys.NewSession(sub)
	send(t, subscriber, request("subscribe", "todo", nil))
	reply, _ := sub.next(t)
	wantOK(t, reply)

	tr := newFakeTransport(10)
	s := sys.NewSession(tr)
	const junk = 2 * DefaultMaxModels
	for i := range junk {
		send(t, s, request("read", fmt.Sprintf("junk%d", i), nil, int64(i)))
		reply, _ := tr.next(t)
		if l, ok := wantOK(t, reply, int64(i)).(bert.List); !ok || len(l) != 0 {
			t.Fatalf("read of junk type %d: %s, want an empty collection", i, format(reply))
		}
	}
	if n := sys.modelCount(); n > DefaultMaxModels {
		t.Fatalf("%d live model actors, more than MaxModels", n)
	}
	// Nor does protoactor keep anything of the passivated actors (it
	// would keep a guardian per supervisor strategy).
	waitFor(t, "protoactor's processes bounded by MaxModels", func() bool { return processCount(sys) <= DefaultMaxModels+16 })
	if _, err := sys.Call(context.Background(), models.Request{Method: models.Read, Model: "junk-from-rest"}); err != nil {
		t.Fatalf("REST read of a junk type: %v", err)
	}

	send(t, s, request("create", "todo", kv("title", []byte("real"))))
	reply, _ = tr.next(t)
	wantOK(t, reply)
	push, _ := sub.next(t)
	wantPush(t, push, "created", "todo", 1)
	if n := store.TypeCount(); n != 1 {
		t.Fatalf("the store holds %d types after junk reads and one create, want 1", n)
	}
}

// TestPassivationIdle: an idle actor without subscribers is stopped; the
// next request starts another, with the handler's state and the Seq
// where they were; a subscriber keeps an idle actor live.
func TestPassivationIdle(t *testing.T) {
	t.Parallel()
	logs := &logRecorder{}
	// The timer fires every few milliseconds; what is idle is decided by
	// the test's clock.
	sys := newTestSystem(t, Config{Logger: slog.New(logs), ModelIdleTimeout: 5 * time.Millisecond},
		map[string]models.Handler{"m": newMemModel()})
	clk := &testClock{t: time.Now()}
	sys.now = clk.Now
	ctx := context.Background()

	if _, err := sys.Call(ctx, models.Request{Method: models.Create, Model: "m", Props: models.Props{{Key: "name", Value: []byte("a")}}}); err != nil {
		t.Fatal(err)
	}
	if seq, err := sys.Call(ctx, models.Request{Method: methodBroadcast, Model: "m"}); err != nil || seq != int64(2) {
		t.Fatalf("broadcast: %v, %v, want Seq 2", seq, err)
	}
	first := liveModel(t, sys, "m")
	clk.Advance(time.Hour)
	waitSignal(t, first.done, "the idle model actor")
	if n := sys.modelCount(); n != 0 {
		t.Fatalf("%d live model actors after passivation", n)
	}

	got, err := sys.Call(ctx, models.Request{Method: models.Read, Model: "m", ID: "1"})
	if err != nil || text(t, prop(t, got, "name")) != "a" {
		t.Fatalf("read after passivation: %v, %v", got, err)
	}
	second := liveModel(t, sys, "m")
	if second == first {
		t.Fatal("the passivated actor's state was reused")
	}

	tr := newFakeTransport(10)
	s := sys.NewSession(tr)
	send(t, s, request("subscribe", "m", nil))
	reply, _ := tr.next(t)
	wantOK(t, reply)
	if sys.retire(second) {
		t.Fatal("an actor with a subscriber was passivated")
	}
	clk.Advance(time.Hour)
	waitFor(t, "the idle, subscribed actor logged as kept", func() bool { return logs.count("actors: idle model actor kept") > 0 })
	if _, err := sys.Call(ctx, models.Request{Method: models.Create, Model: "m", Props: models.Props{{Key: "name", Value: []byte("b")}}}); err != nil {
		t.Fatal(err)
	}
	push, _ := tr.next(t)
	wantPush(t, push, "created", "m", 3)
	if liveModel(t, sys, "m") != second {
		t.Fatal("the subscribed actor was replaced")
	}

	send(t, s, request("unsubscribe", "m", nil))
	reply, _ = tr.next(t)
	wantOK(t, reply)
	clk.Advance(time.Hour)
	waitSignal(t, second.done, "the actor whose subscriber left")
	if seq, err := sys.Call(ctx, models.Request{Method: methodBroadcast, Model: "m"}); err != nil || seq != int64(4) {
		t.Fatalf("broadcast after a second passivation: %v, %v, want Seq 4", seq, err)
	}
	if n := logs.count("actors: model actor passivated"); n != 2 {
		t.Fatalf("%d passivations logged, want 2", n)
	}
}

// TestPassivationNever: a negative ModelIdleTimeout never passivates on
// a timer, but MaxModels still makes room.
func TestPassivationNever(t *testing.T) {
	t.Parallel()
	sys := newTestSystem(t, Config{ModelIdleTimeout: -1, MaxModels: 1}, map[string]models.Handler{"a": echo, "b": echo})
	ctx := context.Background()
	if _, err := sys.Call(ctx, models.Request{Method: models.Read, Model: "a"}); err != nil {
		t.Fatal(err)
	}
	a := liveModel(t, sys, "a")
	if a.idle != nil {
		t.Fatal("an idle timer was set with a negative ModelIdleTimeout")
	}
	if _, err := sys.Call(ctx, models.Request{Method: models.Read, Model: "b"}); err != nil {
		t.Fatal(err)
	}
	waitSignal(t, a.done, "the actor passivated to make room")
}

// TestMaxModelsLeastRecentlyUsed: the actor passivated to make room is
// the one used longest ago.
func TestMaxModelsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	sys := newTestSystem(t, Config{MaxModels: 3, ModelIdleTimeout: -1},
		map[string]models.Handler{"a": echo, "b": echo, "c": echo, "d": echo})
	clk := &testClock{t: time.Now()}
	sys.now = clk.Now
	for _, name := range []string{"a", "b", "c", "a"} {
		clk.Advance(time.Second)
		if _, err := sys.Call(context.Background(), models.Request{Method: models.Read, Model: name}); err != nil {
			t.Fatal(err)
		}
	}
	b := liveModel(t, sys, "b")
	if _, err := sys.Call(context.Background(), models.Request{Method: models.Read, Model: "d"}); err != nil {
		t.Fatal(err)
	}
	waitSignal(t, b.done, "the least recently used actor")
	for _, name := range []string{"a", "c", "d"} {
		liveModel(t, sys, name)
	}
}

// TestPassivationKeepsSupervisorState: an actor whose handler is stopped
// by its supervisor, or failed within the restart window, is not
// passivated, so that its restart limit keeps counting; after the window
// it is.
func TestPassivationKeepsSupervisorState(t *testing.T) {
	t.Parallel()
	sys := newTestSystem(t, Config{MaxModels: 1, MaxModelRestarts: 1, ModelRestartWindow: time.Hour},
		map[string]models.Handler{"boom": boom, "m": echo})
	clk := &testClock{t: time.Now()}
	sys.now = clk.Now
	ctx := context.Background()
	call := func(model string, props models.Props) error {
		_, err := sys.Call(ctx, models.Request{Method: models.Create, Model: model, Props: props})
		return err
	}
	panicky := models.Props{{Key: "panic", Value: true}}

	if err := call("boom", panicky); models.CodeOf(err) != models.CodeInternal {
		t.Fatalf("first panic: %v", err)
	}
	if err := call("m", nil); models.CodeOf(err) != models.CodeUnavailable {
		t.Fatalf("a new type while the live one failed within the window: %v", err)
	}
	if err := call("boom", panicky); models.CodeOf(err) != models.CodeInternal {
		t.Fatalf("second panic: %v", err)
	}
	if err := call("boom", nil); models.CodeOf(err) != models.CodeUnavailable {
		t.Fatalf("request to the stopped handler: %v", err)
	}
	if err := call("m", nil); models.CodeOf(err) != models.CodeUnavailable {
		t.Fatalf("a new type while the live one is stopped: %v", err)
	}
	b := liveModel(t, sys, "boom")
	clk.Advance(2 * time.Hour)
	if err := call("m", nil); err != nil {
		t.Fatalf("a new type once the stop is over: %v", err)
	}
	waitSignal(t, b.done, "the actor whose stop is over")
	if err := call("boom", nil); err != nil {
		t.Fatalf("the type started again: %v", err)
	}
}

// TestPassivationRace: sessions and Calls hammer a few types while their
// actors are passivated all the time, by a 1 ms idle timeout and by a
// MaxModels below the number of types. Every request is answered, served
// or refused for want of an actor, never lost; and the Seq of a type
// counts every event once, across its actors.
func TestPassivationRace(t *testing.T) {
	t.Parallel()
	logs := &logRecorder{}
	const types = 6
	handlers := map[string]models.Handler{"bc": echo}
	for i := range types {
		handlers[fmt.Sprintf("t%d", i)] = echo
	}
	sys := newTestSystem(t, Config{Logger: slog.New(logs), ModelIdleTimeout: time.Millisecond, MaxModels: 3, RequestTimeout: 2 * waitLimit}, handlers)
	refused := func(err error) bool {
		return models.CodeOf(err) == models.CodeUnavailable && strings.Contains(err.Error(), "too many model types in use")
	}

	const sessions, perSession, callers, perCaller = 4, 200, 3, 150
	var wg sync.WaitGroup
	for si := range sessions {
		wg.Go(func() {
			tr := newFakeTransport(perSession)
			s := sys.NewSession(tr)
			defer s.Close()
			// In bursts, so that requests are in flight to actors being
			// passivated.
			for base := 0; base < perSession; base += 20 {
				for i := base; i < base+20; i++ {
					send(t, s, request("read", fmt.Sprintf("t%d", (i+si)%types), nil, int64(i)))
				}
				for i := base; i < base+20; i++ {
					reply, _ := tr.next(t)
					if len(reply) == 4 && reply[1] == bert.Atom("ok") {
						checkRef(t, reply, int64(i))
						continue
					}
					if msg := wantError(t, reply, models.CodeUnavailable, int64(i)); !strings.Contains(msg, "too many model types in use") {
						t.Errorf("session %d request %d: %s", si, i, msg)
						return
					}
				}
			}
		})
	}
	seqs := make(chan int64, callers*perCaller)
	for ci := range callers {
		wg.Go(func() {
			for i := 0; i < perCaller; {
				model := "bc"
				if i%2 == 1 {
					model = fmt.Sprintf("t%d", (i+ci)%types) // keep the pool busy
				}
				got, err := sys.Call(context.Background(), models.Request{Method: methodBroadcast, Model: model})
				if refused(err) {
					continue // nothing happened: try again
				}
				if err != nil {
					t.Errorf("caller %d: %v", ci, err)
					return
				}
				if model == "bc" {
					seqs <- got.(int64)
				}
				i++
			}
		})
	}
	wg.Wait()
	close(seqs)
	var got []int64
	for seq := range seqs {
		got = append(got, seq)
	}
	slices.Sort(got)
	for i, seq := range got {
		if seq != int64(i+1) {
			t.Fatalf("broadcast Seqs of bc are not 1..%d: %v", len(got), got)
		}
	}
	if n := logs.count("actors: model actor passivated"); n < types {
		t.Fatalf("only %d passivations: the race was not exercised", n)
	}
}

// TestModelCacheStale: a session's cached actor that was passivated is
// replaced, and the request reaches the new one; the cache stays bounded.
func TestModelCacheStale(t *testing.T) {
	t.Parallel()
	handlers := map[string]models.Handler{}
	for i := range modelCacheSize + 8 {
		handlers[fmt.Sprintf("t%d", i)] = echo
	}
	sys := newTestSystem(t, Config{ModelIdleTimeout: -1}, handlers)
	var cache modelCache
	ask := func(name string) {
		t.Helper()
		ch := make(chan *modelReply, 1)
		if err := cache.send(sys.as.Root, sys, name, &modelRequest{req: models.Request{Method: models.Read, Model: name}, reply: ch}); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-ch:
			if r.err != nil {
				t.Fatal(r.err)
			}
		case <-time.After(waitLimit):
			t.Fatalf("request to %s not answered", name)
		}
	}
	ask("t0")
	old := cache["t0"]
	if !sys.retire(old) {
		t.Fatal("retire of an idle actor failed")
	}
	ask("t0")
	if cache["t0"] == old || cache["t0"] != liveModel(t, sys, "t0") {
		t.Fatal("the cache kept the passivated actor")
	}
	for i := range modelCacheSize + 8 {
		ask(fmt.Sprintf("t%d", i))
	}
	if len(cache) > modelCacheSize {
		t.Fatalf("the cache holds %d types, more than %d", len(cache), modelCacheSize)
	}
	if err := cache.send(sys.as.Root, sys, "ghost", &modelRequest{}); models.CodeOf(err) != models.CodeNotFound {
		t.Fatalf("send to an unknown type: %v", err)
	}
}

// TestSeqSurvivesPassivation: a type's stream is in the event log, not
// in its actor, so its Seq goes on after the actor is passivated.
func TestSeqSurvivesPassivation(t *testing.T) {
	t.Parallel()
	sys := newTestSystem(t, Config{ModelIdleTimeout: -1}, map[string]models.Handler{"a": echo, "b": echo})
	broadcast := func(name string) int64 {
		t.Helper()
		seq, err := sys.Call(context.Background(), models.Request{Method: methodBroadcast, Model: name})
		if err != nil {
			t.Fatal(err)
		}
		return seq.(int64)
	}
	passivate := func(name string) {
		t.Helper()
		m := liveModel(t, sys, name)
		if !sys.retire(m) {
			t.Fatalf("retire of %s failed", name)
		}
		waitSignal(t, m.done, name)
	}
	broadcast("a")
	broadcast("a")
	broadcast("b")
	passivate("a")
	passivate("b")
	for name, want := range map[string]int64{"a": 3, "b": 2} {
		if seq := broadcast(name); seq != want {
			t.Errorf("Seq of %s after passivation = %d, want %d", name, seq, want)
		}
	}
}

// TestShutdownWithPassivation: Shutdown answers what is in flight, waits
// for the actors being passivated as for the live ones, and passivates
// nothing once it has begun.
func TestShutdownWithPassivation(t *testing.T) {
	t.Parallel()
	g := newGate()
	sys := newTestSystem(t, Config{ModelIdleTimeout: -1}, map[string]models.Handler{"a": echo, "b": echo, "slow": g})
	ctx := context.Background()
	for _, name := range []string{"a", "b"} {
		if _, err := sys.Call(ctx, models.Request{Method: models.Read, Model: name}); err != nil {
			t.Fatal(err)
		}
	}
	a, b := liveModel(t, sys, "a"), liveModel(t, sys, "b")
	if !sys.retire(a) {
		t.Fatal("retire a")
	}
	waitSignal(t, a.done, "passivated a")

	tr := newFakeTransport(10)
	s := sys.NewSession(tr)
	send(t, s, request("read", "slow", nil, int64(1)))
	g.waitEntered(t)
	slow := liveModel(t, sys, "slow")
	if !sys.retire(b) { // b stops while Shutdown begins
		t.Fatal("retire b")
	}
	done := make(chan error, 1)
	go func() { done <- sys.Shutdown(ctx) }()
	waitFor(t, "Shutdown begun", sys.isClosing)
	if sys.retire(slow) {
		t.Fatal("an actor was passivated during Shutdown")
	}
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	default:
	}
	close(g.release)
	reply, _ := tr.next(t)
	wantOK(t, reply, int64(1))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]*modelState{"a": a, "b": b, "slow": slow} {
		select {
		case <-m.done:
		default:
			t.Fatalf("Shutdown returned before %s stopped", name)
		}
	}
	sys.mu.RLock()
	defer sys.mu.RUnlock()
	if len(sys.retiring) != 0 {
		t.Fatalf("%d passivated actors left after Shutdown", len(sys.retiring))
	}
}
