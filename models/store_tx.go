package models

import (
	"context"
	"fmt"
	"time"

	"github.com/bertsync/bertsync/internal/limits"
	"go.etcd.io/bbolt"
)

// storeTx is one run of a [Write] in a group of a [Store]: the store's
// [Tx]. It reads through a view of the file and of the committer's
// working tree of pending changes, and writes to that tree, each change
// tagged with the log position of its write and added to the write's
// log record. Every change goes through set, which notes that the write
// changed something (dirty), so that the group commit knows whether a
// write that failed can simply be passed over or the group must be run
// again without it (commit.go).
type storeTx struct {
	s    *Store
	view storeView
	now  time.Time
	// dirty is set by the first change of the current write.
	dirty bool
	// last is the log position of the latest write that changed
	// something; records holds the log record of each such write, and
	// changes all their changes, in order. The records lie back to back
	// in buf, the current write's from start on: a buffer that grows a
	// few times a group, not each record a few times a write.
	last    uint64
	records [][]byte
	changes []*change
	buf     []byte
	start   int
	// slab holds the group's changes, allocated a batch at a time:
	// changes points into it.
	slab []change
	// replaced are the changes of the tree that a change of the group
	// replaced, which go to the store's replaced set once the group
	// commits.
	replaced []*change
	// typed is a model type known to exist in this group, which spares
	// the lookups of makeType for the next writes of the type.
	typed string
	// madeTypes counts the model types this group made; they are counted
	// in s.types once it commits. history is the change of each type's
	// history length, counted in s.history then.
	madeTypes int64
	history   map[string]int
}

var _ docTx = (*storeTx)(nil)

func (tx *storeTx) startWrite() { tx.dirty = false }

// endWrite fails a write whose record would not fit in a segment of the
// log, before it fails the group's Append.
func (tx *storeTx) endWrite() error {
	if !tx.dirty {
		return nil
	}
	if n := len(tx.records[len(tx.records)-1]); n > maxRecord {
		return Errorf(CodeTooLarge, "the changes of one write take %d bytes, the store's limit is %d", n, maxRecord)
	}
	return nil
}
func (tx *storeTx) changed() bool { return tx.dirty }

// broken is nil: a group goes on after any failed write.
func (tx *storeTx) broken() error { return nil }

func (tx *storeTx) store() DocumentStore { return tx.s }

// set makes change c of the current write.
func (tx *storeTx) set(c change) {
	if !tx.dirty {
		tx.dirty = true
		tx.last++
		tx.records = append(tx.records, nil)
		tx.start = len(tx.buf)
	}
	c.pos = tx.last
	// A grown buf leaves the records before this one in the array they
	// were written to, which nothing writes again.
	tx.buf = appendChange(tx.buf, c)
	tx.records[len(tx.records)-1] = tx.buf[tx.start:len(tx.buf):len(tx.buf)]
	if len(tx.slab) == cap(tx.slab) {
		// Small for a lone write, larger as the group grows.
		tx.slab = make([]change, 0, min(max(2*cap(tx.slab), 8), changeSlab))
	}
	tx.slab = append(tx.slab, c)
	pc := &tx.slab[len(tx.slab)-1]
	tx.changes = append(tx.changes, pc)
	if prev, ok := tx.view.pending.Set(pc); ok {
		tx.replaced = append(tx.replaced, prev)
	}
}

// changeSlab is the most changes a group allocates at a time (a create
// makes six).
const changeSlab = 64

func (tx *storeTx) put(model string, p part, key string, val []byte) {
	tx.set(change{model: model, part: p, key: key, val: val})
}

func (tx *storeTx) delete(model string, p part, key string) {
	tx.set(change{model: model, part: p, key: key, del: true})
}

// Commit runs writes in one group, shared with the writes of other
// Commit calls made meanwhile (see [EventLog]). It returns when the
// group is in the write-ahead log, on disk, whatever ctx does once the
// writes are handed over: by then they may commit, and the caller must
// learn whether they did.
func (s *Store) Commit(ctx context.Context, writes []Write) []error {
	return s.commits.commit(ctx, writes)
}

// Submit hands writes to the committer, which calls done with their
// errors (see [EventLog]).
func (s *Store) Submit(ctx context.Context, writes []Write, done func(errs []error)) {
	s.commits.submit(ctx, writes, done)
}

// transact runs apply as one group (see [groupBackend]): on a copy of
// the pending changes, which becomes them, and is published for reads,
// once the records of its writes are in the log. Then it counts the
// types and history the group changed.
func (s *Store) transact(apply func(tx groupTx) error) error {
	if err := s.waitForRoom(); err != nil {
		return err
	}
	s.prunePending()
	btx, err := s.db.Begin(false)
	if err != nil {
		return err
	}
	defer btx.Rollback()
	work := s.pending.IsoCopy()
	tx := &storeTx{
		s:    s,
		view: storeView{btx: btx, pending: work, applied: fileApplied(btx)},
		now:  s.now(),
		last: s.wal.Last(),
		buf:  s.recordBuf[:0],
	}
	err = apply(tx)
	if cap(tx.buf) <= maxRecordBuf {
		s.recordBuf = tx.buf
	}
	if err != nil {
		return err
	}
	if len(tx.records) == 0 {
		return nil
	}
	first, err := s.wal.Append(tx.records)
	if err != nil {
		return Errorf(CodeUnavailable, "store: write-ahead log: %w", err)
	}
	if want := tx.last - uint64(len(tx.records)) + 1; first != want {
		return fmt.Errorf("models: store: the log gave position %d to a write at %d", first, want)
	}
	s.pending = work
	for _, c := range tx.replaced {
		s.replaced[c] = struct{}{}
	}
	s.changeLog = append(s.changeLog, tx.changes...)
	for _, c := range tx.changes {
		s.pendingBytes += c.size()
	}
	s.published.Store(&pendingState{tree: work.IsoCopy(), last: tx.last})
	if s.pendingBytes > s.cfg.pending.at {
		s.kickApplier()
	}
	s.types.Add(tx.madeTypes)
	for model, d := range tx.history {
		s.history[model] += d
		if s.cfg.ObserveHistory != nil && d != 0 {
			s.cfg.ObserveHistory(model, s.history[model])
		}
	}
	return nil
}

// maxRecordBuf bounds the record buffer a store keeps between groups:
// one large group's is let go.
const maxRecordBuf = 1 << 20

func (s *Store) storeError(err error) error { return storeError(err) }

// makeType makes the type model, if it is new. A new type that would
// make the store hold more than maxTypes (no bound if it is not
// positive) is an error wrapping [ErrForbidden]; the count is checked
// here, in the one writer of the store, so that no two writes pass the
// bound together.
func (tx *storeTx) makeType(model string, maxTypes int) error {
	if model == "" {
		return Errorf(CodeBadRequest, "empty model name")
	}
	if model == tx.typed {
		return nil
	}
	if tx.view.hasType(model) {
		tx.typed = model
		return nil
	}
	if len(model) > bbolt.MaxKeySize {
		return Errorf(CodeTooLarge, "model name of %d bytes, the store's limit is %d", len(model), bbolt.MaxKeySize)
	}
	if limits.Exceeds(tx.s.types.Load()+tx.madeTypes+1, int64(maxTypes)) {
		return Errorf(CodeForbidden, "too many model types in the store (limit %d): %s cannot be created", maxTypes, model)
	}
	tx.put(model, partType, "", nil)
	tx.madeTypes++
	tx.typed = model
	return nil
}

// insert stores a new document (see [Store.Insert]) and returns its id.
func (tx *storeTx) insert(model, id string, attrs Props, maxTypes int, check docCheck) (string, error) {
	if id == "" {
		var err error
		if id, err = newDocumentID(tx.now); err != nil {
			return "", err
		}
	}
	if tx.view.get(model, partDocs, []byte(id)) != nil {
		return "", Errorf(CodeConflict, "%s %q exists", model, id)
	}
	if err := check.run(id, attrs); err != nil {
		return "", err
	}
	if err := tx.makeType(model, maxTypes); err != nil {
		return "", err
	}
	return id, tx.putDoc(model, id, 0, attrs)
}

// replace replaces or creates document id (see [Store.Put]).
func (tx *storeTx) replace(model, id string, attrs Props, maxTypes int, check docCheck) (created bool, err error) {
	var seq uint64
	if v := tx.view.get(model, partDocs, []byte(id)); v != nil {
		if seq, err = recordSeq(v); err != nil {
			return false, err
		}
	}
	if err := check.run(id, attrs); err != nil {
		return false, err
	}
	if err := tx.makeType(model, maxTypes); err != nil {
		return false, err
	}
	return seq == 0, tx.putDoc(model, id, seq, attrs)
}

// merge sets attrs on document id (see [Store.Merge]).
func (tx *storeTx) merge(model, id string, attrs Props, check docCheck) (Props, error) {
	seq, old, err := findRecord(&tx.view, model, id)
	if err != nil {
		return nil, err
	}
	merged := old.Merge(attrs)
	if err := check.run(id, merged); err != nil {
		return nil, err
	}
	return merged, tx.putDoc(model, id, seq, merged)
}

// remove deletes document id (see [Store.Remove]).
func (tx *storeTx) remove(model, id string) (Props, error) {
	seq, old, err := findRecord(&tx.view, model, id)
	if err != nil {
		return nil, err
	}
	tx.delete(model, partOrder, string(seqKey(seq)))
	tx.delete(model, partDocs, id)
	return old, nil
}

// putDoc writes document id with attrs at place seq, or at a new place
// at the end of the order when seq is 0.
func (tx *storeTx) putDoc(model, id string, seq uint64, attrs Props) error {
	if id == "" {
		return Errorf(CodeBadRequest, "empty id")
	}
	if len(id) > bbolt.MaxKeySize {
		return Errorf(CodeTooLarge, "id of %d bytes, the store's limit is %d", len(id), bbolt.MaxKeySize)
	}
	newPlace := seq == 0
	if newPlace {
		seq = tx.view.orderSequence(model) + 1
	}
	rec, err := encodeRecord(seq, attrs)
	if err != nil {
		return err
	}
	if newPlace {
		tx.put(model, partOrderSeq, "", seqKey(seq))
		tx.put(model, partOrder, string(seqKey(seq)), []byte(id))
	}
	tx.put(model, partDocs, id, rec)
	return nil
}
