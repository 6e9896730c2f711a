package models

import (
	"errors"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Lock order. A group's transaction changes the types it writes to in
// the order its writes came, and every node commits groups at once: two
// nodes whose groups touch the types a and b in opposite orders would
// each hold the row of one and wait for the other's, a deadlock that
// PostgreSQL breaks only after deadlock_timeout (a second), and then
// again on every rerun. So every write first takes the row lock of its
// type (lockType), before any statement on the type's documents or
// stream: the documents of a type are then only ever locked by the
// holder of its row, and the rows are the only locks that can cross.
// They are taken in name order. A write that needs a row out of order
// (a name before one already held, or any row after the lock that makes
// new types) does not wait for it: it asks with NOWAIT, and if the row
// is taken the transaction is run again from the start, taking the rows
// the first run needed, in order, before anything else (relockError).
// Each rerun knows more rows; a group needs at most one rerun per type
// it touches.

// pgMaxRelocks bounds the reruns of one group to take its rows in order.
const pgMaxRelocks = 16

// relockError ends a run of a group that needed a row out of order and
// found it taken: the next run takes these first.
type relockError struct {
	types    []string // sorted
	newTypes bool     // the run made a type: take the types lock after the rows
}

func (e *relockError) Error() string {
	return "models: store: a group needs its types' rows in order; running it again"
}

// lockType takes the row lock of model's types row for the rest of the
// transaction, if it has a row (a new type's row is made, and held, by
// makeType).
func (tx *pgTx) lockType(model string) error {
	if _, ok := tx.locked[model]; ok {
		return nil
	}
	if !slices.Contains(tx.wanted, model) {
		tx.wanted = append(tx.wanted, model)
	}
	inOrder := !tx.typesLocked && model > tx.lastLocked
	q := "SELECT 1 FROM types WHERE model = $1 FOR UPDATE"
	if !inOrder {
		q += " NOWAIT"
	}
	var one int
	err := tx.tx.QueryRow(tx.ctx, q, model).Scan(&one)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case isLockNotAvailable(err):
		tx.dirty = true
		tx.err = tx.relock()
		return tx.err
	case err != nil:
		return tx.fail(err)
	}
	tx.markLocked(model)
	return nil
}

func (tx *pgTx) markLocked(model string) {
	if tx.locked == nil {
		tx.locked = make(map[string]struct{})
	}
	tx.locked[model] = struct{}{}
	tx.lastLocked = max(tx.lastLocked, model)
}

// relock is the relockError of this run: every row it asked for.
func (tx *pgTx) relock() *relockError {
	types := slices.Clone(tx.wanted)
	slices.Sort(types)
	return &relockError{types: types, newTypes: tx.typesLocked}
}

// prelock takes, at the start of a rerun, the rows an earlier run needed,
// in name order (ORDER BY under FOR UPDATE locks the rows as it returns
// them), and then the types lock if that run made a type.
func (tx *pgTx) prelock(r *relockError) error {
	rows, err := tx.tx.Query(tx.ctx, "SELECT model FROM types WHERE model = ANY($1) ORDER BY model FOR UPDATE", r.types)
	if err != nil {
		return tx.fail(err)
	}
	for rows.Next() {
		var model string
		if err := rows.Scan(&model); err != nil {
			rows.Close()
			return tx.fail(err)
		}
		tx.markLocked(model)
	}
	if err := rows.Err(); err != nil {
		return tx.fail(err)
	}
	tx.wanted = slices.Clone(r.types)
	if r.newTypes {
		return tx.lockTypes()
	}
	return nil
}

// lockTypes takes the lock that every node's making of a type takes.
func (tx *pgTx) lockTypes() error {
	if tx.typesLocked {
		return nil
	}
	if _, err := tx.tx.Exec(tx.ctx, "SELECT pg_advisory_xact_lock($1)", int64(pgTypesLock)); err != nil {
		return tx.fail(err)
	}
	tx.typesLocked = true
	return nil
}

// isLockNotAvailable reports whether err is a NOWAIT lock that was taken
// (SQLSTATE 55P03, lock_not_available).
func isLockNotAvailable(err error) bool {
	pgErr, ok := errors.AsType[*pgconn.PgError](err)
	return ok && pgErr.Code == "55P03"
}
