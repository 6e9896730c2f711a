package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/internal/limits"
	"github.com/jackc/pgx/v5"
)

// pgMaxKey bounds a model name and id together, in bytes: a btree index
// entry of PostgreSQL must fit in a third of a page (about 2700 bytes),
// and a longer key fails its statement, which would roll the whole group
// back; refused before, it fails alone.
const pgMaxKey = 2048

// pgTx is one run of a group of writes in a transaction of a [PGStore]:
// the store's [Tx]. As for [storeTx], every change notes that the write
// changed something (dirty). A statement that fails aborts a PostgreSQL
// transaction, so any failed statement makes the write dirty too: the
// group is run again without it. A failure of the server or of the
// connection breaks the transaction for the whole group.
type pgTx struct {
	s   *PGStore
	ctx context.Context
	tx  pgx.Tx
	now time.Time
	// dirty is set by the first change of the current write.
	dirty bool
	// err is what broke the transaction.
	err error
	// appended lists, once each, the model types this transaction
	// appended to, which it notifies.
	appended []string
	seen     map[string]struct{}
	// The locks taken, in order (pg_locks.go): the types rows held, the
	// greatest name among them, every row asked for, and whether the
	// lock that makes types is held.
	locked      map[string]struct{}
	lastLocked  string
	wanted      []string
	typesLocked bool
}

var _ docTx = (*pgTx)(nil)

func (tx *pgTx) startWrite()          { tx.dirty = false }
func (tx *pgTx) endWrite() error      { return nil }
func (tx *pgTx) changed() bool        { return tx.dirty }
func (tx *pgTx) broken() error        { return tx.err }
func (tx *pgTx) store() DocumentStore { return tx.s }

// fail records a failed statement: PostgreSQL has aborted the
// transaction.
func (tx *pgTx) fail(err error) error {
	tx.dirty = true
	if tx.err == nil && pgBreaks(err) {
		tx.err = err
	}
	return pgError(err)
}

// checkKey refuses a model name and id that the tables cannot hold.
func checkKey(model, id string) error {
	if model == "" {
		return Errorf(CodeBadRequest, "empty model name")
	}
	if id == "" {
		return Errorf(CodeBadRequest, "empty id")
	}
	if err := checkText("model name", model); err != nil {
		return err
	}
	if err := checkText("id", id); err != nil {
		return err
	}
	if n := len(model) + len(id); n > pgMaxKey {
		return Errorf(CodeTooLarge, "model name and id of %d bytes, the store's limit is %d", n, pgMaxKey)
	}
	return nil
}

// makeType makes the row of model if it has none. A new type that would
// make the store hold more than maxTypes (no bound if it is not
// positive) is an error wrapping [ErrForbidden]. The count is taken in
// the database under a lock that every node's type creation takes, held
// until the transaction ends, so that no two writes, on any nodes, pass
// the bound together.
func (tx *pgTx) makeType(model string, maxTypes int) error {
	if err := tx.lockTypes(); err != nil {
		return err
	}
	var n int64
	var exists bool
	err := tx.tx.QueryRow(tx.ctx, "SELECT count(*), coalesce(bool_or(model = $1), false) FROM types", model).Scan(&n, &exists)
	if err != nil {
		return tx.fail(err)
	}
	if exists {
		// Made by another node since this write looked for its row.
		return tx.lockType(model)
	}
	if limits.Exceeds(n+1, int64(maxTypes)) {
		return Errorf(CodeForbidden, "too many model types in the store (limit %d): %s cannot be created", maxTypes, model)
	}
	tx.dirty = true
	if _, err := tx.tx.Exec(tx.ctx, "INSERT INTO types (model) VALUES ($1)", model); err != nil {
		return tx.fail(err)
	}
	tx.markLocked(model)
	return nil
}

// pgInsertDoc stores a new document at the next place of its type's
// order; it inserts nothing when the type has no row yet.
const pgInsertDoc = `WITH o AS (UPDATE types SET next_ord = next_ord + 1 WHERE model = $1 RETURNING next_ord)
INSERT INTO docs (model, id, ord, attrs) SELECT $1, $2, next_ord, $3 FROM o`

// pgPutDoc is pgInsertDoc, or, for a document that exists, the
// replacement of its attributes in its place; it returns whether the
// document is new.
const pgPutDoc = pgInsertDoc + `
ON CONFLICT (model, id) DO UPDATE SET attrs = EXCLUDED.attrs
RETURNING ord = (SELECT next_ord FROM o)`

// insert stores a new document (see [Store.Insert]) and returns its id.
func (tx *pgTx) insert(model, id string, attrs Props, maxTypes int, check docCheck) (string, error) {
	if id == "" {
		var err error
		if id, err = newDocumentID(tx.now); err != nil {
			return "", err
		}
	}
	if err := checkKey(model, id); err != nil {
		return "", err
	}
	if err := tx.lockType(model); err != nil {
		return "", err
	}
	var one int
	switch err := tx.tx.QueryRow(tx.ctx, "SELECT 1 FROM docs WHERE model = $1 AND id = $2", model, id).Scan(&one); {
	case err == nil:
		return "", Errorf(CodeConflict, "%s %q exists", model, id)
	case !errors.Is(err, pgx.ErrNoRows):
		return "", tx.fail(err)
	}
	if err := check.run(id, attrs); err != nil {
		return "", err
	}
	rec, err := encodeAttrs(attrs)
	if err != nil {
		return "", err
	}
	for made := false; ; made = true {
		tag, err := tx.tx.Exec(tx.ctx, pgInsertDoc, model, id, rec)
		if err != nil {
			return "", tx.fail(err)
		}
		if tag.RowsAffected() == 1 {
			tx.dirty = true
			return id, nil
		}
		if made {
			return "", errors.New("models: store: a type's row is missing after it was made")
		}
		if err := tx.makeType(model, maxTypes); err != nil {
			return "", err
		}
	}
}

// replace replaces or creates document id (see [Store.Put]).
func (tx *pgTx) replace(model, id string, attrs Props, maxTypes int, check docCheck) (created bool, err error) {
	if err := checkKey(model, id); err != nil {
		return false, err
	}
	if err := tx.lockType(model); err != nil {
		return false, err
	}
	if err := check.run(id, attrs); err != nil {
		return false, err
	}
	rec, err := encodeAttrs(attrs)
	if err != nil {
		return false, err
	}
	for made := false; ; made = true {
		err := tx.tx.QueryRow(tx.ctx, pgPutDoc, model, id, rec).Scan(&created)
		if err == nil {
			tx.dirty = true
			return created, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return false, tx.fail(err)
		}
		if made {
			return false, errors.New("models: store: a type's row is missing after it was made")
		}
		if err := tx.makeType(model, maxTypes); err != nil {
			return false, err
		}
	}
}

// merge sets attrs on document id (see [Store.Merge]).
func (tx *pgTx) merge(model, id string, attrs Props, check docCheck) (Props, error) {
	if checkKey(model, id) != nil {
		return nil, notFound(model, id)
	}
	if err := tx.lockType(model); err != nil {
		return nil, err
	}
	var rec []byte
	// FOR UPDATE: another node's merge of the same document waits for
	// this one, and merges into its result.
	err := tx.tx.QueryRow(tx.ctx, "SELECT attrs FROM docs WHERE model = $1 AND id = $2 FOR UPDATE", model, id).Scan(&rec)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound(model, id)
	}
	if err != nil {
		return nil, tx.fail(err)
	}
	old, err := decodeAttrs(rec)
	if err != nil {
		return nil, err
	}
	merged := old.Merge(attrs)
	if err := check.run(id, merged); err != nil {
		return nil, err
	}
	if rec, err = encodeAttrs(merged); err != nil {
		return nil, err
	}
	tx.dirty = true
	if _, err := tx.tx.Exec(tx.ctx, "UPDATE docs SET attrs = $3 WHERE model = $1 AND id = $2", model, id, rec); err != nil {
		return nil, tx.fail(err)
	}
	return merged, nil
}

// remove deletes document id (see [Store.Remove]).
func (tx *pgTx) remove(model, id string) (Props, error) {
	if checkKey(model, id) != nil {
		return nil, notFound(model, id)
	}
	if err := tx.lockType(model); err != nil {
		return nil, err
	}
	var rec []byte
	err := tx.tx.QueryRow(tx.ctx, "DELETE FROM docs WHERE model = $1 AND id = $2 RETURNING attrs", model, id).Scan(&rec)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound(model, id) // nothing deleted: no change
	}
	if err != nil {
		return nil, tx.fail(err)
	}
	tx.dirty = true
	return decodeAttrs(rec)
}

// encodeAttrs returns the stored form of a document's attributes (see
// pg_schema.go), checking its size as [Store] does.
func encodeAttrs(attrs Props) ([]byte, error) {
	list := make(bert.List, len(attrs))
	for i, p := range attrs {
		list[i] = bert.Tuple{[]byte(p.Key), p.Value}
	}
	rec, err := bert.Append(nil, list, bert.Erlang)
	if err != nil {
		return nil, Errorf(CodeBadRequest, "attributes cannot be stored: %w", err)
	}
	if len(rec) > MaxDocumentSize {
		return nil, Errorf(CodeTooLarge, "document of %d bytes, the limit is %d", len(rec), MaxDocumentSize)
	}
	return rec, nil
}

// decodeAttrs decodes the stored attributes of a document.
func decodeAttrs(v []byte) (Props, error) {
	var term any
	if err := bert.Unmarshal(v, &term); err != nil {
		return nil, fmt.Errorf("models: store: corrupt document: %w", err)
	}
	attrs, err := parseProps(term, false)
	if err != nil {
		return nil, fmt.Errorf("models: store: corrupt document: %v", err)
	}
	return attrs, nil
}
