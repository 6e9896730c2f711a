package models

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tidwall/btree"
	"go.etcd.io/bbolt"
)

// A [Store] commits a group of writes by appending their records to its
// write-ahead log (internal/wal) and syncing it: one small sequential
// write and one fdatasync, where a bbolt commit writes every page on the
// path to each changed key and syncs twice. The writes' changes are kept
// in memory (pending.go) and applied to the bbolt file by the applier,
// in the background, many groups in one bbolt commit; the file records,
// in the same commit, the log position it has applied, and the log's
// segments up to it are recycled. After a crash, opening the store
// replays the records past that position into the file before anything
// else. The file is thus always a consistent bbolt file, synced as
// bbolt syncs, and the log holds every acknowledged write it lacks.

// Defaults of pendingConfig.
const (
	defaultApplyEvery = 50 * time.Millisecond
	defaultApplyAt    = 4 << 20
	// MaxPendingBytes bounds the memory of the changes acknowledged and
	// not yet applied to the file: past it, writes wait for the applier
	// (a disk slower than the writes).
	MaxPendingBytes = 64 << 20
)

// pendingConfig bounds the pending changes: every is how often the
// applier applies them (negative: only when the others ask, the tests'
// setting to read through them), at how many bytes of them make it
// apply at once, and max how many the committer lets build up before it
// waits for the applier.
type pendingConfig struct {
	every   time.Duration
	at, max int
}

func (c pendingConfig) resolved() pendingConfig {
	if c.every == 0 {
		c.every = defaultApplyEvery
	}
	if c.at == 0 {
		c.at = defaultApplyAt
	}
	if c.max == 0 {
		c.max = MaxPendingBytes
	}
	return c
}

// walSegmentSize is the size of each segment of the log; maxRecord, the
// most a segment holds of one record, bounds the changes of one write (a
// document write's are at most a few MiB: the document, its event, and
// the keys that place them).
const (
	walSegmentSize = 16 << 20
	maxRecord      = walSegmentSize - 64<<10
)

// appliedKey, in the meta bucket, holds the log position the file has
// applied, 8 bytes big-endian.
var appliedKey = []byte("applied")

// pendingState is what the committer publishes for reads after each
// commit: the pending changes, never written to again, and the log
// position of the last write they hold.
type pendingState struct {
	tree *btree.BTreeG[*change]
	last uint64
}

// fileApplied returns the log position the file of btx has applied.
func fileApplied(btx *bbolt.Tx) uint64 {
	if meta := btx.Bucket(metaBucket); meta != nil {
		if v := meta.Get(appliedKey); len(v) == 8 {
			return binary.BigEndian.Uint64(v)
		}
	}
	return 0
}

// setFileApplied records in btx that the file has applied the log up to
// pos.
func setFileApplied(btx *bbolt.Tx, pos uint64) error {
	meta, err := btx.CreateBucketIfNotExists(metaBucket)
	if err != nil {
		return err
	}
	return meta.Put(appliedKey, seqKey(pos))
}

// applyChange writes c to the file in btx.
func applyChange(btx *bbolt.Tx, c change) error {
	root := btx.Bucket(rootBucket)
	if c.del {
		m := root.Bucket([]byte(c.model))
		if m == nil {
			return nil
		}
		if c.part != partStream {
			if m = m.Bucket(subBucket[c.part]); m == nil {
				return nil
			}
		}
		return m.Delete([]byte(c.key))
	}
	m, err := root.CreateBucketIfNotExists([]byte(c.model))
	if err != nil {
		return err
	}
	switch c.part {
	case partType:
		return nil
	case partStream:
		return m.Put([]byte(c.key), c.val)
	case partOrderSeq:
		order, err := m.CreateBucketIfNotExists(orderBucket)
		if err != nil {
			return err
		}
		if len(c.val) != 8 {
			return fmt.Errorf("%w: order sequence of %d bytes", errCorruptRecord, len(c.val))
		}
		return order.SetSequence(binary.BigEndian.Uint64(c.val))
	}
	b, err := m.CreateBucketIfNotExists(subBucket[c.part])
	if err != nil {
		return err
	}
	if c.part != partDocs {
		// Their keys, Seqs, only grow.
		b.FillPercent = appendFill
	}
	return b.Put([]byte(c.key), c.val)
}

// replayLog applies to the file the log's records that it lacks: those
// of writes acknowledged before a crash. It runs at open, before the
// committer and the applier start.
func (s *Store) replayLog() error {
	var last uint64
	err := s.db.Update(func(btx *bbolt.Tx) error {
		err := s.wal.Replay(func(pos uint64, rec []byte) error {
			last = pos
			// bbolt holds on to what is put until the commit; Replay
			// reuses rec.
			rec = bytes.Clone(rec)
			return eachChange(rec, pos, func(c change) error { return applyChange(btx, c) })
		})
		if err != nil || last == 0 {
			return err
		}
		return setFileApplied(btx, last)
	})
	if err != nil {
		return fmt.Errorf("replaying the write-ahead log: %w", err)
	}
	if last > 0 {
		s.applied.Store(last)
		return s.wal.Release(last)
	}
	return nil
}

// applier applies the pending changes to the file, in the background.
type applier struct {
	kick chan struct{} // apply now
	// mu guards round and err; cond is signalled at the end of each
	// round.
	mu    sync.Mutex
	cond  *sync.Cond
	round uint64
	err   error
	done  chan struct{}
}

// runApplier applies the pending changes at the pace of its config, or
// at once when kicked, until stop is closed; then it applies what is
// left.
func (s *Store) runApplier(stop <-chan struct{}) {
	a := s.applier
	defer close(a.done)
	var tick <-chan time.Time
	if every := s.cfg.pending.every; every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-stop:
			a.finish(s.applyPending())
			return
		case <-tick:
		case <-a.kick:
		}
		err := s.applyPending()
		if err != nil {
			// The changes stay pending, and in the log: the next round
			// tries again.
			slog.Error("store", "err", err)
		}
		a.finish(err)
	}
}

// finish ends a round of the applier with its error.
func (a *applier) finish(err error) {
	a.mu.Lock()
	a.round++
	a.err = err
	a.mu.Unlock()
	a.cond.Broadcast()
}

// applyPending applies the pending changes published last to the file,
// in one bbolt commit, and lets the log recycle what the file now holds.
func (s *Store) applyPending() error {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	st := s.published.Load()
	if st == nil || st.last <= s.applied.Load() {
		return nil
	}
	start := time.Now()
	changes := 0
	err := s.db.Update(func(btx *bbolt.Tx) error {
		applied := fileApplied(btx)
		var err error
		st.tree.Scan(func(c *change) bool {
			if c.pos <= applied {
				return true
			}
			changes++
			err = applyChange(btx, *c)
			return err == nil
		})
		if err != nil {
			return err
		}
		return setFileApplied(btx, st.last)
	})
	if err != nil {
		return fmt.Errorf("models: store: applying the log to %s: %w", s.path, err)
	}
	s.applied.Store(st.last)
	slog.Debug("store: applied the log", "position", st.last, "changes", changes, "took", time.Since(start))
	if err := s.wal.Release(st.last); err != nil {
		slog.Error("store: recycling the write-ahead log", "err", err)
	}
	return nil
}

// kickApplier asks the applier for a round now, if it is not already
// asked.
func (s *Store) kickApplier() {
	select {
	case s.applier.kick <- struct{}{}:
	default:
	}
}

// waitForRoom holds the committer while the pending changes exceed
// their bound, kicking the applier, until a round of it has pruned
// them below; it fails if the applier's round failed.
func (s *Store) waitForRoom() error {
	for s.pendingBytes > s.cfg.pending.max {
		a := s.applier
		a.mu.Lock()
		round := a.round
		s.kickApplier()
		for a.round == round {
			a.cond.Wait()
		}
		err := a.err
		a.mu.Unlock()
		if err != nil {
			return Errorf(CodeUnavailable, "store: the write-ahead log cannot be applied: %w", err)
		}
		s.prunePending()
	}
	return nil
}

// prunePending drops from the committer's tree the changes the file has
// applied since the last prune, unless a later write changed their key
// again.
func (s *Store) prunePending() {
	applied := s.applied.Load()
	if applied == s.pruned {
		return
	}
	s.pruned = applied
	n := 0
	for _, c := range s.changeLog {
		if c.pos > applied {
			break
		}
		n++
		s.pendingBytes -= c.size()
		if _, ok := s.replaced[c]; ok {
			delete(s.replaced, c)
			continue
		}
		if latest, ok := s.pending.Delete(c); ok && latest != c {
			// Every replaced change is in s.replaced once its
			// successor commits, and prunes run between groups;
			// should one be missed, the newer change is put back,
			// not lost.
			s.pending.Set(latest)
		}
	}
	clear(s.changeLog[:n]) // for the collector
	s.changeLog = s.changeLog[n:]
}
