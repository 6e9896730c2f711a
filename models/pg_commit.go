package models

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pgReruns bounds how many times a group's transaction is run again after
// PostgreSQL rolled it back to break a deadlock with another node's.
const pgReruns = 3

// Commit runs writes in one transaction, shared with the writes of other
// Commit calls made meanwhile (see [EventLog]). It returns when that
// transaction has committed, or failed; a commit whose outcome is
// unknown (the connection was lost while committing) is [ErrUnavailable].
func (s *PGStore) Commit(ctx context.Context, writes []Write) []error {
	return s.commits.commit(ctx, writes)
}

// Submit hands writes to the committer, which calls done with their
// errors (see [EventLog]).
func (s *PGStore) Submit(ctx context.Context, writes []Write, done func(errs []error)) {
	s.commits.submit(ctx, writes, done)
}

func (s *PGStore) storeError(err error) error { return pgError(err) }

// transact runs apply in one transaction (see [groupBackend]).
func (s *PGStore) transact(apply func(tx groupTx) error) error {
	var prelock *relockError
	for reruns, relocks := 0, 0; ; {
		err := s.transactOnce(apply, prelock)
		if r, ok := errors.AsType[*relockError](err); ok && relocks < pgMaxRelocks {
			prelock = r
			relocks++
			continue
		}
		if reruns < pgReruns && pgRerun(err) {
			reruns++
			continue
		}
		return err
	}
}

// transactOnce runs apply in one transaction, which first takes the rows
// of prelock when it is not nil (pg_locks.go).
func (s *PGStore) transactOnce(apply func(tx groupTx) error, prelock *relockError) error {
	ctx, cancel := context.WithTimeout(s.ctx, pgCommitTimeout)
	defer cancel()
	ptx, err := s.pool.Begin(ctx)
	if err != nil && pgconn.SafeToRetry(err) {
		// A connection of the pool that had died idle (a restarted
		// server): nothing was sent, and the pool has dropped it.
		ptx, err = s.pool.Begin(ctx)
	}
	if err != nil {
		return err
	}
	tx := &pgTx{s: s, ctx: ctx, tx: ptx, now: s.now()}
	if prelock != nil {
		if err := tx.prelock(prelock); err != nil {
			rollback(ptx)
			return err
		}
	}
	if err := apply(tx); err != nil {
		rollback(ptx)
		return err
	}
	counts, err := tx.finish()
	if err != nil {
		rollback(ptx)
		return err
	}
	if err := ptx.Commit(ctx); err != nil {
		if _, ok := errors.AsType[*pgconn.PgError](err); ok {
			return err // refused by the server: not committed
		}
		return Errorf(CodeUnavailable, "store: the outcome of a commit is unknown: %w", err)
	}
	if s.cfg.ObserveHistory != nil {
		for model, n := range counts {
			s.cfg.ObserveHistory(model, n)
		}
	}
	return nil
}

// rollback ends a transaction that must not commit. It runs on a context
// of its own: the transaction's may have ended, and a connection whose
// rollback fails is closed by the driver, which is what undoes it then.
func rollback(tx pgx.Tx) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = tx.Rollback(ctx)
}
