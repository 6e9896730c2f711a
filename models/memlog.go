package models

import (
	"context"
	"sync"
	"time"
)

// MemoryLog is an [EventLog] held in memory, for a server without a
// [Store]: its Seqs and history last as long as the process, and its
// epoch is new at every start, so that a client that recovers across a
// restart is told to reload. It keeps at most one stream per model type
// that had an event.
type MemoryLog struct {
	cfg   HistoryConfig
	epoch string
	now   func() time.Time

	mu      sync.Mutex
	streams map[string]*memStream
}

type memStream struct {
	top    int64
	events []Event // the history, oldest first
}

var _ EventLog = (*MemoryLog)(nil)

// NewMemoryLog returns an empty MemoryLog with a new epoch.
func NewMemoryLog(cfg HistoryConfig) *MemoryLog {
	return &MemoryLog{cfg: cfg.resolved(), epoch: newEpoch(), now: time.Now, streams: make(map[string]*memStream)}
}

// Submit commits writes at once (see Commit) and calls done with their
// errors.
func (l *MemoryLog) Submit(ctx context.Context, writes []Write, done func(errs []error)) {
	done(l.Commit(ctx, writes))
}

// Commit runs writes one after the other; a write's events are kept only
// if it succeeds.
func (l *MemoryLog) Commit(ctx context.Context, writes []Write) []error {
	errs := make([]error, len(writes))
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, w := range writes {
		if err := ctx.Err(); err != nil {
			errs[i] = Errorf(CodeUnavailable, "event log: %w", err)
			continue
		}
		tx := &memTx{log: l, now: l.now()}
		if errs[i] = w(tx); errs[i] == nil {
			tx.apply()
		}
	}
	return errs
}

// Position returns where the stream of model is.
func (l *MemoryLog) Position(ctx context.Context, model string) (Position, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var top int64
	if s := l.streams[model]; s != nil {
		top = s.top
	}
	return Position{Seq: top, Epoch: l.epoch}, nil
}

// Since returns the events of model after Seq after (see [EventLog]).
func (l *MemoryLog) Since(ctx context.Context, model string, after int64, maxBytes int) ([]Event, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.streams[model]
	var top int64
	var events []Event
	if s != nil {
		top, events = s.top, s.events
	}
	if complete, decided := sinceDecided(after, top, len(events)); decided {
		return nil, complete, nil
	}
	first := top - int64(len(events)) + 1 // the Seq of events[0]
	missed := events[after+1-first:]
	if !l.fresh(missed[0]) || !withinBytes(missed, maxBytes) {
		return nil, false, nil
	}
	return append([]Event(nil), missed...), true, nil
}

// fresh reports whether e is younger than the TTL.
func (l *MemoryLog) fresh(e Event) bool {
	return l.cfg.TTL == 0 || l.now().Sub(e.Time) < l.cfg.TTL
}

// withinBytes reports whether the events' data take at most maxBytes.
func withinBytes(events []Event, maxBytes int) bool {
	if maxBytes <= 0 {
		return true
	}
	n := 0
	for _, e := range events {
		if n += len(e.Data); n > maxBytes {
			return false
		}
	}
	return true
}

// memTx stages the events of one write until it succeeds.
type memTx struct {
	log    *MemoryLog
	now    time.Time
	staged map[string][]Event
}

func (tx *memTx) Append(model string, encode func(seq int64) ([]byte, error)) (int64, error) {
	var top int64
	if s := tx.log.streams[model]; s != nil {
		top = s.top
	}
	seq := top + int64(len(tx.staged[model])) + 1
	data, err := encode(seq)
	if err != nil {
		return 0, err
	}
	if tx.staged == nil {
		tx.staged = make(map[string][]Event)
	}
	tx.staged[model] = append(tx.staged[model], Event{Seq: seq, Time: tx.now, Data: data})
	return seq, nil
}

// apply makes the staged events part of their streams, dropping what the
// history no longer keeps.
func (tx *memTx) apply() {
	for model, events := range tx.staged {
		s := tx.log.streams[model]
		if s == nil {
			s = &memStream{}
			tx.log.streams[model] = s
		}
		s.top = events[len(events)-1].Seq
		keep := tx.log.cfg.Size
		s.events = append(s.events, events...)
		if n := len(s.events) - keep; n > 0 {
			// Reslicing keeps the backing array, which the next append
			// that outgrows it replaces by one holding the kept events
			// only: memory stays within twice the history.
			s.events = s.events[n:]
		}
		for len(s.events) > 0 && !tx.log.fresh(s.events[0]) {
			s.events = s.events[1:]
		}
	}
}
