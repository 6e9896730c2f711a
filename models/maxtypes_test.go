package models

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/bertsync/bertsync/bert"
)

// TestDocumentsMaxTypes: past MaxTypes a create or upsert into a new type
// is forbidden and makes nothing; the types in the store go on, reads of
// unknown types make nothing, and a failed write does not use up the
// bound.
func TestDocumentsMaxTypes(t *testing.T) {
	s := openTestStore(t)
	d := NewDocumentsWith(s, DocumentsConfig{MaxTypes: 2})
	handler := func(model string) Handler {
		t.Helper()
		h, ok := d.Handler(model)
		if !ok {
			t.Fatalf("no handler for %s", model)
		}
		return h
	}
	name := bert.List{kv("name", []byte("x"))}

	// Reads, patches and deletes of unknown types answer and make nothing.
	for i := range 50 {
		h := handler(fmt.Sprintf("junk%d", i))
		got, err := call(t, h, Read, nil)
		if l, ok := got.([]Props); err != nil || !ok || len(l) != 0 {
			t.Fatalf("read of an unknown type = %#v, %v, want an empty collection", got, err)
		}
		if _, err := call(t, h, Read, bert.List{kv("id", []byte("1"))}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("read of an id of an unknown type: %v", err)
		}
		if _, err := call(t, h, Patch, bert.List{kv("id", []byte("1")), kv("a", int64(1))}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("patch in an unknown type: %v", err)
		}
		if _, err := call(t, h, Delete, bert.List{kv("id", []byte("1"))}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("delete in an unknown type: %v", err)
		}
	}
	if n := s.TypeCount(); n != 0 {
		t.Fatalf("reads made %d types", n)
	}

	// A create that fails (too large) makes no type and uses up nothing.
	big := bert.List{kv("blob", make([]byte, MaxDocumentSize))}
	if _, err := call(t, handler("a"), Create, big); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("create too large: %v", err)
	}
	if n := s.TypeCount(); n != 0 {
		t.Fatalf("a failed create counts %d types", n)
	}

	if _, err := call(t, handler("a"), Create, name); err != nil {
		t.Fatal(err)
	}
	// update of a missing id creates: it makes a type too.
	if _, err := call(t, handler("b"), Update, bert.List{kv("id", []byte("7")), kv("name", []byte("y"))}); err != nil {
		t.Fatal(err)
	}
	if n := s.TypeCount(); n != 2 {
		t.Fatalf("TypeCount = %d, want 2", n)
	}
	for _, m := range []Method{Create, Update} {
		_, err := call(t, handler("c"), m, bert.List{kv("id", []byte("1")), kv("name", []byte("z"))})
		if !errors.Is(err, ErrForbidden) {
			t.Fatalf("%s into a third type: %v, want forbidden", m, err)
		}
		if CodeOf(err) != CodeForbidden {
			t.Fatalf("%s into a third type: code %s", m, CodeOf(err))
		}
	}
	if got, err := call(t, handler("c"), Read, nil); err != nil || len(got.([]Props)) != 0 {
		t.Fatalf("read of the refused type = %#v, %v", got, err)
	}
	// The types in the store are served as before.
	if _, err := call(t, handler("a"), Create, name); err != nil {
		t.Fatalf("create into an existing type at the bound: %v", err)
	}
	if _, err := call(t, handler("b"), Delete, bert.List{kv("id", []byte("7"))}); err != nil {
		t.Fatal(err)
	}
	// An emptied type keeps its place.
	if _, err := call(t, handler("b"), Create, name); err != nil {
		t.Fatalf("create into an emptied type: %v", err)
	}
	if n := s.TypeCount(); n != 2 {
		t.Fatalf("TypeCount = %d after refusals, want 2", n)
	}

	// No bound: the same store takes more.
	free := NewDocumentsWith(s, DocumentsConfig{MaxTypes: -1})
	h, _ := free.Handler("c")
	if _, err := call(t, h, Create, name); err != nil {
		t.Fatalf("create with no bound: %v", err)
	}
	if n := s.TypeCount(); n != 3 {
		t.Fatalf("TypeCount = %d, want 3", n)
	}
	if got := NewDocuments(s, nil).MaxTypes(); got != DefaultMaxTypes {
		t.Fatalf("default MaxTypes = %d", got)
	}
}

// TestStoreTypeCountAtOpen: the types already in the file count against
// the bound when the store is opened again.
func TestStoreTypeCountAtOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bertsync.db")
	s, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var id string
	for _, m := range []string{"a", "b", "c"} {
		if id, err = s.Insert(ctx, m, "", Props{{"k", int64(1)}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Remove(ctx, "c", id); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := s.TypeCount(); n != 3 {
		t.Fatalf("TypeCount after reopening = %d, want 3", n)
	}
	h, _ := NewDocumentsWith(s, DocumentsConfig{MaxTypes: 3}).Handler("d")
	if _, err := call(t, h, Create, bert.List{kv("k", int64(1))}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("create into a fourth type with MaxTypes 3: %v", err)
	}
	h, _ = NewDocumentsWith(s, DocumentsConfig{MaxTypes: 3}).Handler("c")
	if _, err := call(t, h, Create, bert.List{kv("k", int64(2))}); err != nil {
		t.Fatalf("create into an existing type: %v", err)
	}
}

// TestDocumentsMaxTypesConcurrent: creates racing into new types make
// exactly MaxTypes of them.
func TestDocumentsMaxTypesConcurrent(t *testing.T) {
	s := openTestStore(t)
	const max, tries = 5, 40
	d := NewDocumentsWith(s, DocumentsConfig{MaxTypes: max})
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created int
	)
	for i := range tries {
		wg.Go(func() {
			h, _ := d.Handler(fmt.Sprintf("t%d", i))
			_, err := h.Sync(context.Background(), Request{Method: Create, Model: "t", Props: Props{{"i", int64(i)}}})
			switch {
			case err == nil:
				mu.Lock()
				created++
				mu.Unlock()
			case !errors.Is(err, ErrForbidden):
				t.Errorf("create %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if created != max || s.TypeCount() != max {
		t.Fatalf("%d creates into new types succeeded, TypeCount %d, want %d", created, s.TypeCount(), max)
	}
}
