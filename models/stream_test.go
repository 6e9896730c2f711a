package models

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// clock is a settable clock for the history's TTL.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// logUnderTest makes an EventLog with cfg and its clock set to c.
type logUnderTest func(t *testing.T, cfg HistoryConfig, c *clock) EventLog

var eventLogs = map[string]logUnderTest{
	"store": func(t *testing.T, cfg HistoryConfig, c *clock) EventLog {
		s, err := OpenStoreWith(filepath.Join(t.TempDir(), "s.db"), StoreConfig{History: cfg})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		s.now = c.now
		return s
	},
	"memory": func(t *testing.T, cfg HistoryConfig, c *clock) EventLog {
		l := NewMemoryLog(cfg)
		l.now = c.now
		return l
	},
}

// appendEvent is a write that appends one event of model whose message
// is its Seq's text, and records the Seq.
func appendEvent(model string, seq *int64) Write {
	return func(tx Tx) (err error) {
		*seq, err = tx.Append(model, func(n int64) ([]byte, error) { return []byte(fmt.Sprint(n)), nil })
		return err
	}
}

func appendN(t *testing.T, l EventLog, model string, n int) {
	t.Helper()
	for range n {
		var seq int64
		if err := l.Commit(context.Background(), []Write{appendEvent(model, &seq)})[0]; err != nil {
			t.Fatal(err)
		}
	}
}

// wantSince checks Since(after): complete or not, and the Seqs it gives.
func wantSince(t *testing.T, l EventLog, model string, after int64, maxBytes int, complete bool, seqs ...int64) {
	t.Helper()
	events, ok, err := l.Since(context.Background(), model, after, maxBytes)
	if err != nil {
		t.Fatal(err)
	}
	if ok != complete {
		t.Fatalf("Since(%d) complete = %v, want %v", after, ok, complete)
	}
	if len(events) != len(seqs) {
		t.Fatalf("Since(%d) = %d events, want %v", after, len(events), seqs)
	}
	for i, e := range events {
		if e.Seq != seqs[i] || string(e.Data) != fmt.Sprint(seqs[i]) {
			t.Fatalf("Since(%d)[%d] = Seq %d %q, want %d", after, i, e.Seq, e.Data, seqs[i])
		}
	}
}

// TestEventLogConformance runs the same checks on every EventLog.
func TestEventLogConformance(t *testing.T) {
	for name, open := range eventLogs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			c := &clock{t: time.Unix(1_800_000_000, 0)}
			l := open(t, HistoryConfig{Size: 3, TTL: time.Hour}, c)

			pos, err := l.Position(ctx, "a")
			if err != nil || pos.Seq != 0 || pos.Epoch == "" {
				t.Fatalf("Position of a new stream = %+v, %v; want Seq 0 and an epoch", pos, err)
			}
			wantSince(t, l, "a", 0, 0, true)
			wantSince(t, l, "a", 1, 0, false) // from the future

			// Seqs count per type, one commit or many.
			var s1, s2, s3 int64
			if errs := l.Commit(ctx, []Write{appendEvent("a", &s1), appendEvent("b", &s2), appendEvent("a", &s3)}); errors.Join(errs...) != nil {
				t.Fatal(errs)
			}
			if s1 != 1 || s2 != 1 || s3 != 2 {
				t.Fatalf("Seqs = %d %d %d, want 1 1 2", s1, s2, s3)
			}

			// A failed write takes no Seq, and fails alone.
			boom := errors.New("boom")
			var s4, s5 int64
			errs := l.Commit(ctx, []Write{
				func(tx Tx) error {
					if _, err := tx.Append("a", func(int64) ([]byte, error) { return []byte("x"), nil }); err != nil {
						return err
					}
					return boom // after a change: undone
				},
				appendEvent("a", &s4),
				func(tx Tx) error {
					_, err := tx.Append("a", func(int64) ([]byte, error) { return nil, boom })
					return err
				},
				appendEvent("a", &s5),
			})
			if !errors.Is(errs[0], boom) || errs[1] != nil || !errors.Is(errs[2], boom) || errs[3] != nil {
				t.Fatalf("errors = %v, want boom, nil, boom, nil", errs)
			}
			if s4 != 3 || s5 != 4 {
				t.Fatalf("Seqs after failed writes = %d %d, want 3 4", s4, s5)
			}
			if pos, _ := l.Position(ctx, "a"); pos.Seq != 4 {
				t.Fatalf("Position = %d, want 4", pos.Seq)
			}

			// History keeps the latest 3: recovery from 1 works, from 0
			// does not.
			wantSince(t, l, "a", 1, 0, true, 2, 3, 4)
			wantSince(t, l, "a", 0, 0, false)
			wantSince(t, l, "a", 4, 0, true)
			wantSince(t, l, "a", 2, 1, false) // two events of one byte each
			wantSince(t, l, "a", 2, 2, true, 3, 4)
			wantSince(t, l, "a", -1, 0, false)

			// Past the TTL nothing is recovered; new events are.
			c.advance(time.Hour)
			wantSince(t, l, "a", 3, 0, false)
			appendN(t, l, "a", 1)
			wantSince(t, l, "a", 4, 0, true, 5)
			wantSince(t, l, "b", 0, 0, false)
			wantSince(t, l, "b", 1, 0, true)
		})
	}
}

// TestEventLogNoHistory: with no history Seqs go on, and only a client
// that missed nothing recovers.
func TestEventLogNoHistory(t *testing.T) {
	for name, open := range eventLogs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			l := open(t, HistoryConfig{Size: -1}, &clock{t: time.Now()})
			appendN(t, l, "a", 3)
			wantSince(t, l, "a", 2, 0, false)
			wantSince(t, l, "a", 3, 0, true)
		})
	}
}

// TestStoreStreamDurable: Seq, epoch and history survive a reopen of the
// file; a new file has another epoch.
func TestStoreStreamDurable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, s, "a", 5)
	before, _ := s.Position(ctx, "a")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	after, _ := s.Position(ctx, "a")
	if after != before || after.Seq != 5 {
		t.Fatalf("after reopen %+v, before %+v", after, before)
	}
	wantSince(t, s, "a", 2, 0, true, 3, 4, 5)
	appendN(t, s, "a", 1)
	wantSince(t, s, "a", 5, 0, true, 6)

	other, err := OpenStore(filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if pos, _ := other.Position(ctx, "a"); pos.Epoch == after.Epoch || pos.Seq != 0 {
		t.Fatalf("a new store's stream %+v, the old one's %+v", pos, after)
	}
}

// TestStoreGroupCommit: writes committed at the same time share commits,
// each gets its own answer, and the Seqs of a type are contiguous.
func TestStoreGroupCommit(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	commits, writes := 0, 0
	s, err := OpenStoreWith(filepath.Join(t.TempDir(), "s.db"), StoreConfig{ObserveCommit: func(_ time.Duration, n int) {
		mu.Lock()
		commits++
		writes += n
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const writers, each = 32, 20
	ctx := context.Background()
	seqs := make(chan int64, writers*each)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				var seq int64
				id := fmt.Sprintf("w%d-%d", w, i)
				err := s.Commit(ctx, []Write{func(tx Tx) error {
					if _, err := tx.(*storeTx).insert("doc", id, Props{{Key: "w", Value: int64(w)}}, -1, nil); err != nil {
						return err
					}
					return appendEvent("doc", &seq)(tx)
				}})[0]
				if err != nil {
					t.Error(err)
					return
				}
				seqs <- seq
			}
		})
	}
	wg.Wait()
	close(seqs)
	seen := make(map[int64]bool)
	for seq := range seqs {
		if seen[seq] || seq < 1 || seq > writers*each {
			t.Fatalf("Seq %d twice or out of range", seq)
		}
		seen[seq] = true
	}
	if n, _ := s.Count(ctx, "doc"); n != writers*each {
		t.Fatalf("%d documents, want %d", n, writers*each)
	}
	mu.Lock()
	defer mu.Unlock()
	if writes != writers*each {
		t.Fatalf("commits held %d writes, want %d", writes, writers*each)
	}
	// 32 writers at once: commits are shared, or group commit is off.
	if commits >= writes {
		t.Fatalf("%d commits for %d writes: none shared", commits, writes)
	}
	t.Logf("%d writes in %d commits", writes, commits)
}

// TestStoreCommitAfterClose: a commit after Close is refused, not lost
// in a queue.
func TestStoreCommitAfterClose(t *testing.T) {
	t.Parallel()
	s, err := OpenStore(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	var seq int64
	if err := s.Commit(context.Background(), []Write{appendEvent("a", &seq)})[0]; !errors.Is(err, ErrUnavailable) {
		t.Fatalf("commit after close: %v, want unavailable", err)
	}
}

// TestStoreHistoryShrunk: after a reopen with a smaller history size,
// the events below the new floor are not replayed, though still in the
// file until appends prune them.
func TestStoreHistoryShrunk(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := OpenStoreWith(path, StoreConfig{History: HistoryConfig{Size: 30}})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, s, "a", 30)
	s.Close()
	if s, err = OpenStoreWith(path, StoreConfig{History: HistoryConfig{Size: 5}}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	wantSince(t, s, "a", 10, 0, false)
	wantSince(t, s, "a", 25, 0, true, 26, 27, 28, 29, 30)
}

// TestStoreObserveHistory: the history's length is reported after each
// commit that changes it, and for each type at open.
func TestStoreObserveHistory(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "s.db")
	seen := map[string]int{}
	cfg := StoreConfig{History: HistoryConfig{Size: 3}, ObserveHistory: func(model string, n int) { seen[model] = n }}
	s, err := OpenStoreWith(path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, s, "a", 2)
	if seen["a"] != 2 {
		t.Fatalf("history of a = %d after 2 events, want 2", seen["a"])
	}
	appendN(t, s, "a", 3)
	appendN(t, s, "b", 1)
	if seen["a"] != 3 || seen["b"] != 1 {
		t.Fatalf("history = %v, want a 3 and b 1", seen)
	}
	s.Close()
	seen = map[string]int{}
	if s, err = OpenStoreWith(path, cfg); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if seen["a"] != 3 || seen["b"] != 1 {
		t.Fatalf("history at open = %v, want a 3 and b 1", seen)
	}
}

// TestStorePrunesHistory: the bbolt store removes the events past the
// history's size and those past its TTL, oldest first, and keeps the
// young ones behind them, whatever the reason the front was removed for.
func TestStorePrunesHistory(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	observed := map[string]int{}
	s, err := OpenStoreWith(filepath.Join(t.TempDir(), "s.db"), StoreConfig{
		History:        HistoryConfig{Size: 5, TTL: time.Hour},
		ObserveHistory: func(model string, n int) { observed[model] = n },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.now = c.now
	want := func(n int) {
		t.Helper()
		var stored int
		if err := s.view(ctx, func(v *storeView) error {
			stored = v.count("a", partEvents)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if stored != n || observed["a"] != n {
			t.Fatalf("history holds %d events, observed %d; want %d", stored, observed["a"], n)
		}
	}
	appendN(t, s, "a", 8)
	want(5) // the size
	c.advance(30 * time.Minute)
	appendN(t, s, "a", 2)
	want(5)
	// The first 3 kept are now past the TTL, the 2 after them are not.
	c.advance(40 * time.Minute)
	appendN(t, s, "a", 1)
	want(3)
	wantSince(t, s, "a", 8, 0, true, 9, 10, 11)
	c.advance(2 * time.Hour)
	appendN(t, s, "a", 1)
	want(1)
}
