package models

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// The conformance suite: one set of checks of the DocumentStore contract,
// run against every implementation (the bbolt Store here, the PGStore in
// pg_test.go), each case on a fresh, empty store.

// conformanceStore is a DocumentStore with the write methods both stores
// export.
type conformanceStore interface {
	DocumentStore
	Insert(ctx context.Context, model, id string, attrs Props) (string, error)
	Put(ctx context.Context, model, id string, attrs Props) (bool, error)
	Merge(ctx context.Context, model, id string, attrs Props) (Props, error)
	Remove(ctx context.Context, model, id string) (Props, error)
}

// storePlace is a new, empty place for a store: open opens a store on it
// (again, after closeStore, to check what survives); age makes the
// history of every stream d older; close, if set, closes a store in the
// place's own way (a crash) instead of Close.
type storePlace struct {
	open  func(t *testing.T, cfg StoreConfig) conformanceStore
	age   func(t *testing.T, s conformanceStore, d time.Duration)
	close func(s conformanceStore)
}

// closeStore closes s as the place does.
func (p storePlace) closeStore(s conformanceStore) error {
	if p.close == nil {
		return s.Close()
	}
	p.close(s)
	return nil
}

// storeBackend makes places of one implementation.
type storeBackend func(t *testing.T) storePlace

var conformanceCases = []struct {
	name string
	run  func(t *testing.T, p storePlace)
}{
	{"CRUD", conformCRUD},
	{"Lossless", conformLossless},
	{"OrderAndPaging", conformOrder},
	{"TypesBound", conformTypesBound},
	{"StreamsSurviveReopen", conformStreamsReopen},
	{"Since", conformSince},
	{"GroupCommit", conformGroupCommit},
	{"Walk", conformWalk},
	{"Closed", conformClosed},
}

func runConformance(t *testing.T, b storeBackend) {
	for _, c := range conformanceCases {
		t.Run(c.name, func(t *testing.T) { c.run(t, b(t)) })
	}
}

// boltMode is how the places of a conformance run use their Store.
type boltMode int

const (
	// boltApplied: as served, the log applied to the file in the
	// background.
	boltApplied boltMode = iota
	// boltPending: the log never applied while a store is open, so that
	// every read merges the file with the pending changes.
	boltPending
	// boltCrash: as boltPending, and each close of a store the case
	// reopens is a crash, which leaves the file without the pending
	// changes: the next open must replay them from the log.
	boltCrash
)

// boltBackend makes places for Stores used as mode says.
func boltBackend(mode boltMode) storeBackend {
	return func(t *testing.T) storePlace {
		path := filepath.Join(t.TempDir(), "s.db")
		p := storePlace{
			open: func(t *testing.T, cfg StoreConfig) conformanceStore {
				if mode != boltApplied {
					cfg.pending.every = -1
				}
				s, err := OpenStoreWith(path, cfg)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			},
			age: func(t *testing.T, s conformanceStore, d time.Duration) {
				now := time.Now().Add(d)
				s.(*Store).now = func() time.Time { return now }
			},
		}
		if mode == boltCrash {
			p.close = func(s conformanceStore) { s.(*Store).crash() }
		}
		return p
	}
}

func TestBoltConformance(t *testing.T)        { runConformance(t, boltBackend(boltApplied)) }
func TestBoltConformancePending(t *testing.T) { runConformance(t, boltBackend(boltPending)) }
func TestBoltConformanceCrash(t *testing.T)   { runConformance(t, boltBackend(boltCrash)) }

func mustInsert(t *testing.T, s conformanceStore, model, id string, attrs Props) string {
	t.Helper()
	id, err := s.Insert(context.Background(), model, id, attrs)
	if err != nil {
		t.Fatalf("Insert %s %q: %v", model, id, err)
	}
	return id
}

func wantCode(t *testing.T, what string, err error, code Code) {
	t.Helper()
	if CodeOf(err) != code {
		t.Fatalf("%s: %v, want %s", what, err, code)
	}
}

func listIDs(t *testing.T, s conformanceStore, model string, offset, limit int) []string {
	t.Helper()
	docs, err := s.List(context.Background(), model, offset, limit)
	if err != nil {
		t.Fatalf("List(%d, %d): %v", offset, limit, err)
	}
	return docIDs(docs)
}

func conformCRUD(t *testing.T, p storePlace) {
	ctx := context.Background()
	s := p.open(t, StoreConfig{})
	id := mustInsert(t, s, "todo", "", Props{{"title", []byte("a")}})
	if !isDocumentID(id) {
		t.Fatalf("generated id %q", id)
	}
	got, err := s.Get(ctx, "todo", id)
	if err != nil || len(got) != 1 || string(got[0].Value.([]byte)) != "a" {
		t.Fatalf("Get = %v, %v", got, err)
	}
	_, err = s.Insert(ctx, "todo", id, Props{})
	wantCode(t, "Insert of an id that exists", err, CodeConflict)
	_, err = s.Get(ctx, "todo", "nope")
	wantCode(t, "Get of a missing id", err, CodeNotFound)
	_, err = s.Get(ctx, "other", id)
	wantCode(t, "Get in an unknown type", err, CodeNotFound)

	created, err := s.Put(ctx, "todo", id, Props{{"title", []byte("b")}, {"done", true}})
	if err != nil || created {
		t.Fatalf("Put of an existing document = %v, %v; want not created", created, err)
	}
	created, err = s.Put(ctx, "todo", "x", Props{{"n", int64(1)}})
	if err != nil || !created {
		t.Fatalf("Put of a new document = %v, %v; want created", created, err)
	}
	merged, err := s.Merge(ctx, "todo", id, Props{{"done", false}, {"n", int64(2)}})
	if err != nil || len(merged) != 3 || merged[1].Value != false {
		t.Fatalf("Merge = %v, %v", merged, err)
	}
	if got, _ := s.Get(ctx, "todo", id); !slices.EqualFunc(got, merged, func(a, b Prop) bool { return a.Key == b.Key && termEqual(a.Value, b.Value) }) {
		t.Fatalf("Get after Merge = %v, want %v", got, merged)
	}
	_, err = s.Merge(ctx, "todo", "nope", Props{{"a", int64(1)}})
	wantCode(t, "Merge of a missing id", err, CodeNotFound)
	old, err := s.Remove(ctx, "todo", id)
	if err != nil || len(old) != 3 {
		t.Fatalf("Remove = %v, %v", old, err)
	}
	_, err = s.Remove(ctx, "todo", id)
	wantCode(t, "Remove of a removed id", err, CodeNotFound)
	if n, err := s.Count(ctx, "todo"); err != nil || n != 1 {
		t.Fatalf("Count = %d, %v; want 1", n, err)
	}
	_, err = s.Insert(ctx, "todo", "big", Props{{"b", make([]byte, MaxDocumentSize)}})
	wantCode(t, "Insert of a document too large", err, CodeTooLarge)
	_, err = s.Insert(ctx, "", "a", Props{})
	wantCode(t, "Insert into an empty model name", err, CodeBadRequest)
}

func conformLossless(t *testing.T, p storePlace) {
	s := p.open(t, StoreConfig{})
	want := losslessAttrs()
	id := mustInsert(t, s, "thing", "", want)
	got, err := s.Get(context.Background(), "thing", id)
	if err != nil || len(got) != len(want) {
		t.Fatalf("Get = %d attributes, %v; want %d", len(got), err, len(want))
	}
	for i := range want {
		if got[i].Key != want[i].Key || !termEqual(got[i].Value, want[i].Value) {
			t.Errorf("attribute %d = %s: %#v, want %s: %#v", i, got[i].Key, got[i].Value, want[i].Key, want[i].Value)
		}
	}
}

func conformOrder(t *testing.T, p storePlace) {
	ctx := context.Background()
	s := p.open(t, StoreConfig{})
	ids := []string{"m", "b", "z", "a", "k", "c", "q"}
	for i, id := range ids {
		mustInsert(t, s, "c", id, Props{{"i", int64(i)}})
	}
	// A replaced document keeps its place; a removed one leaves none.
	if _, err := s.Put(ctx, "c", "z", Props{{"i", int64(99)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Remove(ctx, "c", "a"); err != nil {
		t.Fatal(err)
	}
	mustInsert(t, s, "c", "a", Props{})
	want := []string{"m", "b", "z", "k", "c", "q", "a"}
	if got := listIDs(t, s, "c", 0, 100); !slices.Equal(got, want) {
		t.Fatalf("List = %v, want %v", got, want)
	}
	for _, tc := range []struct{ offset, limit int }{{0, 3}, {3, 3}, {6, 3}, {7, 3}, {2, 0}, {100, 1}} {
		end := min(tc.offset+tc.limit, len(want))
		wantPage := []string{}
		if tc.offset < len(want) {
			wantPage = want[tc.offset:end]
		}
		if got := listIDs(t, s, "c", tc.offset, tc.limit); !slices.Equal(got, wantPage) {
			t.Fatalf("List(%d, %d) = %v, want %v", tc.offset, tc.limit, got, wantPage)
		}
	}
	// Past one batch of a PGStore read.
	for i := range 2*pgEachBatch + 5 {
		mustInsert(t, s, "long", fmt.Sprintf("%04d", 9999-i), Props{})
	}
	all := listIDs(t, s, "long", 3, 1000)
	if len(all) != 2*pgEachBatch+2 || all[0] != fmt.Sprintf("%04d", 9999-3) || all[len(all)-1] != fmt.Sprintf("%04d", 9999-2*pgEachBatch-4) {
		t.Fatalf("long List = %d ids from %v", len(all), all[:2])
	}
	if n, _ := s.Count(ctx, "long"); n != 2*pgEachBatch+5 {
		t.Fatalf("Count = %d", n)
	}
	_, err := s.List(ctx, "c", -1, 1)
	wantCode(t, "List with a negative offset", err, CodeBadRequest)
	if got := listIDs(t, s, "none", 0, 10); len(got) != 0 {
		t.Fatalf("List of an unknown type = %v", got)
	}
}

func conformTypesBound(t *testing.T, p storePlace) {
	ctx := context.Background()
	s := p.open(t, StoreConfig{MaxTypes: 3})
	d := NewDocumentsWith(s, DocumentsConfig{MaxTypes: 2})
	create := func(model string) error {
		h, ok := d.Handler(model)
		if !ok {
			t.Fatalf("no handler for %s", model)
		}
		_, err := h.Sync(ctx, Request{Method: Create, Model: model, Props: Props{{"a", int64(1)}}})
		return err
	}
	for _, m := range []string{"b", "a", "a"} {
		if err := create(m); err != nil {
			t.Fatalf("create in %s: %v", m, err)
		}
	}
	wantCode(t, "a create into a third type", create("c"), CodeForbidden)
	// A stream's event may make one more (the store's own bound, 3).
	var seq int64
	if err := s.Commit(ctx, []Write{appendEvent("news", &seq)})[0]; err != nil || seq != 1 {
		t.Fatalf("append to a new type: %d, %v", seq, err)
	}
	wantCode(t, "an append to a fourth type", s.Commit(ctx, []Write{appendEvent("more", &seq)})[0], CodeForbidden)
	types, err := s.Types(ctx)
	if err != nil || !slices.Equal(types, []string{"a", "b", "news"}) {
		t.Fatalf("Types = %v, %v", types, err)
	}
	// A removed type's last document leaves the type.
	docs, _ := s.List(ctx, "b", 0, 10)
	if _, err := s.Remove(ctx, "b", docs[0].ID); err != nil {
		t.Fatal(err)
	}
	if types, _ := s.Types(ctx); len(types) != 3 {
		t.Fatalf("Types after the last removal = %v", types)
	}
}

func conformStreamsReopen(t *testing.T, p storePlace) {
	ctx := context.Background()
	s := p.open(t, StoreConfig{})
	appendN(t, s, "a", 3)
	appendN(t, s, "b", 1)
	pos, err := s.Position(ctx, "a")
	if err != nil || pos.Seq != 3 || pos.Epoch == "" {
		t.Fatalf("Position = %+v, %v", pos, err)
	}
	if err := p.closeStore(s); err != nil {
		t.Fatal(err)
	}
	s = p.open(t, StoreConfig{})
	again, err := s.Position(ctx, "a")
	if err != nil || again != pos {
		t.Fatalf("Position after reopening = %+v, %v; want %+v", again, err, pos)
	}
	var seq int64
	if err := s.Commit(ctx, []Write{appendEvent("a", &seq)})[0]; err != nil || seq != 4 {
		t.Fatalf("append after reopening: Seq %d, %v; want 4", seq, err)
	}
	wantSince(t, s, "a", 0, 0, true, 1, 2, 3, 4)
	wantSince(t, s, "b", 0, 0, true, 1)
}

func conformSince(t *testing.T, p storePlace) {
	ctx := context.Background()
	s := p.open(t, StoreConfig{History: HistoryConfig{Size: 3, TTL: time.Hour}})
	wantSince(t, s, "a", 0, 0, true)
	wantSince(t, s, "a", 1, 0, false)
	appendN(t, s, "a", 5)
	wantSince(t, s, "a", 2, 0, true, 3, 4, 5)
	wantSince(t, s, "a", 1, 0, false) // below the floor
	wantSince(t, s, "a", 5, 0, true)
	wantSince(t, s, "a", 6, 0, false)
	wantSince(t, s, "a", -1, 0, false)
	wantSince(t, s, "a", 3, 1, false) // two events of one byte each
	wantSince(t, s, "a", 3, 2, true, 4, 5)

	// A smaller history at the next open: its floor counts at once.
	if err := p.closeStore(s); err != nil {
		t.Fatal(err)
	}
	s = p.open(t, StoreConfig{History: HistoryConfig{Size: 1, TTL: time.Hour}})
	wantSince(t, s, "a", 3, 0, false)
	wantSince(t, s, "a", 4, 0, true, 5)

	// Past the TTL nothing is recovered; new events are.
	p.age(t, s, 2*time.Hour)
	wantSince(t, s, "a", 4, 0, false)
	appendN(t, s, "a", 1)
	wantSince(t, s, "a", 5, 0, true, 6)

	// No history: Seqs go on, only a client that missed nothing recovers.
	if err := p.closeStore(s); err != nil {
		t.Fatal(err)
	}
	s = p.open(t, StoreConfig{History: HistoryConfig{Size: -1}})
	appendN(t, s, "a", 2)
	if pos, _ := s.Position(ctx, "a"); pos.Seq != 8 {
		t.Fatalf("Position = %d, want 8", pos.Seq)
	}
	wantSince(t, s, "a", 7, 0, false)
	wantSince(t, s, "a", 8, 0, true)
}

// conformGroupCommit: in one group, a write that fails cleanly is passed
// over, one that fails after a change is undone alone, and the others
// commit, with gapless Seqs.
func conformGroupCommit(t *testing.T, p storePlace) {
	ctx := context.Background()
	s := p.open(t, StoreConfig{})
	mustInsert(t, s, "d", "taken", Props{})
	boom := errors.New("boom")
	insert := func(id string) Write {
		return func(tx Tx) error {
			_, err := tx.(docTx).insert("d", id, Props{{"id", []byte(id)}}, -1, nil)
			return err
		}
	}
	var s1, s2, s3 int64
	writes := []Write{
		appendEvent("a", &s1),
		insert("taken"), // fails cleanly
		func(tx Tx) error { // fails after a change
			if _, err := tx.Append("a", func(int64) ([]byte, error) { return []byte("x"), nil }); err != nil {
				return err
			}
			if _, err := tx.(docTx).insert("d", "undone", Props{}, -1, nil); err != nil {
				return err
			}
			return boom
		},
		insert("new"),
		appendEvent("a", &s2),
	}
	// Two calls submitted together share a group when the committer is
	// busy; in any case each write's outcome is its own.
	done := make(chan []error, 1)
	s.Submit(ctx, writes, func(errs []error) { done <- errs })
	errs2 := s.Commit(ctx, []Write{appendEvent("a", &s3), insert("taken")})
	errs := <-done
	if errs[0] != nil || CodeOf(errs[1]) != CodeConflict || !errors.Is(errs[2], boom) || errs[3] != nil || errs[4] != nil {
		t.Fatalf("errors = %v", errs)
	}
	if errs2[0] != nil || CodeOf(errs2[1]) != CodeConflict {
		t.Fatalf("errors of the second call = %v", errs2)
	}
	if s1 != 1 || s2 != 2 || s3 != 3 {
		t.Fatalf("Seqs = %d %d %d, want 1 2 3", s1, s2, s3)
	}
	wantSince(t, s, "a", 0, 0, true, 1, 2, 3)
	if _, err := s.Get(ctx, "d", "undone"); CodeOf(err) != CodeNotFound {
		t.Fatalf("the failed write's document: %v", err)
	}
	if got := listIDs(t, s, "d", 0, 10); !slices.Equal(got, []string{"taken", "new"}) {
		t.Fatalf("documents = %v", got)
	}
	// A write handed over with an ended context is not run.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	var s4 int64
	wantCode(t, "a write with an ended context", s.Commit(cctx, []Write{appendEvent("a", &s4)})[0], CodeUnavailable)
	if pos, _ := s.Position(ctx, "a"); pos.Seq != 3 {
		t.Fatalf("Position = %d, want 3", pos.Seq)
	}
}

func conformWalk(t *testing.T, p storePlace) {
	ctx := context.Background()
	s := p.open(t, StoreConfig{})
	for _, d := range []struct{ model, id string }{{"b", "2"}, {"a", "z"}, {"b", "1"}, {"a", "y"}, {"c", "0"}} {
		mustInsert(t, s, d.model, d.id, Props{{"m", []byte(d.model)}})
	}
	appendN(t, s, "events-only", 1)
	var seen []string
	err := s.Walk(ctx, func(model string, d Doc) error {
		if string(d.Attrs[0].Value.([]byte)) != model {
			t.Fatalf("document %s/%s has %v", model, d.ID, d.Attrs)
		}
		seen = append(seen, model+"/"+d.ID)
		return nil
	})
	if want := []string{"a/y", "a/z", "b/1", "b/2", "c/0"}; err != nil || !slices.Equal(seen, want) {
		t.Fatalf("Walk = %v, %v; want %v", seen, err, want)
	}
	stop := errors.New("stop")
	n := 0
	err = s.Walk(ctx, func(string, Doc) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("Walk stopped by fn: %v after %d documents", err, n)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	wantCode(t, "Walk with an ended context", s.Walk(cctx, func(string, Doc) error { return nil }), CodeUnavailable)
	if err := s.Ready(ctx); err != nil {
		t.Fatalf("Ready: %v", err)
	}
}

func conformClosed(t *testing.T, p storePlace) {
	ctx := context.Background()
	s := p.open(t, StoreConfig{})
	mustInsert(t, s, "a", "1", Props{})
	if err := p.closeStore(s); err != nil {
		t.Fatal(err)
	}
	_, err := s.Insert(ctx, "a", "2", Props{})
	wantCode(t, "Insert after Close", err, CodeUnavailable)
	_, err = s.Get(ctx, "a", "1")
	wantCode(t, "Get after Close", err, CodeUnavailable)
	wantCode(t, "Ready after Close", s.Ready(ctx), CodeUnavailable)
	if err := s.Close(); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
}
