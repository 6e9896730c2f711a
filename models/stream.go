package models

import (
	"context"
	"crypto/rand"
	"time"

	"github.com/bertsync/bertsync/internal/limits"
)

// Every model type is one stream of events (DESIGN §5): each change and
// each broadcast is one event, numbered by its Seq, +1 per event of the
// type from 1 and never reused. An [EventLog] keeps, for each type, the
// latest Seq and the latest events (the history), under one epoch: a
// random text that changes only when history was lost, so that a Seq is
// meaningful only with its epoch. A [Store] is an EventLog whose streams
// survive restarts, and whose events commit in the same transaction as
// the document changes they describe; [MemoryLog] is one for servers
// without a store, whose epoch is new at every start.

// Defaults of [HistoryConfig].
const (
	DefaultHistorySize = 1000
	DefaultHistoryTTL  = 24 * time.Hour
)

// HistoryConfig bounds the history of every stream of an [EventLog].
type HistoryConfig struct {
	// Size is the number of latest events kept per model type. Zero
	// means DefaultHistorySize; a negative value keeps none (a Seq is
	// still kept and goes on).
	Size int
	// TTL is the age past which an event is no longer replayed, and is
	// dropped. Zero means DefaultHistoryTTL; a negative value means no
	// age limit (Size still bounds the history).
	TTL time.Duration
}

// resolved returns c with its zero fields replaced by the defaults; Size
// is then 0 when no history is kept and TTL 0 when there is no age limit.
func (c HistoryConfig) resolved() HistoryConfig {
	c.Size = max(limits.Resolve(c.Size, DefaultHistorySize), 0)
	c.TTL = max(limits.Resolve(c.TTL, DefaultHistoryTTL), 0)
	return c
}

// Position is where a stream is: the Seq of its latest event (0 when it
// has none) and its epoch.
type Position struct {
	Seq   int64
	Epoch string
}

// Event is one event of a stream as history keeps it: its Seq, when it
// was appended, and the push message that carries it, encoded.
type Event struct {
	Seq  int64
	Time time.Time
	Data []byte
}

// EventLog keeps the streams of the model types. Its methods are safe for
// concurrent use; the model actor of a type is the only writer of its
// stream.
type EventLog interface {
	// Commit runs writes, in order, in one transaction, which it may
	// share with the writes of other Commit calls made meanwhile (group
	// commit: one sync to disk for all). It returns when the transaction
	// is durable, with errs[i] the error of writes[i]: a write that fails
	// is undone alone and the others commit, and no write is applied
	// twice. When the transaction itself cannot commit, every write that
	// had not failed gets that error and none is applied.
	Commit(ctx context.Context, writes []Write) (errs []error)
	// Submit is Commit without the wait: it hands writes over, after
	// those of earlier Submit and Commit calls, and calls done once with
	// Commit's errors when their transaction is durable, on whatever
	// goroutine made it so (it must not block). A caller may submit more
	// writes before done is called: they commit in the order they were
	// submitted.
	Submit(ctx context.Context, writes []Write, done func(errs []error))
	// Position returns where the stream of model is.
	Position(ctx context.Context, model string) (Position, error)
	// Since returns the events of model after Seq after, in order, and
	// whether they are complete: every event from after+1 to the latest
	// is still in history, none is past the TTL, and together their Data
	// take at most maxBytes (not positive: no limit). When they are not
	// complete Since returns no events.
	Since(ctx context.Context, model string, after int64, maxBytes int) (events []Event, complete bool, err error)
}

// Write is one change run in a transaction of an [EventLog]: it appends
// its events through tx (and, for a [Store], changes documents through
// it). A Write may be run more than once, in transactions that are rolled
// back, before the one that commits; it must have no effect outside tx
// and must set its outputs afresh on each run.
type Write func(tx Tx) error

// Tx is a transaction of an [EventLog].
type Tx interface {
	// Append adds an event to the stream of model and returns its Seq.
	// encode makes the event's message from its Seq; an error of encode
	// fails the write.
	Append(model string, encode func(seq int64) ([]byte, error)) (int64, error)
}

// sinceDecided answers a Since of the events after Seq after, in a
// stream whose latest Seq is top and whose history holds at most the
// latest kept, when that needs no event read: decided is false when the
// events must be read. After the stream's start or beyond top nothing is
// complete; at top, nothing is missed; below the history's floor, what
// was missed is gone.
func sinceDecided(after, top int64, kept int) (complete, decided bool) {
	switch {
	case after < 0 || after > top:
		return false, true
	case after == top:
		return true, true
	case after < top-int64(kept):
		return false, true
	}
	return false, false
}

// newEpoch returns a fresh random epoch: 20 characters of base32hex.
func newEpoch() string {
	var b [12]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return idEncoding.EncodeToString(b[:])
}
