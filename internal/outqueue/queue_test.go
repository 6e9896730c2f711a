package outqueue

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
)

func item(s string) Item { return Item{Data: []byte(s)} }

func datas(items []Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = string(it.Data)
	}
	return out
}

func TestBoundInMessages(t *testing.T) {
	q := New(Limits{MaxMessages: 2})
	for _, s := range []string{"a", "b"} {
		if err := q.Add(item(s)); err != nil {
			t.Fatalf("Add(%q): %v", s, err)
		}
	}
	err := q.Add(item("c"))
	var full *FullError
	if !errors.As(err, &full) || full.Messages != 2 {
		t.Fatalf("third Add: %v, want a FullError at 2 messages", err)
	}
	if got := fmt.Sprint(datas(q.TakeAll(nil))); got != "[a b]" {
		t.Fatalf("TakeAll = %s", got)
	}
	if err := q.Add(item("c")); err != nil {
		t.Fatalf("Add after draining: %v", err)
	}
}

func TestBoundInBytes(t *testing.T) {
	q := New(Limits{MaxBytes: 10})
	if err := q.Add(Item{Data: make([]byte, 8)}); err != nil {
		t.Fatal(err)
	}
	err := q.Add(Item{Data: make([]byte, 3)})
	var full *FullError
	if !errors.As(err, &full) || full.Bytes != 8 || full.ItemBytes != 3 {
		t.Fatalf("Add past the byte bound: %v", err)
	}
	if err := q.Add(Item{Data: make([]byte, 2)}); err != nil {
		t.Fatalf("Add up to the bound: %v", err)
	}
	if q.Bytes() != 10 || q.Len() != 2 {
		t.Fatalf("Bytes %d Len %d, want 10 and 2", q.Bytes(), q.Len())
	}
	q.TakeAll(nil)
	if q.Bytes() != 0 {
		t.Fatalf("Bytes after TakeAll = %d", q.Bytes())
	}
	// One message larger than the bound still goes through an empty
	// queue, and nothing may join it.
	if err := q.Add(Item{Data: make([]byte, 50)}); err != nil {
		t.Fatalf("oversized item into an empty queue: %v", err)
	}
	if err := q.Add(Item{Data: make([]byte, 1)}); err == nil {
		t.Fatal("Add behind an oversized item succeeded")
	}
}

func TestTakeAndPutFrontKeepOrder(t *testing.T) {
	q := New(Limits{})
	for _, s := range []string{"a", "b", "c", "d"} {
		q.Add(item(s))
	}
	it, ok := q.Take()
	if !ok || string(it.Data) != "a" {
		t.Fatalf("Take = %q %v", it.Data, ok)
	}
	batch := q.TakeWhile(nil, func(it Item) bool { return string(it.Data) != "d" })
	if got := fmt.Sprint(datas(batch)); got != "[b c]" {
		t.Fatalf("TakeWhile = %s", got)
	}
	// The write of a, b, c failed: they go back before d.
	q.PutFront(append([]Item{it}, batch...))
	if q.Bytes() != 4 {
		t.Fatalf("Bytes after PutFront = %d, want 4", q.Bytes())
	}
	if got := fmt.Sprint(datas(q.TakeAll(nil))); got != "[a b c d]" {
		t.Fatalf("after PutFront: %s", got)
	}
	// PutFront into an empty, compacted queue.
	q.PutFront([]Item{item("x")})
	q.Add(item("y"))
	if got := fmt.Sprint(datas(q.TakeAll(nil))); got != "[x y]" {
		t.Fatalf("PutFront into empty: %s", got)
	}
}

func TestReadySignalsOnceAndAgain(t *testing.T) {
	q := New(Limits{})
	select {
	case <-q.Ready():
		t.Fatal("empty queue signalled")
	default:
	}
	q.Add(item("a"))
	q.Add(item("b"))
	<-q.Ready()
	select {
	case <-q.Ready():
		t.Fatal("two adds left two wakeups")
	default:
	}
	q.Take()
	q.Signal() // one left for the next waiter
	select {
	case <-q.Ready():
	default:
		t.Fatal("Signal with an item queued did not wake")
	}
	q.Take()
	q.Signal()
	select {
	case <-q.Ready():
		t.Fatal("Signal on an empty queue woke a waiter")
	default:
	}
}

func TestClose(t *testing.T) {
	q := New(Limits{})
	q.Add(item("a"))
	q.Close()
	if !errors.Is(q.Add(item("b")), ErrClosed) {
		t.Fatal("Add after Close did not fail with ErrClosed")
	}
	q.PutFront([]Item{item("c")})
	if q.Len() != 0 || q.Bytes() != 0 || !q.Closed() {
		t.Fatalf("closed queue: Len %d Bytes %d Closed %v", q.Len(), q.Bytes(), q.Closed())
	}
}

// TestConcurrentProducers checks that every item from many producers
// reaches one consumer once, each producer's items in order.
func TestConcurrentProducers(t *testing.T) {
	const producers, each = 4, 2000
	q := New(Limits{MaxMessages: 64})
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; {
				if q.Add(Item{Data: []byte{byte(p), byte(i >> 8), byte(i)}}) == nil {
					i++
				}
			}
		}()
	}
	next := make([]int, producers)
	seen := 0
	var batch []Item
	for seen < producers*each {
		<-q.Ready()
		batch = q.TakeAll(batch[:0])
		for _, it := range batch {
			p, i := int(it.Data[0]), int(it.Data[1])<<8|int(it.Data[2])
			if i != next[p] {
				t.Fatalf("producer %d: got item %d, want %d", p, i, next[p])
			}
			next[p]++
			seen++
		}
		q.Signal()
	}
	wg.Wait()
	if q.Len() != 0 || q.Bytes() != 0 {
		t.Fatalf("left over: %d items, %d bytes", q.Len(), q.Bytes())
	}
}

func BenchmarkAddTake(b *testing.B) {
	q := New(Limits{MaxMessages: 256, MaxBytes: 1 << 20})
	data := bytes.Repeat([]byte{1}, 64)
	b.ReportAllocs()
	for b.Loop() {
		q.Add(Item{Data: data})
		q.Take()
	}
}
