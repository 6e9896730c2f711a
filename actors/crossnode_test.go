package actors

import (
	"context"
	"testing"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/models"
)

// sharedMemLog is a memory log that says other nodes write it too, as a
// PostgreSQL store does; the tests play the other node by appending to it
// and handing its events over as the tail would.
type sharedMemLog struct{ *models.MemoryLog }

func (sharedMemLog) Shared() bool { return true }

// otherNode is a second writer of a shared log.
type otherNode struct {
	t   testing.TB
	log models.EventLog
}

// broadcast appends a broadcast of text to model's stream, as another
// node's model actor would, and returns its event.
func (n otherNode) broadcast(model, text string) models.Event {
	n.t.Helper()
	var e models.Event
	errs := n.log.Commit(context.Background(), []models.Write{func(tx models.Tx) (err error) {
		e.Seq, err = tx.Append(model, func(seq int64) ([]byte, error) {
			props := bert.List{bert.Tuple{bert.Atom("text"), []byte(text)}}
			e.Data, err = bert.Marshal(bert.Tuple{atomSync, bert.Atom("broadcast"), bert.Atom(model), props, seq})
			return e.Data, err
		})
		return err
	}})
	if errs[0] != nil {
		n.t.Fatal(errs[0])
	}
	return e
}

// newSharedSystem starts a system on a shared memory log, serving "doc"
// by a memory handler, with one subscribed session.
func newSharedSystem(t *testing.T, history models.HistoryConfig) (*System, otherNode, *fakeTransport) {
	t.Helper()
	log := sharedMemLog{models.NewMemoryLog(history)}
	sys := newTestSystem(t, Config{Log: log}, map[string]models.Handler{"doc": newMemModel()})
	tr := newFakeTransport(100)
	s := sys.NewSession(tr)
	send(t, s, request("subscribe", "doc", nil))
	reply, _ := tr.next(t)
	if seq, _ := position(t, wantOK(t, reply)); seq != 0 {
		t.Fatalf("subscribed at %d, want 0", seq)
	}
	return sys, otherNode{t: t, log: log}, tr
}

// localBroadcast broadcasts text to model through sys and returns its Seq.
func localBroadcast(t testing.TB, sys *System, model, text string) int64 {
	t.Helper()
	msg, err := sys.Call(context.Background(), models.Request{Method: methodBroadcast, Model: model,
		Props: models.Props{{Key: "text", Value: []byte(text)}}})
	if err != nil {
		t.Fatal(err)
	}
	return msg.(int64)
}

// wantBroadcasts checks that the next pushes are the broadcasts of texts
// with Seqs from first on.
func wantBroadcasts(t testing.TB, tr *fakeTransport, first int64, texts ...string) {
	t.Helper()
	for i, want := range texts {
		push, _ := tr.next(t)
		props := wantPush(t, push, "broadcast", "doc", first+int64(i))
		if got := text(t, prop(t, props, "text")); got != want {
			t.Fatalf("push %d says %q, want %q", first+int64(i), got, want)
		}
	}
}

// A local commit that comes before another node's earlier Seq waits for
// it; the tail's repeats are dropped.
func TestSharedLogDeliversInSeqOrder(t *testing.T) {
	t.Parallel()
	sys, other, tr := newSharedSystem(t, models.HistoryConfig{})
	remote := other.broadcast("doc", "remote 1")
	if seq := localBroadcast(t, sys, "doc", "local 2"); seq != 2 {
		t.Fatalf("local broadcast got Seq %d, want 2", seq)
	}
	// The tail brings 1 after this node committed 2, then again.
	sys.DeliverEvents("doc", []models.Event{remote})
	sys.DeliverEvents("doc", []models.Event{remote})
	localBroadcast(t, sys, "doc", "local 3")
	wantBroadcasts(t, tr, 1, "remote 1", "local 2", "local 3")
	if len(tr.frames) != 0 {
		push, _ := tr.next(t)
		t.Fatalf("a repeat was delivered: %s", format(push))
	}
}

// A hole the tail never fills (a lost notification) is filled from the
// log.
func TestSharedLogFillsHoleFromLog(t *testing.T) {
	t.Parallel()
	sys, other, tr := newSharedSystem(t, models.HistoryConfig{})
	other.broadcast("doc", "remote 1")
	other.broadcast("doc", "remote 2")
	localBroadcast(t, sys, "doc", "local 3")
	wantBroadcasts(t, tr, 1, "remote 1", "remote 2", "local 3")
}

// A hole the log can no longer fill ends the session, whose client then
// resubscribes and recovers or reloads, rather than miss events unaware.
func TestSharedLogLostEventsEndSession(t *testing.T) {
	t.Parallel()
	sys, other, tr := newSharedSystem(t, models.HistoryConfig{Size: 1})
	other.broadcast("doc", "remote 1")
	other.broadcast("doc", "remote 2") // 1 is pruned
	localBroadcast(t, sys, "doc", "local 3")
	if reason := tr.waitClosed(t); reason != StreamGap {
		t.Fatalf("session ended with %v, want %v", reason, StreamGap)
	}
}

// A subscriber that comes after events that are still on their way to
// this node's earlier subscribers hears only what follows its position.
func TestSharedLogLateSubscriberHearsOnlyNewer(t *testing.T) {
	t.Parallel()
	sys, other, first := newSharedSystem(t, models.HistoryConfig{})
	remote := other.broadcast("doc", "remote 1")
	late := newFakeTransport(100)
	s := sys.NewSession(late)
	send(t, s, request("subscribe", "doc", nil))
	reply, _ := late.next(t)
	if seq, _ := position(t, wantOK(t, reply)); seq != 1 {
		t.Fatalf("late subscriber at %d, want 1", seq)
	}
	sys.DeliverEvents("doc", []models.Event{remote})
	localBroadcast(t, sys, "doc", "local 2")
	wantBroadcasts(t, first, 1, "remote 1", "local 2")
	push, _ := late.next(t)
	wantPush(t, push, "broadcast", "doc", 2)
}
