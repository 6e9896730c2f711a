package actors

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/models"
)

// newDocumentSystem starts a system serving the document model from a
// store of its own, with the given history.
func newDocumentSystem(t testing.TB, cfg Config, history models.HistoryConfig) (*System, *models.Store) {
	t.Helper()
	store, err := models.OpenStoreWith(filepath.Join(t.TempDir(), "s.db"), models.StoreConfig{History: history})
	if err != nil {
		t.Fatal(err)
	}
	// Registered after newTestSystem's, so run before it: the system
	// shuts down before its store closes.
	t.Cleanup(func() { store.Close() })
	cfg.Documents = models.NewDocuments(store, nil)
	return newTestSystem(t, cfg, nil), store
}

// position is a subscribe or unsubscribe reply's Seq and epoch.
func position(t testing.TB, msg any) (int64, []byte) {
	t.Helper()
	seq, ok := prop(t, msg, "seq").(int64)
	if !ok {
		t.Fatalf("seq of %s is not an integer", format(msg))
	}
	epoch, ok := prop(t, msg, "epoch").([]byte)
	if !ok || len(epoch) == 0 {
		t.Fatalf("epoch of %s is not a binary", format(msg))
	}
	return seq, epoch
}

// recover subscribes s to model with since and epoch and returns
// whether it recovered.
func recoverFrom(t testing.TB, s *Session, tr *fakeTransport, model string, since int64, epoch []byte) (bool, int64) {
	t.Helper()
	send(t, s, request("subscribe", model, kv("since", since, "epoch", epoch)))
	reply, _ := tr.next(t)
	msg := wantOK(t, reply)
	top, got := position(t, msg)
	if string(got) != string(epoch) && prop(t, msg, "recovered") == true {
		t.Fatalf("recovered with epoch %q against %q", got, epoch)
	}
	recovered, ok := prop(t, msg, "recovered").(bool)
	if !ok {
		t.Fatalf("recovered of %s is not a boolean", format(msg))
	}
	return recovered, top
}

func TestSubscribeRecovery(t *testing.T) {
	t.Parallel()
	sys, _ := newDocumentSystem(t, Config{}, models.HistoryConfig{Size: 3})
	ctx := context.Background()
	create := func(name string) {
		t.Helper()
		req, err := models.NewRequest(models.Create, "doc", models.Props{{Key: "name", Value: []byte(name)}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sys.Call(ctx, req); err != nil {
			t.Fatal(err)
		}
	}

	tr := newFakeTransport(100)
	s := sys.NewSession(tr)
	send(t, s, request("subscribe", "doc", nil))
	reply, _ := tr.next(t)
	top, epoch := position(t, wantOK(t, reply))
	if top != 0 {
		t.Fatalf("Seq of a new stream %d, want 0", top)
	}
	create("a")
	wantPush(t, first(t, tr), "created", "doc", 1)
	s.Close()
	tr.waitClosed(t)

	// Offline while two more are made: recovered, the missed events
	// follow the reply in order, then the live ones.
	create("b")
	create("c")
	tr = newFakeTransport(100)
	s = sys.NewSession(tr)
	recovered, top := recoverFrom(t, s, tr, "doc", 1, epoch)
	if !recovered || top != 3 {
		t.Fatalf("recovered %v at %d, want true at 3", recovered, top)
	}
	if name := prop(t, wantPush(t, first(t, tr), "created", "doc", 2), "name"); string(name.([]byte)) != "b" {
		t.Fatalf("replayed %s, want b", name)
	}
	wantPush(t, first(t, tr), "created", "doc", 3)
	create("d")
	wantPush(t, first(t, tr), "created", "doc", 4)

	// Up to date: recovered, nothing replayed.
	tr2 := newFakeTransport(100)
	s2 := sys.NewSession(tr2)
	if recovered, _ := recoverFrom(t, s2, tr2, "doc", 4, epoch); !recovered {
		t.Fatal("a client that missed nothing did not recover")
	}
	// Below the floor of a 3-event history, from another epoch, or from
	// the future: not recovered, nothing replayed.
	for _, c := range []struct {
		since int64
		epoch []byte
	}{{0, epoch}, {3, []byte("another")}, {9, epoch}} {
		if recovered, _ := recoverFrom(t, s2, tr2, "doc", c.since, c.epoch); recovered {
			t.Fatalf("recovered from %d in epoch %q", c.since, c.epoch)
		}
	}
	create("e")
	wantPush(t, first(t, tr2), "created", "doc", 5) // the next frame is the live push

	// A since that is not a count is a bad request.
	send(t, s2, request("subscribe", "doc", kv("since", []byte("x"), "epoch", epoch)))
	reply, _ = tr2.next(t)
	wantError(t, reply, models.CodeBadRequest)

	send(t, s2, request("unsubscribe", "doc", nil))
	reply, _ = tr2.next(t)
	if seq, got := position(t, wantOK(t, reply)); seq != 5 || string(got) != string(epoch) {
		t.Fatalf("unsubscribe answered %d %q", seq, got)
	}
}

// TestRecoveryMergeWindow hammers a type with writes while sessions
// subscribe with since: each must get every Seq after its since exactly
// once and in order, the replayed ones and the live ones, although its
// reply waits behind a slow request of its own, so that live pushes come
// while it waits.
func TestRecoveryMergeWindow(t *testing.T) {
	t.Parallel()
	g := newGate()
	store, err := models.OpenStoreWith(filepath.Join(t.TempDir(), "s.db"), models.StoreConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	reg := models.NewRegistry()
	if err := reg.Register("slow", g); err != nil {
		t.Fatal(err)
	}
	sys := newTestSystem(t, Config{Registry: reg, Documents: models.NewDocuments(store, nil)}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	seed, _ := models.NewRequest(models.Create, "hot", nil)
	if _, err := sys.Call(ctx, seed); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				req, _ := models.NewRequest(models.Create, "hot", models.Props{{Key: "w", Value: fmt.Appendf(nil, "%d-%d", w, i)}})
				if _, err := sys.Call(ctx, req); err != nil && ctx.Err() == nil {
					t.Error(err)
					return
				}
			}
		})
	}
	pos, err := store.Position(ctx, "hot")
	if err != nil {
		t.Fatal(err)
	}
	const rounds, follow = 8, 40
	for round := range rounds {
		tr := newFakeTransport(4096)
		s := sys.NewSession(tr)
		top, err := store.Position(ctx, "hot")
		if err != nil {
			t.Fatal(err)
		}
		since := max(top.Seq-int64(round*3), 0)
		// The slow read holds the queue: the subscribe's reply waits
		// behind it while the writers go on.
		send(t, s, request("read", "slow", nil))
		g.waitEntered(t)
		send(t, s, request("subscribe", "hot", kv("since", since, "epoch", []byte(pos.Epoch))))
		// Some events happen once the model actor has served the
		// subscribe and while its reply waits.
		hot := liveModel(t, sys, "hot")
		var served models.Position
		for hot.nsubs.Load() == 0 {
			time.Sleep(time.Millisecond) // polling, not a wait for an event
		}
		if served, err = store.Position(ctx, "hot"); err != nil {
			t.Fatal(err)
		}
		for {
			next, err := store.Position(ctx, "hot")
			if err != nil {
				t.Fatal(err)
			}
			if next.Seq >= served.Seq+10 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		g.release <- struct{}{}
		reply, _ := tr.next(t)
		wantOK(t, reply) // the slow read
		reply, _ = tr.next(t)
		msg := wantOK(t, reply)
		if prop(t, msg, "recovered") != true {
			t.Fatalf("round %d: not recovered from %d: %s", round, since, format(msg))
		}
		want := since + 1
		for want <= since+follow {
			push, _ := tr.next(t)
			if len(push) != 5 || push[1] != bert.Atom("created") {
				t.Fatalf("round %d: %s, want a created push", round, format(push))
			}
			if push[4] != want {
				t.Fatalf("round %d: push Seq %v, want %d (since %d)", round, push[4], want, since)
			}
			want++
		}
		s.Close()
		tr.waitClosed(t)
	}
}

// TestHeldPushesBounded: a session whose subscribe waits behind a slow
// request holds the type's pushes back, up to MaxRecoverySize; past it
// the session is closed as a slow consumer rather than hold more.
func TestHeldPushesBounded(t *testing.T) {
	t.Parallel()
	g := newGate()
	sys := newTestSystem(t, Config{MaxRecoverySize: 2048}, map[string]models.Handler{"slow": g, "hot": echo})
	tr := newFakeTransport(100)
	s := sys.NewSession(tr)
	send(t, s, request("subscribe", "hot", nil))
	wantOK(t, first(t, tr))
	send(t, s, request("read", "slow", nil))
	g.waitEntered(t)
	send(t, s, request("subscribe", "hot", nil)) // held behind the slow read
	// Broadcasts from another session, 1 KiB each, until the hold
	// passes 2 KiB; the session must be closed, not grow.
	other := sys.NewSession(newFakeTransport(100))
	for range 4 {
		send(t, other, request("broadcast", "hot", kv("pad", make([]byte, 1024))))
	}
	if reason := tr.waitClosed(t); reason != SlowConsumer {
		t.Fatalf("closed with %v, want slow consumer", reason)
	}
	close(g.release)
}

// TestGroupCommitFailsAlone: creates pipelined on one connection commit
// in shared transactions; the one whose id is taken fails alone, the
// others are answered ok, in order, each pushed once with consecutive
// Seqs.
func TestGroupCommitFailsAlone(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	maxGroup, writes := 0, 0
	store, err := models.OpenStoreWith(filepath.Join(t.TempDir(), "s.db"), models.StoreConfig{ObserveCommit: func(_ time.Duration, n int) {
		mu.Lock()
		maxGroup = max(maxGroup, n)
		writes += n
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	sys := newTestSystem(t, Config{Documents: models.NewDocuments(store, nil)}, nil)

	tr := newFakeTransport(1000)
	s := sys.NewSession(tr)
	send(t, s, request("subscribe", "doc", nil))
	wantOK(t, first(t, tr))
	const n = 200
	for i := range n {
		id := fmt.Appendf(nil, "d%d", i)
		if i == n/2 {
			id = []byte("d0") // taken
		}
		send(t, s, request("create", "doc", kv("id", id), int64(i)))
	}
	seq := int64(0)
	for i := range n {
		reply := first(t, tr)
		for len(reply) == 5 && reply[1] == bert.Atom("created") {
			seq++
			if reply[4] != seq {
				t.Fatalf("push Seq %v, want %d", reply[4], seq)
			}
			reply = first(t, tr)
		}
		if i == n/2 {
			wantError(t, reply, models.CodeConflict, int64(i))
			continue
		}
		wantOK(t, reply, int64(i))
	}
	for seq < n-1 {
		wantPush(t, first(t, tr), "created", "doc", seq+1)
		seq++
	}
	if count, _ := store.Count(context.Background(), "doc"); count != n-1 {
		t.Fatalf("%d documents, want %d", count, n-1)
	}
	mu.Lock()
	defer mu.Unlock()
	if maxGroup < 2 {
		t.Fatalf("the largest commit held %d writes: pipelined creates were not grouped", maxGroup)
	}
	// One write per create: the document and its event commit together.
	if writes != n {
		t.Fatalf("%d writes committed for %d creates, want one each", writes, n)
	}
	t.Logf("largest commit: %d writes", maxGroup)
}
