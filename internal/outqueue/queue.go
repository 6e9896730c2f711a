// Package outqueue is the outbound queue of one client connection, shared
// by every transport of the gateway: WebSocket, EventSource and
// long-polling. It is bounded in messages and in bytes, like centrifuge's
// ClientQueueMaxSize and nats-server's MaxPending, so that a client that
// does not read is cut off as a slow consumer instead of holding an
// unbounded backlog.
//
// A Queue has any number of producers and, at a time, usually one
// consumer; its methods are safe for concurrent use. It never blocks: Add
// fails at once when a bound would be passed.
package outqueue

import (
	"errors"
	"fmt"
	"sync"
)

// Item is one message waiting to be written.
type Item struct {
	// Data is what the transport writes, or what it writes from: the
	// WebSocket transport queues a frame's payload, the polling ones a
	// BERT term they encode per request. It may be shared with other
	// queues and must not be modified.
	Data []byte
	// Text says the message goes as a BERT-JS text message rather than
	// binary.
	Text bool
	// Shared says Data is the same array in the queues of other clients
	// (a push), so that a wire form derived from it can be shared too.
	Shared bool
}

// Limits bounds a [Queue]. A zero or negative field means no bound on
// that measure; callers resolve their configuration's defaults first.
type Limits struct {
	// MaxMessages bounds the number of queued items.
	MaxMessages int
	// MaxBytes bounds the sum of the queued items' len(Data). An item
	// larger than MaxBytes is still accepted by an empty queue, so that
	// the largest message the server may send always gets through.
	MaxBytes int
}

// ErrClosed is returned by [Queue.Add] once the queue is closed.
var ErrClosed = errors.New("outqueue: closed")

// FullError is returned by [Queue.Add] when the item would pass a bound.
type FullError struct {
	// Messages and Bytes are what the queue held when it refused.
	Messages, Bytes int
	// Limits are the queue's bounds.
	Limits Limits
	// ItemBytes is the size of the refused item.
	ItemBytes int
}

func (e *FullError) Error() string {
	if e.Limits.MaxMessages > 0 && e.Messages >= e.Limits.MaxMessages {
		return fmt.Sprintf("outqueue: %d messages pending, the limit is %d", e.Messages, e.Limits.MaxMessages)
	}
	return fmt.Sprintf("outqueue: %d bytes pending and a message of %d bytes, the limit is %d bytes",
		e.Bytes, e.ItemBytes, e.Limits.MaxBytes)
}

// Queue is a FIFO of [Item]s counted in messages and bytes. The zero value
// is not usable; call [New] or [Queue.Init].
type Queue struct {
	lim Limits

	mu sync.Mutex
	// ready (capacity 1) holds a token while the queue may have items
	// for a consumer that waits. It is made by the first call of Ready:
	// a consumer that never waits on it (the WebSocket writer) costs its
	// queue no channel.
	ready  chan struct{}
	items  []Item // items[head:] are queued, oldest first
	head   int
	bytes  int
	closed bool
}

// New returns an empty queue with the given bounds.
func New(lim Limits) *Queue {
	q := new(Queue)
	q.Init(lim)
	return q
}

// Init makes q, a Queue held by value in a struct of its own, an empty
// queue with the given bounds: one allocation fewer per connection than
// New. It must be called before any other method, and q not copied after.
func (q *Queue) Init(lim Limits) {
	q.lim = lim
}

// Add appends it, or fails with a [*FullError] when a bound would be
// passed, or with [ErrClosed].
func (q *Queue) Add(it Item) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	n := len(q.items) - q.head
	if (q.lim.MaxMessages > 0 && n >= q.lim.MaxMessages) ||
		(q.lim.MaxBytes > 0 && n > 0 && q.bytes+len(it.Data) > q.lim.MaxBytes) {
		err := &FullError{Messages: n, Bytes: q.bytes, Limits: q.lim, ItemBytes: len(it.Data)}
		q.mu.Unlock()
		return err
	}
	if q.head > 0 && len(q.items) == cap(q.items) {
		// Reuse the consumed front rather than grow.
		m := copy(q.items, q.items[q.head:])
		clear(q.items[m:])
		q.items = q.items[:m]
		q.head = 0
	}
	q.items = append(q.items, it)
	q.bytes += len(it.Data)
	ready := q.ready
	q.mu.Unlock()
	signal(ready)
	return nil
}

// Ready returns a channel that receives a value when items may be
// waiting. Each Add sends at most one value, which one waiter takes; a
// consumer that takes only some of the items, or gives up without
// taking, calls [Queue.Signal] so that another waiter sees the rest.
func (q *Queue) Ready() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.ready == nil {
		q.ready = make(chan struct{}, 1)
		if q.head < len(q.items) {
			q.ready <- struct{}{}
		}
	}
	return q.ready
}

// Signal wakes a waiter of [Queue.Ready] when the queue holds items.
func (q *Queue) Signal() {
	q.mu.Lock()
	ready, n := q.ready, len(q.items)-q.head
	q.mu.Unlock()
	if n > 0 {
		signal(ready)
	}
}

// signal puts a token in ready, if made, unless one is there already.
func signal(ready chan struct{}) {
	if ready == nil {
		return
	}
	select {
	case ready <- struct{}{}:
	default: // a wakeup is pending already
	}
}

// TakeAll moves every queued item to dst (which it may reuse) and
// returns it.
func (q *Queue) TakeAll(dst []Item) []Item {
	return q.TakeWhile(dst, nil)
}

// TakeWhile moves to dst the items at the front for which ok reports
// true, stopping at the first for which it does not (nil ok takes all),
// and returns dst.
func (q *Queue) TakeWhile(dst []Item, ok func(Item) bool) []Item {
	q.mu.Lock()
	defer q.mu.Unlock()
	i := q.head
	for ; i < len(q.items); i++ {
		if ok != nil && !ok(q.items[i]) {
			break
		}
		dst = append(dst, q.items[i])
		q.bytes -= len(q.items[i].Data)
	}
	clear(q.items[q.head:i]) // let the taken items' bytes go
	q.head = i
	q.compact()
	return dst
}

// Take removes and returns the oldest item; ok is false when there is
// none.
func (q *Queue) Take() (it Item, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.items) {
		return it, false
	}
	it = q.items[q.head]
	q.items[q.head] = Item{}
	q.head++
	q.bytes -= len(it.Data)
	q.compact()
	return it, true
}

// Peek returns the oldest item without removing it.
func (q *Queue) Peek() (it Item, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.items) {
		return it, false
	}
	return q.items[q.head], true
}

// PutFront returns items a consumer took but could not write to the
// front of the queue, in their order, so that the next consumer sends
// them first. They were counted before, so no bound refuses them. On a
// closed queue it does nothing.
func (q *Queue) PutFront(items []Item) {
	if len(items) == 0 {
		return
	}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	if q.head >= len(items) {
		q.head -= len(items)
		copy(q.items[q.head:], items)
	} else {
		rest := q.items[q.head:]
		merged := make([]Item, 0, len(items)+len(rest))
		merged = append(append(merged, items...), rest...)
		q.items, q.head = merged, 0
	}
	for _, it := range items {
		q.bytes += len(it.Data)
	}
	ready := q.ready
	q.mu.Unlock()
	signal(ready)
}

// compact lets an emptied queue's array go, keeping a small one for
// reuse; q.mu is held.
func (q *Queue) compact() {
	if q.head < len(q.items) {
		return
	}
	if cap(q.items) > keptCap {
		q.items = nil
	} else {
		q.items = q.items[:0]
	}
	q.head = 0
}

// keptCap bounds the array an emptied queue keeps: reusing it spares
// each push to an idle client an allocation, and keeping one item's
// keeps an idle connection small, after a backlog too.
const keptCap = 1

// Len returns the number of queued items.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head
}

// Bytes returns the sum of the queued items' sizes.
func (q *Queue) Bytes() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes
}

// Close drops the queued items; Add fails with [ErrClosed] from then on.
// Closing twice does nothing.
func (q *Queue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.items, q.head, q.bytes = nil, 0, 0
}

// Closed reports whether Close was called.
func (q *Queue) Closed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}
