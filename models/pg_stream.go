package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// The streams in PostgreSQL (see pg_schema.go): the types row of a model
// holds the Seq of its latest event; the events table its history, from
// which appends prune at most pruneBatch events each, from the front, past
// the size or the TTL, as in the bbolt store. The times of the events are
// the database's clock (now(): the transaction's start), one clock for
// every node, and the TTL is measured against it.

// pgNotifyChannel is the channel that a transaction that appended events
// notifies, with the name of each type it appended to.
const pgNotifyChannel = "bertsync_events"

// pgBumpSeq takes the next Seq of a type: the row stays locked until the
// transaction ends, so that the Seq order of a type is its commit order.
const pgBumpSeq = "UPDATE types SET seq = seq + 1 WHERE model = $1 RETURNING seq"

// pgPrune removes the longest run of events from the front of a type's
// history, among its first pruneBatch, that are at or below the floor
// ($2) or older than the TTL ($3; none when NULL).
var pgPrune = fmt.Sprintf(`WITH front AS (
	SELECT seq, (seq <= $2 OR ($3::interval IS NOT NULL AND at <= now() - $3::interval)) AS old
	FROM events WHERE model = $1 ORDER BY seq LIMIT %d
), cut AS (
	SELECT coalesce(min(seq) FILTER (WHERE NOT old), max(seq) + 1) AS seq FROM front
)
DELETE FROM events e USING cut WHERE e.model = $1 AND e.seq < cut.seq`, pruneBatch)

// Append adds an event to the stream of model, in the transaction of the
// write, and returns its Seq.
func (tx *pgTx) Append(model string, encode func(seq int64) ([]byte, error)) (int64, error) {
	if model == "" {
		return 0, Errorf(CodeBadRequest, "empty model name")
	}
	if err := checkText("model name", model); err != nil {
		return 0, err
	}
	if err := tx.lockType(model); err != nil {
		return 0, err
	}
	var seq int64
	err := tx.tx.QueryRow(tx.ctx, pgBumpSeq, model).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		if err := tx.makeType(model, tx.s.cfg.MaxTypes); err != nil {
			return 0, err
		}
		err = tx.tx.QueryRow(tx.ctx, pgBumpSeq, model).Scan(&seq)
	}
	if err != nil {
		return 0, tx.fail(err)
	}
	tx.dirty = true
	data, err := encode(seq)
	if err != nil {
		return 0, err
	}
	h := tx.s.cfg.History
	var ttl *time.Duration
	if h.TTL > 0 {
		ttl = &h.TTL
	}
	b := &pgx.Batch{}
	if h.Size > 0 {
		b.Queue("INSERT INTO events (model, seq, node, at, data) VALUES ($1, $2, $3, now(), $4)", model, seq, tx.s.node, data)
	}
	b.Queue(pgPrune, model, seq-int64(h.Size), ttl)
	if err := tx.tx.SendBatch(tx.ctx, b).Close(); err != nil {
		return 0, tx.fail(err)
	}
	if tx.seen == nil {
		tx.seen = make(map[string]struct{})
	}
	if _, ok := tx.seen[model]; !ok {
		tx.seen[model] = struct{}{}
		tx.appended = append(tx.appended, model)
	}
	return seq, nil
}

// finish ends the run of a group before its commit: it notifies the
// types appended to (delivered by PostgreSQL at the commit, and only if
// it commits) and, when the store observes its history, counts their
// events.
func (tx *pgTx) finish() (counts map[string]int, err error) {
	if len(tx.appended) == 0 {
		return nil, nil
	}
	b := &pgx.Batch{}
	b.Queue("SELECT pg_notify($1, m) FROM unnest($2::text[]) AS m", pgNotifyChannel, tx.appended)
	observe := tx.s.cfg.ObserveHistory != nil
	if observe {
		counts = make(map[string]int, len(tx.appended))
		for _, m := range tx.appended {
			counts[m] = 0
		}
		b.Queue("SELECT model, count(*) FROM events WHERE model = ANY($1) GROUP BY model", tx.appended).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var model string
				var n int
				if err := rows.Scan(&model, &n); err != nil {
					return err
				}
				counts[model] = n
			}
			return rows.Err()
		})
	}
	if err := tx.tx.SendBatch(tx.ctx, b).Close(); err != nil {
		tx.fail(err)
		return nil, err
	}
	return counts, nil
}

// Position returns where the stream of model is.
func (s *PGStore) Position(ctx context.Context, model string) (Position, error) {
	top, err := s.top(ctx, model)
	return Position{Seq: top, Epoch: s.epoch}, err
}

// top returns the Seq of the latest event of model (0 when none).
func (s *PGStore) top(ctx context.Context, model string) (int64, error) {
	if err := s.usable(ctx); err != nil {
		return 0, err
	}
	if checkText("model name", model) != nil {
		return 0, nil // no such type can exist
	}
	var top int64
	err := s.pool.QueryRow(ctx, "SELECT seq FROM types WHERE model = $1", model).Scan(&top)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return top, pgError(err)
}

// pgSince reads the history after a Seq, with the stream's top and, for
// each event, whether it is past the TTL ($3; none when NULL), in one
// statement: one snapshot.
const pgSince = `SELECT (SELECT t.seq FROM types t WHERE t.model = $1), e.seq, e.at, e.data,
	($3::interval IS NOT NULL AND e.at <= now() - $3::interval)
FROM events e WHERE e.model = $1 AND e.seq > $2 ORDER BY e.seq`

// Since returns the events of model after Seq after (see [EventLog]).
func (s *PGStore) Since(ctx context.Context, model string, after int64, maxBytes int) ([]Event, bool, error) {
	top, err := s.top(ctx, model)
	if err != nil {
		return nil, false, err
	}
	// The floor is that of the history as configured now (see
	// [Store.Since]).
	if complete, decided := sinceDecided(after, top, s.cfg.History.Size); decided {
		return nil, complete, nil
	}
	var ttl *time.Duration
	if s.cfg.History.TTL > 0 {
		ttl = &s.cfg.History.TTL
	}
	rows, err := s.pool.Query(ctx, pgSince, model, after, ttl)
	if err != nil {
		return nil, false, pgError(err)
	}
	defer rows.Close()
	var out []Event
	n := 0
	want := after + 1
	for rows.Next() {
		var e Event
		var expired bool
		if err := rows.Scan(&top, &e.Seq, &e.Time, &e.Data, &expired); err != nil {
			return nil, false, pgError(err)
		}
		if e.Seq != want {
			if want == after+1 {
				return nil, false, nil // pruned
			}
			return nil, false, fmt.Errorf("models: store: history of %s has event %d where %d belongs", model, e.Seq, want)
		}
		if expired {
			return nil, false, nil
		}
		if n += len(e.Data); maxBytes > 0 && n > maxBytes {
			return nil, false, nil
		}
		out = append(out, e)
		want++
	}
	if err := rows.Err(); err != nil {
		return nil, false, pgError(err)
	}
	// Events committed since the first look are in: the check is against
	// the top of the same snapshot.
	if len(out) == 0 || after < top-int64(s.cfg.History.Size) {
		return nil, false, nil
	}
	if want != top+1 {
		return nil, false, fmt.Errorf("models: store: history of %s ends at %d, its stream at %d", model, want-1, top)
	}
	return out, true, nil
}
