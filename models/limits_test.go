package models

import (
	"bytes"
	"context"
	"errors"
	"math/big"
	"runtime"
	"strings"
	"testing"

	"github.com/bertsync/bertsync/bert"
)

// The bounds of issue #8 on what a client's props may hold, so that
// nothing is taken that cannot be committed, answered and read back.

// bignum returns a positive integer of n bytes.
func bignum(n int) *big.Int {
	return new(big.Int).SetBytes(bytes.Repeat([]byte{0xff}, n))
}

// nested returns v inside depth one-element lists.
func nested(depth int, v any) any {
	for range depth {
		v = bert.List{v}
	}
	return v
}

func TestParsePropsBounds(t *testing.T) {
	tests := []struct {
		name    string
		props   bert.List
		wantErr string // "" means accepted
	}{
		{"key of 255 bytes", bert.List{kv(strings.Repeat("k", MaxKeySize), int64(1))}, ""},
		{"key of 256 bytes", bert.List{kv(strings.Repeat("k", MaxKeySize+1), int64(1))}, "key 0 is 256 bytes, the limit is 255"},
		{"binary key of 300 bytes", bert.List{bert.Tuple{bytes.Repeat([]byte("k"), 300), int64(1)}}, "key 0 is 300 bytes"},
		{"byte-list key of 300 bytes", bert.List{bert.Tuple{bert.ByteList(strings.Repeat("k", 300)), int64(1)}}, "key 0 is 300 bytes"},
		{"Latin-1 key", bert.List{bert.Tuple{[]byte("café"), int64(1)}}, ""},
		{"key beyond Latin-1", bert.List{bert.Tuple{[]byte("名前"), int64(1)}}, "cannot be sent back as an atom"},
		// BERT-JS sends the JS string "é" as the byte 0xE9: not UTF-8,
		// so no atom.
		{"key not UTF-8", bert.List{bert.Tuple{bert.ByteList{0xe9}, int64(1)}}, "cannot be sent back as an atom"},
		{"bignum of the limit", bert.List{kv("n", bignum(MaxBignumBytes))}, ""},
		{"bignum over the limit", bert.List{kv("n", bignum(MaxBignumBytes+1))}, "integer of 257 bytes, the limit is 256"},
		{"negative bignum over the limit", bert.List{kv("n", new(big.Int).Neg(bignum(MaxBignumBytes+1)))}, "integer of 257 bytes"},
		{"bignum deep in a list", bert.List{kv("l", bert.List{int64(1), bert.Tuple{bignum(1000)}})}, "integer of 1000 bytes"},
		{"bignum as a map key", bert.List{kv("m", bert.Map{{Key: bignum(1000), Value: int64(1)}})}, "integer of 1000 bytes"},
		{"bignum in a dict", bert.List{kv("d", bert.Dict{{Key: bert.Atom("a"), Value: bignum(1000)}})}, "integer of 1000 bytes"},
		{"bignum in an improper tail", bert.List{kv("i", bert.ImproperList{Elems: []any{int64(1)}, Tail: bignum(1000)})}, "integer of 1000 bytes"},
		{"nesting of the limit", bert.List{kv("v", nested(MaxValueDepth, int64(1)))}, ""},
		{"nesting over the limit", bert.List{kv("v", nested(MaxValueDepth+1, int64(1)))}, "nested deeper than 512"},
		{"maps count twice", bert.List{kv("v", nested(MaxValueDepth-1, bert.Map{{Key: int64(1), Value: int64(2)}}))}, "nested deeper"},
	}
	for _, tt := range tests {
		_, err := ParseProps(tt.props)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.wantErr != "" && err == nil:
			t.Errorf("%s: accepted, want an error with %q", tt.name, tt.wantErr)
		case tt.wantErr != "" && (!errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: %v, want a bad request with %q", tt.name, err, tt.wantErr)
		}
	}
	// A Go value with a cycle is refused, not walked for ever.
	cycle := bert.List{nil}
	cycle[0] = cycle
	if _, err := ParseProps(bert.List{kv("c", cycle)}); !errors.Is(err, ErrBadRequest) {
		t.Errorf("a cyclic value: %v, want a bad request", err)
	}
	// Props given as Props pass the same checks.
	if _, err := ParseProps(Props{{Key: strings.Repeat("k", 300), Value: int64(1)}}); !errors.Is(err, ErrBadRequest) {
		t.Errorf("Props with a 300-byte key: %v, want a bad request", err)
	}
}

// What the server wrote itself reads back without the client bounds: a
// record stored before a bound existed still reads.
func TestStoredRecordsSkipClientBounds(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	long := strings.Repeat("k", 300)
	id, err := s.Insert(ctx, "c", "", Props{{Key: long, Value: bignum(1000)}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "c", id)
	if err != nil || len(got) != 1 || got[0].Key != long {
		t.Fatalf("Get = %v, %v", got, err)
	}
}

func TestMaxBignumDigits(t *testing.T) {
	largest := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 8*MaxBignumBytes), big.NewInt(1))
	if n := len(largest.String()); n != MaxBignumDigits {
		t.Errorf("the largest integer of %d bytes has %d digits, MaxBignumDigits is %d", MaxBignumBytes, n, MaxBignumDigits)
	}
}

// allocated returns the bytes fn allocates.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Ids are length-checked before any conversion: the decimal text of a
// 1 MB bignum took about a second, and copying out a long list its size.
func TestIDCheckedBeforeConversion(t *testing.T) {
	for _, tt := range []struct {
		name string
		id   any
	}{
		{"bignum of 1 MB", bignum(1 << 20)},
		{"bignum just over the limit", bignum(MaxBignumBytes + 1)},
		{"binary of 1 MB", bytes.Repeat([]byte("1"), 1<<20)},
		{"list of 1M characters", func() bert.List {
			l := make(bert.List, 1<<20)
			for i := range l {
				l[i] = int64('1')
			}
			return l
		}()},
	} {
		props := Props{{Key: "id", Value: tt.id}}
		var err error
		n := allocated(func() { _, err = NewRequest(Read, "c", props) })
		if !errors.Is(err, ErrBadRequest) {
			t.Errorf("%s: %v, want a bad request", tt.name, err)
		}
		if n > 64<<10 {
			t.Errorf("%s: refusing the id allocated %d bytes, want it refused before any conversion", tt.name, n)
		}
	}
	// The largest bignum id that is accepted has at most MaxBignumDigits
	// digits, within MaxIDSize.
	req, err := NewRequest(Read, "c", Props{{Key: "id", Value: bignum(MaxBignumBytes)}})
	if err != nil || len(req.ID) > MaxBignumDigits {
		t.Errorf("bignum id of %d bytes: %q, %v", MaxBignumBytes, req.ID, err)
	}
}

// callMax is call with a reply budget, as the model actor sets it.
func callMax(t testing.TB, h Handler, method Method, props bert.List, maxReply int) (any, error) {
	t.Helper()
	p, err := ParseProps(props)
	if err != nil {
		return nil, err
	}
	req, err := NewRequest(method, "character", p)
	if err != nil {
		return nil, err
	}
	req.MaxReplySize = maxReply
	return h.Sync(context.Background(), req)
}

// replySize is the size of a document model reply as the wire carries
// it, without the version byte.
func replySize(t testing.TB, reply any) int {
	t.Helper()
	data, err := bert.Append(nil, ReplyTerm(reply), bert.BERTJS)
	if err != nil {
		t.Fatalf("reply cannot be encoded: %v", err)
	}
	return len(data) - 1
}

// Nothing is committed that cannot be answered: a write whose document
// would not fit in a reply, or could not be encoded as one, is refused
// before the commit.
func TestDocumentsWritesCheckedBeforeCommit(t *testing.T) {
	s := openTestStore(t)
	h, _ := NewDocuments(s, nil).Handler("character")
	const budget = 4096
	big := bytes.Repeat([]byte("x"), budget)
	ctx := context.Background()

	if _, err := callMax(t, h, Create, bert.List{kv("id", []byte("a")), kv("text", big)}, budget); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("create over the budget: %v, want too_large", err)
	}
	if _, err := s.Get(ctx, "character", "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the refused create was committed: %v", err)
	}
	if _, err := callMax(t, h, Update, bert.List{kv("id", []byte("a")), kv("text", big)}, budget); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("update (upsert) over the budget: %v, want too_large", err)
	}
	if _, err := s.Get(ctx, "character", "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the refused update was committed: %v", err)
	}

	half := big[:budget/2]
	got, err := callMax(t, h, Create, bert.List{kv("id", []byte("a")), kv("one", half)}, budget)
	if err != nil {
		t.Fatalf("create within the budget: %v", err)
	}
	if n := replySize(t, got); n > budget {
		t.Fatalf("reply of %d bytes, budget %d", n, budget)
	}
	// The merged document is what must fit.
	if _, err := callMax(t, h, Patch, bert.List{kv("id", []byte("a")), kv("two", half)}, budget); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("patch whose result is over the budget: %v, want too_large", err)
	}
	if attrs, err := s.Get(ctx, "character", "a"); err != nil || attrs.Has("two") {
		t.Fatalf("the refused patch was committed: %v, %v", attrs, err)
	}

	// An atom the BERT-JS profile cannot write, deep in a value.
	if _, err := callMax(t, h, Create, bert.List{kv("id", []byte("b")), kv("tags", bert.List{bert.Atom("名前")})}, -1); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("create with an atom beyond Latin-1: %v, want bad_request", err)
	}
	if _, err := s.Get(ctx, "character", "b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the unanswerable create was committed: %v", err)
	}
	// And the collection still reads.
	if _, err := callMax(t, h, Read, bert.List{}, budget); err != nil {
		t.Fatalf("collection read after the refusals: %v", err)
	}
}

// bulkInsert stores n documents of model in one transaction, each with a
// binary of size bytes, and returns their ids in order.
func bulkInsert(t testing.TB, s *Store, model string, n, size int, owner func(i int) string) []string {
	t.Helper()
	ids := make([]string, n)
	err := docWrite(context.Background(), s, func(tx docTx) error {
		for i := range n {
			ids[i] = string(rune('a'+i/26)) + string(rune('a'+i%26))
			attrs := Props{{Key: "i", Value: int64(i)}, {Key: "blob", Value: bytes.Repeat([]byte{byte(i)}, size)}}
			if owner != nil {
				attrs = append(attrs, Prop{Key: "owner", Value: []byte(owner(i))})
			}
			if _, err := tx.insert(model, ids[i], attrs, -1, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		// In the file, so that no round of the applier runs during a
		// measure of what a read allocates.
		err = s.applyPending()
	}
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// readAll pages through the collection with offset, as docs/protocol.md
// tells clients to, until an empty page, checking every page against the
// budget; it returns the ids read and the number of pages.
func readAll(t *testing.T, h Handler, budget int, extra bert.List) (ids []string, pages int) {
	t.Helper()
	for pages = 0; pages < 1000; pages++ {
		props := append(bert.List{kv("offset", int64(len(ids)))}, extra...)
		got, err := callMax(t, h, Read, props, budget)
		if err != nil {
			t.Fatalf("read at offset %d: %v", len(ids), err)
		}
		if n := replySize(t, got); n > budget {
			t.Fatalf("page at offset %d: %d bytes, budget %d", len(ids), n, budget)
		}
		page := replyIDs(t, got)
		if len(page) == 0 {
			return ids, pages
		}
		ids = append(ids, page...)
	}
	t.Fatal("no empty page after 1000 pages")
	return nil, 0
}

// A collection read stops adding documents before the reply would pass
// the budget; paging with offset until an empty page reads them all.
func TestDocumentsListTrimmed(t *testing.T) {
	s := openTestStore(t)
	d := NewDocuments(s, nil)
	h, _ := d.Handler("character")
	const n, size, budget = 30, 1000, 4500 // about 4 documents a page
	want := bulkInsert(t, s, "character", n, size, nil)

	got, pages := readAll(t, h, budget, nil)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("paged read got %v, want %v", got, want)
	}
	if pages < n/5 {
		t.Errorf("%d pages for %d documents of %d bytes in %d-byte replies: not trimmed", pages, n, size, budget)
	}
	// No budget: the old behaviour, the limit alone.
	if all, err := callMax(t, h, Read, bert.List{}, -1); err != nil || len(replyIDs(t, all)) != n {
		t.Errorf("read without a budget: %d documents, %v", len(replyIDs(t, all)), err)
	}
	// limit still counts.
	if two, err := callMax(t, h, Read, bert.List{kv("limit", int64(2))}, budget); err != nil || len(replyIDs(t, two)) != 2 {
		t.Errorf("limit 2: %v, %v", two, err)
	}

	// An owner's collection is trimmed the same way.
	d2 := NewDocuments(openTestStore(t), nil)
	h2, _ := d2.Handler("character")
	wantMine := []string{}
	ids := bulkInsert(t, d2.store.(*Store), "character", n, size, func(i int) string {
		if i%3 == 0 {
			return "me"
		}
		return "you"
	})
	for i, id := range ids {
		if i%3 == 0 {
			wantMine = append(wantMine, id)
		}
	}
	var mine []string
	for range 100 {
		p, _ := ParseProps(bert.List{kv("offset", int64(len(mine)))})
		req, _ := NewRequest(Read, "character", p)
		req.MaxReplySize = budget
		req.Owned = &Ownership{Field: "owner", Subject: "me"}
		got, err := h2.Sync(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if n := replySize(t, got); n > budget {
			t.Fatalf("owner's page of %d bytes, budget %d", n, budget)
		}
		page := replyIDs(t, got)
		if len(page) == 0 {
			break
		}
		mine = append(mine, page...)
	}
	if strings.Join(mine, ",") != strings.Join(wantMine, ",") {
		t.Fatalf("owner's paged read got %v, want %v", mine, wantMine)
	}
}

// A document that alone passes the budget (stored before the limit was
// lowered) is an error naming its offset, not an empty page that would
// end the reading.
func TestDocumentsListDocumentOverBudget(t *testing.T) {
	s := openTestStore(t)
	h, _ := NewDocuments(s, nil).Handler("character")
	ids := bulkInsert(t, s, "character", 3, 100, nil)
	// Put has no reply budget: a Go program may store what it likes.
	if _, err := s.Put(context.Background(), "character", ids[0], Props{{Key: "blob", Value: make([]byte, 10000)}}); err != nil {
		t.Fatal(err)
	}
	_, err := callMax(t, h, Read, bert.List{}, 2000)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "offset 0") || !strings.Contains(err.Error(), "offset 1") {
		t.Fatalf("read with a document over the budget first: %v, want too_large naming offsets 0 and 1", err)
	}
	got, err := callMax(t, h, Read, bert.List{kv("offset", int64(1))}, 2000)
	if err != nil || len(replyIDs(t, got)) != 2 {
		t.Fatalf("read past it: %v, %v", got, err)
	}
}

// A collection read of large documents decodes no more than it keeps:
// its memory is bounded by the reply budget, not the collection (issue
// #8: 200 documents of 1 MB made a 200 MB reply).
func TestDocumentsListMemoryBound(t *testing.T) {
	s := openTestStore(t)
	h, _ := NewDocuments(s, nil).Handler("character")
	const n, size, budget = 200, 64 << 10, 128 << 10
	bulkInsert(t, s, "character", n, size, nil)
	// k: the bytes a read may allocate per byte of budget.
	const k = 16
	var got any
	var err error
	alloc := allocated(func() { got, err = callMax(t, h, Read, bert.List{}, budget) })
	if err != nil {
		t.Fatal(err)
	}
	if len(replyIDs(t, got)) == 0 || replySize(t, got) > budget {
		t.Fatalf("page of %d documents, %d bytes", len(replyIDs(t, got)), replySize(t, got))
	}
	t.Logf("collection read of %d documents of %d bytes: %d bytes allocated, %.1f per byte of budget", n, size, alloc, float64(alloc)/budget)
	if alloc > k*budget {
		t.Errorf("the read allocated %d bytes, want at most %d (%d times the reply budget)", alloc, k*budget, k)
	}
}
