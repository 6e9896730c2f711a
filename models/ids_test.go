package models

import (
	"sort"
	"testing"
	"time"
)

func TestDocumentIDs(t *testing.T) {
	t.Parallel()
	start := time.UnixMilli(1_700_000_000_000)
	seen := map[string]bool{}
	var ids []string
	for i := range 1000 {
		id, err := newDocumentID(start.Add(time.Duration(i) * time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		if len(id) != 29 {
			t.Fatalf("id %q has %d characters, want 29", id, len(id))
		}
		if seen[id] {
			t.Fatalf("id %q made twice", id)
		}
		seen[id] = true
		ids = append(ids, id)
	}
	if !sort.StringsAreSorted(ids) {
		t.Fatal("ids made one millisecond apart do not sort in time order")
	}
	// Two ids of the same millisecond share the time part only: the
	// random part is 96 bits, so the rest differs.
	a, _ := newDocumentID(start)
	b, _ := newDocumentID(start)
	if a[:9] != b[:9] || a[10:] == b[10:] {
		t.Fatalf("same millisecond: %q and %q", a, b)
	}
}
