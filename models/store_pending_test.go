package models

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// crash ends s as a crash would, once: what is in its log stays there,
// and the file gets none of the pending changes. It may be called more
// than once.
func (s *Store) crash() {
	s.closed.Do(func() {
		s.commits.close()
		s.wal.Close()
		s.db.Close()
		// The applier's last round finds the file closed.
		close(s.stopApplier)
		<-s.applier.done
	})
}

// storeState is everything a store shows, read through its public
// methods: what must be the same whether the changes are pending, in the
// file, or replayed.
type storeState struct {
	Types  []string
	Docs   map[string][]Doc // by type, in creation order
	Pages  map[string][][]string
	Counts map[string]int
	Walked []string
	Pos    map[string]Position
	Events map[string][]Event
}

func readState(t *testing.T, s *Store) storeState {
	t.Helper()
	ctx := context.Background()
	st := storeState{Docs: map[string][]Doc{}, Pages: map[string][][]string{}, Counts: map[string]int{}, Pos: map[string]Position{}, Events: map[string][]Event{}}
	var err error
	if st.Types, err = s.Types(ctx); err != nil {
		t.Fatal(err)
	}
	for _, model := range st.Types {
		if st.Docs[model], err = s.List(ctx, model, 0, 1<<20); err != nil {
			t.Fatal(err)
		}
		for off := 0; off <= len(st.Docs[model]); off += 3 {
			docs, err := s.List(ctx, model, off, 3)
			if err != nil {
				t.Fatal(err)
			}
			st.Pages[model] = append(st.Pages[model], docIDs(docs))
		}
		if st.Counts[model], err = s.Count(ctx, model); err != nil {
			t.Fatal(err)
		}
		for _, d := range st.Docs[model] {
			if _, err := s.Get(ctx, model, d.ID); err != nil {
				t.Fatalf("Get %s %s of a listed document: %v", model, d.ID, err)
			}
		}
		if st.Pos[model], err = s.Position(ctx, model); err != nil {
			t.Fatal(err)
		}
		events, complete, err := s.Since(ctx, model, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !complete {
			// The history lost its front: replay what it holds.
			events, _, err = s.Since(ctx, model, st.Pos[model].Seq-int64(s.history[model]), 0)
			if err != nil {
				t.Fatal(err)
			}
		}
		for i := range events {
			events[i].Time = events[i].Time.UTC()
		}
		st.Events[model] = events
	}
	err = s.Walk(ctx, func(model string, d Doc) error {
		st.Walked = append(st.Walked, model+"/"+d.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// randomWrites makes n random changes of a few types: inserts, puts,
// merges, removes and broadcasts, some failing (a conflict, a missing
// document), and returns the ids they leave.
func randomWrites(t *testing.T, s *Store, rnd *rand.Rand, n int, ids map[string][]string) {
	t.Helper()
	ctx := context.Background()
	models := []string{"a", "b", "c", "d"}
	for i := range n {
		model := models[rnd.IntN(len(models))]
		have := ids[model]
		pick := func() string {
			if len(have) == 0 || rnd.IntN(5) == 0 {
				return fmt.Sprintf("missing-%d", i)
			}
			return have[rnd.IntN(len(have))]
		}
		attrs := Props{{"i", int64(i)}, {"pad", make([]byte, rnd.IntN(300))}}
		var err error
		switch op := rnd.IntN(10); {
		case op < 4:
			var id string
			if id, err = s.Insert(ctx, model, fmt.Sprintf("%s-%d", model, rnd.IntN(n)), attrs); err == nil {
				ids[model] = append(have, id)
			}
		case op < 5:
			id := pick()
			var created bool
			if created, err = s.Put(ctx, model, id, attrs); err == nil && created {
				ids[model] = append(have, id)
			}
		case op < 7:
			_, err = s.Merge(ctx, model, pick(), Props{{"m", int64(i)}})
		case op < 9:
			id := pick()
			if _, err = s.Remove(ctx, model, id); err == nil {
				ids[model] = slices.DeleteFunc(have, func(x string) bool { return x == id })
			}
		default:
			var seq int64
			err = s.Commit(ctx, []Write{appendEvent(model, &seq)})[0]
		}
		if err != nil && CodeOf(err) != CodeConflict && CodeOf(err) != CodeNotFound {
			t.Fatalf("write %d: %v", i, err)
		}
	}
}

// TestStorePendingReadsAsApplied: a store reads the same through its
// pending changes as once they are applied to the file, and as after a
// crash and a replay, with changes pending over changes in the file.
func TestStorePendingReadsAsApplied(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	cfg := StoreConfig{History: HistoryConfig{Size: 40}, pending: pendingConfig{every: -1}}
	s, err := OpenStoreWith(path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	ids := map[string][]string{}
	for round := range 6 {
		randomWrites(t, s, rnd, 150, ids)
		pending := readState(t, s)
		if s.published.Load().last <= s.applied.Load() {
			t.Fatalf("round %d: nothing pending", round)
		}
		if round%2 == 1 {
			// Crash with changes pending over applied ones; reopen.
			s.crash()
			if s, err = OpenStoreWith(path, cfg); err != nil {
				t.Fatal(err)
			}
			if got := readState(t, s); !statesEqual(got, pending) {
				t.Fatalf("round %d: after a crash and a replay, the store reads\n%+v\nwant\n%+v", round, got, pending)
			}
			continue
		}
		if err := s.applyPending(); err != nil {
			t.Fatal(err)
		}
		if got := readState(t, s); !statesEqual(got, pending) {
			t.Fatalf("round %d: applied, the store reads\n%+v\nwant, as pending,\n%+v", round, got, pending)
		}
	}
	s.Close()
}

func statesEqual(a, b storeState) bool {
	return fmt.Sprintf("%#v", a) == fmt.Sprintf("%#v", b)
}

// TestStoreCrashKeepsAcknowledged: writes acknowledged and never applied
// to the file are there after a crash, each document with its event; the
// replay is applied once, so a second crash and open find the same.
func TestStoreCrashKeepsAcknowledged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	cfg := StoreConfig{pending: pendingConfig{every: -1}}
	s, err := OpenStoreWith(path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const n = 50
	for i := range n {
		write := func(tx Tx) error {
			if _, err := tx.(docTx).insert("todo", fmt.Sprint(i), Props{{"i", int64(i)}}, -1, nil); err != nil {
				return err
			}
			var seq int64
			return appendEvent("todo", &seq)(tx)
		}
		if err := s.Commit(ctx, []Write{write})[0]; err != nil {
			t.Fatal(err)
		}
	}
	s.crash()
	for range 2 {
		if s, err = OpenStoreWith(path, cfg); err != nil {
			t.Fatal(err)
		}
		if got := listIDs(t, s, "todo", 0, 2*n); len(got) != n || got[0] != "0" || got[n-1] != fmt.Sprint(n-1) {
			t.Fatalf("after a crash: documents %v, want 0 to %d", got, n-1)
		}
		seqs := make([]int64, n)
		for i := range seqs {
			seqs[i] = int64(i + 1)
		}
		wantSince(t, s, "todo", 0, 0, true, seqs...)
		s.crash()
	}
	entries, err := os.ReadDir(path + walSuffix)
	if err != nil || len(entries) == 0 {
		t.Fatalf("the log's directory: %v, %v", entries, err)
	}
}

// TestStorePendingBound: past their bound, the pending changes make the
// committer wait for the applier, which applies them though its pace
// would not yet; writes go on, and nothing is lost.
func TestStorePendingBound(t *testing.T) {
	const max = 64 << 10
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := OpenStoreWith(path, StoreConfig{pending: pendingConfig{every: -1, at: 1 << 30, max: max}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	const n, size = 40, 8 << 10
	for i := range n {
		if _, err := s.Insert(ctx, "blob", fmt.Sprint(i), Props{{"b", make([]byte, size)}}); err != nil {
			t.Fatal(err)
		}
	}
	if s.applied.Load() == 0 {
		t.Fatalf("%d writes of %d bytes past a bound of %d applied nothing", n, size, max)
	}
	// Read while the committer is idle: it prunes only when it runs.
	if s.pendingBytes > max+2*size {
		t.Fatalf("%d bytes pending, bound %d", s.pendingBytes, max)
	}
	if got := listIDs(t, s, "blob", 0, 2*n); len(got) != n {
		t.Fatalf("%d documents, want %d", len(got), n)
	}
}

// TestStoreWriteOverLogBound: a write whose changes cannot fit in one
// segment of the log fails alone with too_large, nothing of it stays,
// and the other writes of its group commit.
func TestStoreWriteOverLogBound(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	big := func(tx Tx) error {
		for i := range walSegmentSize/(MaxDocumentSize-64) + 1 {
			if _, err := tx.(docTx).insert("big", fmt.Sprint(i), Props{{"b", make([]byte, MaxDocumentSize-64)}}, -1, nil); err != nil {
				return err
			}
		}
		return nil
	}
	small := func(id string) Write {
		return func(tx Tx) error {
			_, err := tx.(docTx).insert("small", id, Props{}, -1, nil)
			return err
		}
	}
	errs := s.Commit(ctx, []Write{small("a"), big, small("b")})
	wantCode(t, "a write of more than a segment", errs[1], CodeTooLarge)
	if errs[0] != nil || errs[2] != nil {
		t.Fatalf("the other writes of the group: %v", errs)
	}
	if n, err := s.Count(ctx, "big"); err != nil || n != 0 {
		t.Fatalf("Count after the failed write = %d, %v", n, err)
	}
	if got := listIDs(t, s, "small", 0, 10); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("List after = %v", got)
	}
}

// TestStorePrunesReplacedChanges: once the file has applied them, the
// pending changes leave the committer's tree, those a later write
// replaced as well as the latest of each key, and a change applied by the
// file but replaced by one still pending leaves the newer one in place.
func TestStorePrunesReplacedChanges(t *testing.T) {
	s, err := OpenStoreWith(filepath.Join(t.TempDir(), "s.db"), StoreConfig{pending: pendingConfig{every: -1}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	put := func(id string, v int64) {
		t.Helper()
		if _, err := s.Put(ctx, "t", id, Props{{"v", v}}); err != nil {
			t.Fatal(err)
		}
	}
	wantV := func(id string, v int64) {
		t.Helper()
		attrs, err := s.Get(ctx, "t", id)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := attrs.Get("v"); got != v {
			t.Fatalf("%s: v = %v, want %d", id, got, v)
		}
	}
	// Each pending change the tree holds is one the file has not applied.
	checkTree := func(when string) {
		t.Helper()
		applied := s.applied.Load()
		s.pending.Scan(func(c *change) bool {
			if c.pos <= applied {
				t.Errorf("%s: the tree still holds %s/%d/%q of position %d, applied through %d", when, c.model, c.part, c.key, c.pos, applied)
			}
			return true
		})
	}
	for v := range int64(3) {
		put("x", v) // each group replaces x's change of the group before
	}
	if err := s.applyPending(); err != nil {
		t.Fatal(err)
	}
	put("x", 3) // pending over the applied 2, and the prune's first group
	checkTree("after the prune")
	if n := s.pending.Len(); n != 1 {
		t.Errorf("the tree holds %d changes, want 1: x's latest", n)
	}
	wantV("x", 3)
	if err := s.applyPending(); err != nil {
		t.Fatal(err)
	}
	put("y", 1)
	checkTree("after the second prune")
	wantV("x", 3)
	wantV("y", 1)
}
