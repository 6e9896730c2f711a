package models

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/bertsync/bertsync/bert"
)

func openTestStore(t testing.TB) *Store {
	t.Helper()
	s, err := OpenStore(filepath.Join(t.TempDir(), "data", "bertsync.db"))
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// losslessAttrs holds one value of every kind of the term model, in the
// forms a plain Go round trip would blur: a byte list and a binary, a
// bignum, a map and a dict, atoms true and nil and their BERT types.
func losslessAttrs() Props {
	bigNeg, _ := new(big.Int).SetString("-123456789012345678901234567890", 10)
	return Props{
		{"bytelist", bert.ByteList("Ann")},
		{"binary", []byte("Ann")},
		{"empty_bytelist", bert.ByteList{}},
		{"empty_list", bert.List{}},
		{"small_ints", bert.List{int64(1), int64(2), int64(255)}},
		{"nested_small_ints", bert.List{bert.List{int64(0)}, bert.Tuple{bert.List{int64(9)}, bert.ByteList{}}}},
		{"unicode_bytelist", bert.ByteList("h\xc3\xa9")},
		{"atom", bert.Atom("warrior")},
		{"utf8_atom", bert.Atom("héros")},
		{"atom_true", bert.Atom("true")},
		{"true", true},
		{"false", false},
		{"nil", nil},
		{"small", int64(7)},
		{"negative", int64(-300)},
		{"int64", int64(1) << 62},
		{"bignum", bigNeg},
		{"float", 0.1},
		{"tuple", bert.Tuple{bert.Atom("a"), int64(1)}},
		{"list", bert.List{int64(1), []byte("two"), bert.List{}}},
		{"improper", bert.ImproperList{Elems: []any{bert.List{int64(1)}, bert.ByteList{}}, Tail: bert.Atom("t")}},
		{"map", bert.Map{{Key: bert.Atom("k"), Value: []byte("v")}, {Key: bert.List{int64(3)}, Value: bert.ByteList{}}}},
		{"dict", bert.Dict{{Key: bert.Atom("k"), Value: int64(2)}, {Key: bert.Atom("l"), Value: bert.List{int64(4)}}}},
		{"bits", bert.BitBinary{Data: []byte{0xA0}, Bits: 3}},
		{"time", time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)},
	}
}

func TestStoreLossless(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	want := losslessAttrs()
	id, err := s.Insert(ctx, "thing", "", want)
	if err != nil {
		t.Fatalf("Insert: %v", err)
	}
	got, err := s.Get(ctx, "thing", id)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("Get returned %d attributes, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Key != w.Key || !termEqual(g.Value, w.Value) {
			t.Errorf("attribute %d = %s: %#v, want %s: %#v", i, g.Key, g.Value, w.Key, w.Value)
		}
	}
}

// termEqual compares terms, bignums and times by value.
func termEqual(a, b any) bool {
	switch x := a.(type) {
	case *big.Int:
		y, ok := b.(*big.Int)
		return ok && x.Cmp(y) == 0
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	}
	return reflect.DeepEqual(a, b)
}

func TestStoreCRUD(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	attrs := Props{{"name", []byte("Ann")}}

	if _, err := s.Get(ctx, "c", "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get before any write: %v, want not found", err)
	}
	id1, err := s.Insert(ctx, "c", "", attrs)
	if err != nil || !isDocumentID(id1) {
		t.Fatalf("Insert = %q, %v, want a generated id", id1, err)
	}
	// A client may choose its own id, but not one that is taken: neither
	// its own earlier choice nor a generated id.
	if _, err := s.Insert(ctx, "c", "2", attrs); err != nil {
		t.Fatalf("Insert 2: %v", err)
	}
	id3, err := s.Insert(ctx, "c", "", attrs)
	if err != nil || !isDocumentID(id3) || id3 == id1 {
		t.Fatalf("Insert = %q, %v, want a generated id other than %q", id3, err, id1)
	}
	if _, err := s.Insert(ctx, "c", "2", attrs); !errors.Is(err, ErrConflict) {
		t.Errorf("Insert of an existing client-chosen id: %v, want conflict", err)
	}
	if _, err := s.Insert(ctx, "c", id1, attrs); !errors.Is(err, ErrConflict) {
		t.Errorf("Insert with a generated id as the client's choice: %v, want conflict", err)
	}
	// Another type has its own ids: a client may reuse one of c's there.
	if id, err := s.Insert(ctx, "d", "", nil); err != nil || !isDocumentID(id) {
		t.Errorf("Insert into d = %q, %v, want a generated id", id, err)
	}
	if _, err := s.Insert(ctx, "d", id1, nil); err != nil {
		t.Errorf("Insert into d with an id of c: %v", err)
	}

	created, err := s.Put(ctx, "c", id1, Props{{"level", int64(2)}})
	if err != nil || created {
		t.Fatalf("Put existing = %v, %v", created, err)
	}
	if got, _ := s.Get(ctx, "c", id1); !reflect.DeepEqual(got, Props{{"level", int64(2)}}) {
		t.Errorf("after Put: %v, want only level", got)
	}
	created, err = s.Put(ctx, "c", "zed", attrs)
	if err != nil || !created {
		t.Fatalf("Put new = %v, %v", created, err)
	}

	merged, err := s.Merge(ctx, "c", id1, Props{{"name", []byte("Bo")}, {"level", int64(3)}})
	want := Props{{"level", int64(3)}, {"name", []byte("Bo")}}
	if err != nil || !reflect.DeepEqual(merged, want) {
		t.Errorf("Merge = %v, %v, want %v", merged, err, want)
	}
	if _, err := s.Merge(ctx, "c", "nope", attrs); !errors.Is(err, ErrNotFound) {
		t.Errorf("Merge of a missing id: %v", err)
	}
	if _, err := s.Merge(ctx, "nomodel", id1, attrs); !errors.Is(err, ErrNotFound) {
		t.Errorf("Merge in a missing model: %v", err)
	}

	list, err := s.List(ctx, "c", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if ids := docIDs(list); !reflect.DeepEqual(ids, []string{id1, "2", id3, "zed"}) {
		t.Errorf("List ids = %v, want creation order", ids)
	}
	if n, err := s.Count(ctx, "c"); err != nil || n != 4 {
		t.Errorf("Count = %d, %v", n, err)
	}

	old, err := s.Remove(ctx, "c", id1)
	if err != nil || !reflect.DeepEqual(old, want) {
		t.Errorf("Remove = %v, %v", old, err)
	}
	if _, err := s.Remove(ctx, "c", id1); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Remove: %v, want not found", err)
	}
	if _, err := s.Get(ctx, "c", id1); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Remove: %v", err)
	}
	list, _ = s.List(ctx, "c", 0, 100)
	if ids := docIDs(list); !reflect.DeepEqual(ids, []string{"2", id3, "zed"}) {
		t.Errorf("List after Remove = %v", ids)
	}
	// A document put again after removal goes to the end.
	if _, err := s.Put(ctx, "c", id1, attrs); err != nil {
		t.Fatal(err)
	}
	list, _ = s.List(ctx, "c", 0, 100)
	if ids := docIDs(list); !reflect.DeepEqual(ids, []string{"2", id3, "zed", id1}) {
		t.Errorf("List after re-Put = %v", ids)
	}
	if list, err := s.List(ctx, "empty", 0, 10); err != nil || list == nil || len(list) != 0 {
		t.Errorf("List of a missing model = %#v, %v, want empty", list, err)
	}
}

// isDocumentID reports whether id has the form of an id the store makes:
// 29 characters of lowercase base32hex.
func isDocumentID(id string) bool {
	if len(id) != 29 {
		return false
	}
	for _, c := range []byte(id) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'v') {
			return false
		}
	}
	return true
}

func docIDs(docs []Doc) []string {
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.ID
	}
	return ids
}

func TestStoreListPaging(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	for i := range 25 {
		if _, err := s.Insert(ctx, "p", fmt.Sprintf("k%02d", 24-i), Props{{"i", int64(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		offset, limit int
		first         int64 // attribute i of the first document, -1 for none
		n             int
	}{
		{0, 10, 0, 10},
		{10, 10, 10, 10},
		{20, 10, 20, 5},
		{25, 10, -1, 0},
		{1000, 10, -1, 0},
		{3, 0, -1, 0},
	}
	for _, tt := range tests {
		list, err := s.List(ctx, "p", tt.offset, tt.limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != tt.n {
			t.Errorf("List(%d, %d) has %d documents, want %d", tt.offset, tt.limit, len(list), tt.n)
			continue
		}
		if tt.n > 0 {
			if v, _ := list[0].Attrs.Get("i"); v != tt.first {
				t.Errorf("List(%d, %d) starts at i=%v, want %d", tt.offset, tt.limit, v, tt.first)
			}
		}
	}
	if _, err := s.List(ctx, "p", -1, 10); !errors.Is(err, ErrBadRequest) {
		t.Errorf("List with negative offset: %v", err)
	}
}

func TestStoreLimits(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	big := Props{{"blob", make([]byte, MaxDocumentSize)}}
	if _, err := s.Insert(ctx, "c", "", big); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Insert of a document over MaxDocumentSize: %v, want too large", err)
	}
	if _, err := s.Put(ctx, "c", "x", big); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Put over MaxDocumentSize: %v, want too large", err)
	}
	if n, _ := s.Count(ctx, "c"); n != 0 {
		t.Errorf("a failed write left %d documents", n)
	}
	// The failed writes were rolled back whole: the next insertion is the
	// collection's only document, first in order.
	id, err := s.Insert(ctx, "c", "", Props{{"a", int64(1)}})
	if err != nil || !isDocumentID(id) {
		t.Fatalf("Insert after failures = %q, %v, want a generated id", id, err)
	}
	if list, err := s.List(ctx, "c", 0, 10); err != nil || !reflect.DeepEqual(docIDs(list), []string{id}) {
		t.Errorf("List after failures = %v, %v, want only %q", docIDs(list), err, id)
	}
	if _, err := s.Merge(ctx, "c", id, big); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Merge over MaxDocumentSize: %v", err)
	}
	if got, _ := s.Get(ctx, "c", id); !reflect.DeepEqual(got, Props{{"a", int64(1)}}) {
		t.Errorf("a failed Merge changed the document: %v", got)
	}
	if _, err := s.Insert(ctx, "c", "", Props{{"ch", make(chan int)}}); !errors.Is(err, ErrBadRequest) {
		t.Errorf("Insert of an unencodable value: %v, want bad request", err)
	}
	if _, err := s.Insert(ctx, "", "", nil); !errors.Is(err, ErrBadRequest) {
		t.Errorf("Insert with no model: %v, want bad request", err)
	}
}

func TestStoreDurable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "dir", "store.db")
	ctx := context.Background()
	s, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	want := losslessAttrs()
	id, err := s.Insert(ctx, "c", "", want)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Insert(ctx, "c", "b", Props{{"x", int64(1)}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.Get(ctx, "c", id); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Get after Close: %v, want unavailable", err)
	}

	s, err = OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Get(ctx, "c", id)
	if err != nil {
		t.Fatalf("Get after reopen: %v", err)
	}
	for i := range want {
		if got[i].Key != want[i].Key || !termEqual(got[i].Value, want[i].Value) {
			t.Errorf("after reopen %s = %#v, want %#v", got[i].Key, got[i].Value, want[i].Value)
		}
	}
	list, _ := s.List(ctx, "c", 0, 10)
	if ids := docIDs(list); !reflect.DeepEqual(ids, []string{id, "b"}) {
		t.Errorf("List after reopen = %v, want [%s b]", ids, id)
	}
	// The order survives too: a document made after reopening is new and
	// comes after those made before.
	id2, err := s.Insert(ctx, "c", "", nil)
	if err != nil || !isDocumentID(id2) || id2 == id {
		t.Fatalf("Insert after reopen = %q, %v, want a generated id other than %q", id2, err, id)
	}
	list, _ = s.List(ctx, "c", 0, 10)
	if ids := docIDs(list); !reflect.DeepEqual(ids, []string{id, "b", id2}) {
		t.Errorf("List after reopen and Insert = %v, want [%s b %s]", ids, id, id2)
	}
}

// TestStoreDurableAcrossProcess kills a child process right after its
// write is acknowledged and reads the write back.
func TestStoreDurableAcrossProcess(t *testing.T) {
	if path := os.Getenv("MODELS_TEST_CHILD_STORE"); path != "" {
		s, err := OpenStore(path)
		if err != nil {
			fmt.Println("open:", err)
			os.Exit(2)
		}
		id, err := s.Insert(context.Background(), "c", "", Props{{"name", []byte("kept")}})
		if err != nil {
			fmt.Println("insert:", err)
			os.Exit(2)
		}
		// Exit without Close: the acknowledged write must already be on disk.
		fmt.Println("id", id)
		os.Exit(0)
	}
	path := filepath.Join(t.TempDir(), "store.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestStoreDurableAcrossProcess$")
	cmd.Env = append(os.Environ(), "MODELS_TEST_CHILD_STORE="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	_, rest, ok := strings.Cut(string(out), "id ")
	id, _, _ := strings.Cut(rest, "\n")
	if !ok || !isDocumentID(id) {
		t.Fatalf("child said %q", out)
	}
	s, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Get(context.Background(), "c", id)
	if err != nil || !reflect.DeepEqual(got, Props{{"name", []byte("kept")}}) {
		t.Errorf("Get = %v, %v", got, err)
	}
}

func TestStoreLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// bbolt's lock is flock(2), held per open file, so a second open in
	// this process meets it as another process would.
	s2, err := openStore(path, StoreConfig{}, 10*time.Millisecond)
	if err == nil {
		s2.Close()
		t.Fatal("a second open of a held store succeeded")
	}
	if !strings.Contains(err.Error(), "locked by another process") {
		t.Errorf("second open: %v, want a lock error", err)
	}
}

func TestOpenStoreErrors(t *testing.T) {
	if _, err := OpenStore(""); err == nil {
		t.Error("OpenStore(\"\") succeeded")
	}
	dir := t.TempDir()
	notDB := filepath.Join(dir, "not.db")
	if err := os.WriteFile(notDB, []byte("this is not a bbolt file, not at all, no"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenStore(notDB); err == nil || !strings.Contains(err.Error(), notDB) {
		t.Errorf("OpenStore of a non-bbolt file: %v", err)
	}
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenStore(filepath.Join(blocker, "sub", "x.db")); err == nil {
		t.Error("OpenStore under a regular file succeeded")
	}
}

func TestStoreCanceledContext(t *testing.T) {
	s := openTestStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Insert(ctx, "c", "", nil); !errors.Is(err, context.Canceled) || CodeOf(err) != CodeUnavailable {
		t.Errorf("Insert with a canceled context: %v", err)
	}
	if n, _ := s.Count(context.Background(), "c"); n != 0 {
		t.Errorf("canceled Insert wrote %d documents", n)
	}
}

func TestStoreConcurrent(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	const writers, each = 4, 25
	var wg sync.WaitGroup
	ids := make(chan string, writers*each)
	errs := make(chan error, writers*each*2)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				id, err := s.Insert(ctx, "c", "", Props{{"w", int64(w)}, {"i", int64(i)}})
				if err != nil {
					errs <- err
					continue
				}
				ids <- id
				if _, err := s.Merge(ctx, "c", id, Props{{"seen", true}}); err != nil {
					errs <- err
				}
			}
		})
		wg.Go(func() {
			for range each {
				if _, err := s.List(ctx, "c", 0, MaxListLimit); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(ids)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	seen := map[string]bool{}
	for id := range ids {
		if seen[id] {
			t.Errorf("id %s given twice", id)
		}
		seen[id] = true
	}
	list, err := s.List(ctx, "c", 0, MaxListLimit)
	if err != nil || len(list) != writers*each {
		t.Fatalf("List has %d documents, %v; want %d", len(list), err, writers*each)
	}
	for _, d := range list {
		if v, _ := d.Attrs.Get("seen"); v != true {
			t.Errorf("document %s lost its patch: %v", d.ID, d.Attrs)
		}
	}
}

// TestStoreResultsOwnTheirMemory checks that what Get, List, Merge and
// Remove return does not point into the bbolt file's memory map, which is
// valid only during a transaction: its pages are reused and the mapping
// moves as the file grows.
func TestStoreResultsOwnTheirMemory(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	attrs := Props{
		{"b", []byte("binary-value")},
		{"s", bert.ByteList("bytelist-value")},
		{"nested", bert.Tuple{[]byte("in-a-tuple"), bert.List{bert.ByteList("in-a-list")}}},
	}
	if _, err := s.Insert(ctx, "c", "a", attrs); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Insert(ctx, "c", "b", attrs); err != nil {
		t.Fatal(err)
	}
	// A bucket this large is no longer inline in its parent, which bbolt
	// may copy; its values are read straight from the map.
	if _, err := s.Insert(ctx, "c", "pad", Props{{"pad", make([]byte, 8<<10)}}); err != nil {
		t.Fatal(err)
	}
	info := s.db.Info()
	fi, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	start, end := info.Data, info.Data+uintptr(fi.Size())
	check := func(what string, p Props) {
		t.Helper()
		for _, prop := range p {
			walkBytes(prop.Value, func(b []byte) {
				if len(b) == 0 {
					return
				}
				if at := uintptr(unsafe.Pointer(unsafe.SliceData(b))); at >= start && at < end {
					t.Errorf("%s: %s holds %q inside the store's memory map", what, prop.Key, b)
				}
			})
		}
	}
	got, err := s.Get(ctx, "c", "a")
	if err != nil {
		t.Fatal(err)
	}
	check("Get", got)
	list, err := s.List(ctx, "c", 0, 10)
	if err != nil || len(list) != 3 {
		t.Fatal(len(list), err)
	}
	check("List", list[0].Attrs)
	merged, err := s.Merge(ctx, "c", "a", Props{{"x", int64(1)}})
	if err != nil {
		t.Fatal(err)
	}
	check("Merge", merged)
	removed, err := s.Remove(ctx, "c", "b")
	if err != nil {
		t.Fatal(err)
	}
	check("Remove", removed)
	if !reflect.DeepEqual(got, attrs) {
		t.Errorf("Get = %q, want %q", got, attrs)
	}
}

// walkBytes calls fn with every []byte and ByteList in term.
func walkBytes(term any, fn func([]byte)) {
	switch t := term.(type) {
	case []byte:
		fn(t)
	case bert.ByteList:
		fn(t)
	case bert.Tuple:
		for _, el := range t {
			walkBytes(el, fn)
		}
	case bert.List:
		for _, el := range t {
			walkBytes(el, fn)
		}
	}
}
