package models

import (
	"context"
	"time"

	"github.com/bertsync/bertsync/internal/limits"
	"go.etcd.io/bbolt"
)

// storeTx is one run of a [Write] in a write transaction of a [Store]:
// the store's [Tx]. Every change goes through its methods, which note
// that the write changed something (dirty), so that the group commit
// knows whether a write that failed can simply be passed over or the
// transaction must be rolled back and run again without it (commit.go).
type storeTx struct {
	s   *Store
	btx *bbolt.Tx
	now time.Time
	// dirty is set by the first change of the current write.
	dirty bool
	// madeTypes counts the model types this transaction made; they are
	// counted in s.types once it commits. history is the change of each
	// type's history length, counted in s.history then.
	madeTypes int64
	history   map[string]int
}

var _ docTx = (*storeTx)(nil)

func (tx *storeTx) startWrite()   { tx.dirty = false }
func (tx *storeTx) changed() bool { return tx.dirty }

// broken is nil: a bbolt transaction goes on after any failed write.
func (tx *storeTx) broken() error { return nil }

func (tx *storeTx) store() DocumentStore { return tx.s }

// Commit runs writes in one transaction, shared with the writes of other
// Commit calls made meanwhile (see [EventLog]). It returns when that
// transaction is on disk, whatever ctx does once the writes are handed
// over: by then they may commit, and the caller must learn whether they
// did.
func (s *Store) Commit(ctx context.Context, writes []Write) []error {
	return s.commits.commit(ctx, writes)
}

// Submit hands writes to the committer, which calls done with their
// errors (see [EventLog]).
func (s *Store) Submit(ctx context.Context, writes []Write, done func(errs []error)) {
	s.commits.submit(ctx, writes, done)
}

// transact runs apply in one bbolt write transaction (see [groupBackend])
// and then counts the types and history it changed.
func (s *Store) transact(apply func(tx groupTx) error) error {
	var made int64
	var history map[string]int
	err := s.db.Update(func(btx *bbolt.Tx) error {
		tx := &storeTx{s: s, btx: btx, now: s.now()}
		if err := apply(tx); err != nil {
			return err
		}
		made, history = tx.madeTypes, tx.history
		return nil
	})
	if err != nil {
		return err
	}
	s.types.Add(made)
	for model, d := range history {
		s.history[model] += d
		if s.cfg.ObserveHistory != nil && d != 0 {
			s.cfg.ObserveHistory(model, s.history[model])
		}
	}
	return nil
}

func (s *Store) storeError(err error) error { return storeError(err) }

// typeBucket returns the bucket of model, making it if the type is new.
// A new type that would make the store hold more than maxTypes (no bound
// if it is not positive) is an error wrapping [ErrForbidden]; the count
// is checked here, in the one writer of the store, so that no two writes
// pass the bound together.
func (tx *storeTx) typeBucket(model string, maxTypes int) (*bbolt.Bucket, error) {
	if model == "" {
		return nil, Errorf(CodeBadRequest, "empty model name")
	}
	root := tx.btx.Bucket(rootBucket)
	if m := root.Bucket([]byte(model)); m != nil {
		return m, nil
	}
	if limits.Exceeds(tx.s.types.Load()+tx.madeTypes+1, int64(maxTypes)) {
		return nil, Errorf(CodeForbidden, "too many model types in the store (limit %d): %s cannot be created", maxTypes, model)
	}
	tx.dirty = true
	m, err := root.CreateBucket([]byte(model))
	if err != nil {
		return nil, err
	}
	tx.madeTypes++
	return m, nil
}

// docBuckets returns the documents and order buckets of model, making
// them (and the type) if need be.
func (tx *storeTx) docBuckets(model string, maxTypes int) (docs, order *bbolt.Bucket, err error) {
	m, err := tx.typeBucket(model, maxTypes)
	if err != nil {
		return nil, nil, err
	}
	if docs = m.Bucket(docsBucket); docs == nil {
		tx.dirty = true
		if docs, err = m.CreateBucket(docsBucket); err != nil {
			return nil, nil, err
		}
	}
	if order = m.Bucket(orderBucket); order == nil {
		tx.dirty = true
		if order, err = m.CreateBucket(orderBucket); err != nil {
			return nil, nil, err
		}
	}
	return docs, order, nil
}

// insert stores a new document (see [Store.Insert]) and returns its id.
func (tx *storeTx) insert(model, id string, attrs Props, maxTypes int, check docCheck) (string, error) {
	if id == "" {
		var err error
		if id, err = newDocumentID(tx.now); err != nil {
			return "", err
		}
	}
	if docs, _ := modelBuckets(tx.btx, model); docs != nil && docs.Get([]byte(id)) != nil {
		return "", Errorf(CodeConflict, "%s %q exists", model, id)
	}
	if err := check.run(id, attrs); err != nil {
		return "", err
	}
	docs, order, err := tx.docBuckets(model, maxTypes)
	if err != nil {
		return "", err
	}
	return id, tx.put(docs, order, id, 0, attrs)
}

// replace replaces or creates document id (see [Store.Put]).
func (tx *storeTx) replace(model, id string, attrs Props, maxTypes int, check docCheck) (created bool, err error) {
	var seq uint64
	if docs, _ := modelBuckets(tx.btx, model); docs != nil {
		if v := docs.Get([]byte(id)); v != nil {
			if seq, err = recordSeq(v); err != nil {
				return false, err
			}
		}
	}
	if err := check.run(id, attrs); err != nil {
		return false, err
	}
	docs, order, err := tx.docBuckets(model, maxTypes)
	if err != nil {
		return false, err
	}
	return seq == 0, tx.put(docs, order, id, seq, attrs)
}

// merge sets attrs on document id (see [Store.Merge]).
func (tx *storeTx) merge(model, id string, attrs Props, check docCheck) (Props, error) {
	docs, order, seq, old, err := findRecord(tx.btx, model, id)
	if err != nil {
		return nil, err
	}
	merged := old.Merge(attrs)
	if err := check.run(id, merged); err != nil {
		return nil, err
	}
	return merged, tx.put(docs, order, id, seq, merged)
}

// remove deletes document id (see [Store.Remove]).
func (tx *storeTx) remove(model, id string) (Props, error) {
	docs, order, seq, old, err := findRecord(tx.btx, model, id)
	if err != nil {
		return nil, err
	}
	tx.dirty = true
	if err := order.Delete(seqKey(seq)); err != nil {
		return nil, err
	}
	return old, docs.Delete([]byte(id))
}

// put writes document id with attrs at place seq, or at a new place at the
// end of the order when seq is 0.
func (tx *storeTx) put(docs, order *bbolt.Bucket, id string, seq uint64, attrs Props) error {
	if id == "" {
		return Errorf(CodeBadRequest, "empty id")
	}
	if len(id) > bbolt.MaxKeySize {
		return Errorf(CodeTooLarge, "id of %d bytes, the store's limit is %d", len(id), bbolt.MaxKeySize)
	}
	newPlace := seq == 0
	if newPlace {
		// The order bucket's own sequence, read without a change: it is
		// bumped only once the record encodes.
		seq = order.Sequence() + 1
	}
	rec, err := encodeRecord(seq, attrs)
	if err != nil {
		return err
	}
	tx.dirty = true
	if newPlace {
		order.FillPercent = appendFill
		if err := order.SetSequence(seq); err != nil {
			return err
		}
		if err := order.Put(seqKey(seq), []byte(id)); err != nil {
			return err
		}
	}
	return docs.Put([]byte(id), rec)
}
