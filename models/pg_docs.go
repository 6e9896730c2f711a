package models

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
)

// pgEachBatch is how many documents one query of [PGStore.each] reads:
// a collection read that stops early leaves at most that many unread,
// which the driver still receives.
const pgEachBatch = 100

// Get returns the attributes of document id of model, or an error
// wrapping [ErrNotFound].
func (s *PGStore) Get(ctx context.Context, model, id string) (Props, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	if checkKey(model, id) != nil {
		return nil, notFound(model, id)
	}
	var rec []byte
	err := s.pool.QueryRow(ctx, "SELECT attrs FROM docs WHERE model = $1 AND id = $2", model, id).Scan(&rec)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound(model, id)
	}
	if err != nil {
		return nil, pgError(err)
	}
	return decodeAttrs(rec)
}

// Insert stores a new document and returns its id (see [Store.Insert]).
func (s *PGStore) Insert(ctx context.Context, model, id string, attrs Props) (string, error) {
	return insertDoc(ctx, s, model, id, attrs)
}

// Put replaces the attributes of document id, or stores a new document if
// there is none; created says which (see [Store.Put]).
func (s *PGStore) Put(ctx context.Context, model, id string, attrs Props) (created bool, err error) {
	return putDoc(ctx, s, model, id, attrs)
}

// Merge sets the given attributes on document id, keeping the others, and
// returns all its attributes (see [Store.Merge]).
func (s *PGStore) Merge(ctx context.Context, model, id string, attrs Props) (merged Props, err error) {
	return mergeDoc(ctx, s, model, id, attrs)
}

// Remove deletes document id and returns the attributes it had (see
// [Store.Remove]).
func (s *PGStore) Remove(ctx context.Context, model, id string) (old Props, err error) {
	return removeDoc(ctx, s, model, id)
}

// List returns up to limit documents of model in the order they were
// created, skipping the first offset. The cost grows with offset +
// limit.
func (s *PGStore) List(ctx context.Context, model string, offset, limit int) ([]Doc, error) {
	return listDocs(ctx, s, model, offset, limit)
}

// each calls fn with the documents of model in creation order (see
// [DocumentStore]). It reads them pgEachBatch at a time, each query
// going on after the last place the previous one read: unlike the bbolt
// store's, a long read is not one snapshot, but it sees each document
// at most once, and every document that exists throughout.
func (s *PGStore) each(ctx context.Context, model string, offset int, fn func(Doc) (bool, error)) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	if checkText("model name", model) != nil {
		return nil
	}
	last := int64(-1)
	for {
		var rows pgx.Rows
		var err error
		if last < 0 {
			rows, err = s.pool.Query(ctx, "SELECT id, ord, attrs FROM docs WHERE model = $1 ORDER BY ord OFFSET $2 LIMIT $3", model, offset, pgEachBatch)
		} else {
			rows, err = s.pool.Query(ctx, "SELECT id, ord, attrs FROM docs WHERE model = $1 AND ord > $2 ORDER BY ord LIMIT $3", model, last, pgEachBatch)
		}
		if err != nil {
			return pgError(err)
		}
		n, more, err := eachRow(rows, &last, fn)
		if err != nil || !more || n < pgEachBatch {
			return err
		}
	}
}

// eachRow calls fn with the documents of rows, noting the place of each
// in last, and returns how many there were and whether fn wants more.
func eachRow(rows pgx.Rows, last *int64, fn func(Doc) (bool, error)) (n int, more bool, err error) {
	defer rows.Close()
	var id string
	var rec []byte
	for rows.Next() {
		if err := rows.Scan(&id, last, &rec); err != nil {
			return n, false, pgError(err)
		}
		n++
		attrs, err := decodeAttrs(rec)
		if err != nil {
			return n, false, err
		}
		if more, err := fn(Doc{ID: id, Attrs: attrs}); err != nil || !more {
			return n, false, err
		}
	}
	return n, true, pgError(rows.Err())
}

// Count returns the number of documents of model.
func (s *PGStore) Count(ctx context.Context, model string) (int, error) {
	if err := s.usable(ctx); err != nil {
		return 0, err
	}
	if checkText("model name", model) != nil {
		return 0, nil
	}
	var n int
	err := s.pool.QueryRow(ctx, "SELECT count(*) FROM docs WHERE model = $1", model).Scan(&n)
	return n, pgError(err)
}

// Types returns the names of the model types the store holds, sorted:
// those with a document, or that had one or an event.
func (s *PGStore) Types(ctx context.Context) ([]string, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, "SELECT model FROM types ORDER BY model")
	if err != nil {
		return nil, pgError(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return names, pgError(err)
}

// Walk calls fn with every document of every model type (see
// [DocumentStore]). It is one query, one snapshot of the whole store,
// whose rows are read as fn takes them, never all held at once.
func (s *PGStore) Walk(ctx context.Context, fn func(model string, d Doc) error) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	// Cancelled before the rows are closed when fn stops the walk: the
	// rest of the table is then not read to its end.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, "SELECT model, id, attrs FROM docs ORDER BY model, id")
	if err != nil {
		return pgError(err)
	}
	defer rows.Close()
	defer cancel()
	var model, id string
	var rec []byte
	for n := 1; rows.Next(); n++ {
		if n%walkCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return Errorf(CodeUnavailable, "store: %w", err)
			}
		}
		if err := rows.Scan(&model, &id, &rec); err != nil {
			return pgError(err)
		}
		attrs, err := decodeAttrs(rec)
		if err != nil {
			return err
		}
		if err := fn(model, Doc{ID: id, Attrs: attrs}); err != nil {
			return err
		}
	}
	return pgError(rows.Err())
}
