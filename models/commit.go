package models

import (
	"context"
	"errors"
	"time"

	"go.etcd.io/bbolt"
)

// Group commit. Every write of a Store goes through one goroutine, the
// committer, which takes what has queued up since its last commit and
// runs it all in one bbolt transaction: one commit, and one pair of
// fsyncs, for every write that arrived while the previous commit was on
// disk. A lone write finds the committer waiting and commits at once;
// nothing waits for company.
//
// A write that fails without having changed anything (a conflict, a
// missing document, a refused check: the usual failures) is passed over
// and the transaction goes on. One that fails after a change rolls the
// transaction back, and it is run again without that write; each rerun
// drops one more write, so a group of n writes runs at most n+1 times and
// commits once. The writes are run again, never re-applied: a rolled back
// transaction leaves nothing behind (see [Write]).

// maxGroupWrites bounds the writes of one transaction, so that one
// commit's memory and the wait of its first write stay bounded however
// many writers queue up.
const maxGroupWrites = 1024

// commitQueue is how many Commit calls may queue for the committer before
// a caller waits to hand its writes over.
const commitQueue = 256

// commitRequest is one Commit call waiting for the committer.
type commitRequest struct {
	ctx    context.Context
	writes []Write
	errs   []error
	done   func(errs []error)
}

// errRerun rolls back a transaction in which a write failed after a
// change.
var errRerun = errors.New("models: store: rerun the group without a failed write")

// Commit runs writes in one transaction, shared with the writes of other
// Commit calls made meanwhile (see [EventLog]). It returns when that
// transaction is on disk, whatever ctx does once the writes are handed
// over: by then they may commit, and the caller must learn whether they
// did.
func (s *Store) Commit(ctx context.Context, writes []Write) []error {
	ch := make(chan []error, 1)
	s.Submit(ctx, writes, func(errs []error) { ch <- errs })
	return <-ch
}

// Submit hands writes to the committer, which calls done with their
// errors (see [EventLog]).
func (s *Store) Submit(ctx context.Context, writes []Write, done func(errs []error)) {
	r := &commitRequest{ctx: ctx, writes: writes, errs: make([]error, len(writes)), done: done}
	// Read-locked so that Close, once the committer has ended, can
	// answer what is still queued knowing that nothing more comes.
	s.submitMu.RLock()
	defer s.submitMu.RUnlock()
	select {
	case <-s.closed:
		r.refuse(Errorf(CodeUnavailable, "store closed"))
		return
	default:
	}
	select {
	case s.commits <- r:
	case <-s.closed:
		r.refuse(Errorf(CodeUnavailable, "store closed"))
	case <-ctx.Done():
		r.refuse(Errorf(CodeUnavailable, "store: %w", ctx.Err()))
	}
}

// write runs one write of the store's own methods through the committer.
func (s *Store) write(ctx context.Context, fn func(tx *storeTx) error) error {
	return s.Commit(ctx, []Write{func(tx Tx) error { return fn(tx.(*storeTx)) }})[0]
}

func fillErrors(errs []error, err error) []error {
	for i := range errs {
		errs[i] = err
	}
	return errs
}

// commitLoop is the committer. It ends when the store closes, answering
// what is still queued.
func (s *Store) commitLoop() {
	defer close(s.committerDone)
	var group []*commitRequest
	for {
		group = group[:0]
		select {
		case r := <-s.commits:
			group = append(group, r)
		case <-s.closed:
			s.refuseQueued()
			return
		}
		n := len(group[0].writes)
	gather:
		for n < maxGroupWrites {
			select {
			case r := <-s.commits:
				group = append(group, r)
				n += len(r.writes)
			default:
				break gather
			}
		}
		s.commitGroup(group)
		for i, r := range group {
			r.finish()
			group[i] = nil
		}
	}
}

// finish hands r's errors to its caller.
func (r *commitRequest) finish() { r.done(r.errs) }

// refuse answers r with err for every write, none of them run.
func (r *commitRequest) refuse(err error) { r.done(fillErrors(r.errs, err)) }

// refuseQueued answers the Commit calls still queued at close.
func (s *Store) refuseQueued() {
	for {
		select {
		case r := <-s.commits:
			r.refuse(Errorf(CodeUnavailable, "store closed"))
		default:
			return
		}
	}
}

// commitGroup runs the writes of group in one transaction and commits it,
// setting each request's errors.
func (s *Store) commitGroup(group []*commitRequest) {
	// dropped marks the writes left out of the transaction: given up
	// before their turn, or failed after a change. A write that failed
	// cleanly is run again in a rerun, since what made it fail may have
	// been a write that is now dropped.
	dropped := make([][]bool, len(group))
	writes := 0
	for i, r := range group {
		dropped[i] = make([]bool, len(r.writes))
		writes += len(r.writes)
		if err := r.ctx.Err(); err != nil {
			for j := range r.writes {
				dropped[i][j] = true
				r.errs[j] = Errorf(CodeUnavailable, "store: %w", err)
			}
		}
	}
	start := time.Now()
	for {
		var made int64
		var history map[string]int
		err := s.db.Update(func(btx *bbolt.Tx) error {
			tx := &storeTx{s: s, btx: btx, now: s.now()}
			for i, r := range group {
				for j, w := range r.writes {
					if dropped[i][j] {
						continue
					}
					tx.dirty = false
					r.errs[j] = storeError(w(tx))
					if r.errs[j] != nil && tx.dirty {
						dropped[i][j] = true
						return errRerun
					}
				}
			}
			made, history = tx.madeTypes, tx.history
			return nil
		})
		if err == errRerun {
			continue
		}
		if err != nil {
			err = storeError(err)
			for i, r := range group {
				for j := range r.writes {
					if !dropped[i][j] {
						r.errs[j] = err
					}
				}
			}
			return
		}
		s.types.Add(made)
		for model, d := range history {
			s.history[model] += d
			if s.cfg.ObserveHistory != nil && d != 0 {
				s.cfg.ObserveHistory(model, s.history[model])
			}
		}
		if s.cfg.ObserveCommit != nil {
			s.cfg.ObserveCommit(time.Since(start), writes)
		}
		return
	}
}
