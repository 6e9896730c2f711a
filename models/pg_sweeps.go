package models

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// The nodes of one database share one sweep of the files: a sweep reads
// every document, so each node sweeping on its own would read them all
// once per node. One node sweeps at a time, under an advisory lock, and
// only when no sweep began within the sweep interval; the others learn
// from the database when a round of sweeps over every file ended, which
// is what their upload quotas wait for (the gateway's filegc.go and
// uploadquota.go).

// The meta rows of the sweep: when the latest sweep began, and the
// cutoff of the latest round of sweeps that ended, which pgCutoffLayout
// writes in a fixed width so that the text order is the time order.
const (
	pgSweepBeganKey  = "files_sweep_began"
	pgSweptBeforeKey = "files_swept_before"
	pgCutoffLayout   = "2006-01-02T15:04:05.000000000Z"
)

// pgUnlockTimeout bounds the unlock after a sweep whose context ended.
const pgUnlockTimeout = 5 * time.Second

// LeadSweep runs sweep unless another node of the database runs one or
// began one less than every ago (by the database's clock), and reports
// whether it ran: so, whenever each node's turn comes, the nodes
// together sweep about once in every. It holds a session advisory lock
// meanwhile, on a connection of the pool kept for it, so that a node that
// dies lets go of the lock with its connection.
func (p *PGFiles) LeadSweep(ctx context.Context, every time.Duration, sweep func(context.Context) error) (led bool, err error) {
	conn, err := p.pool.Acquire(ctx)
	if err != nil {
		return false, errFilesUnavailable("locking the sweep", err)
	}
	defer conn.Release()
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, int64(pgSweepLock)).Scan(&led); err != nil {
		return false, errFilesUnavailable("locking the sweep", err)
	}
	if !led {
		return false, nil
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pgUnlockTimeout)
		defer cancel()
		if _, uerr := conn.Exec(uctx, `SELECT pg_advisory_unlock($1)`, int64(pgSweepLock)); uerr != nil {
			// The connection may still hold the lock: it must not go
			// back to the pool. The pool drops a closed connection.
			conn.Conn().Close(uctx)
		}
	}()
	// The start of the latest sweep, in seconds since the epoch, moves
	// to now only if it is at least every old.
	var began bool
	err = conn.QueryRow(ctx, `INSERT INTO meta (key, value) VALUES ($1, extract(epoch FROM clock_timestamp())::text)
		ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value
		WHERE meta.value::numeric <= extract(epoch FROM clock_timestamp()) - $2
		RETURNING true`, pgSweepBeganKey, every.Seconds()).Scan(&began)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, errFilesUnavailable("starting the sweep", err)
	}
	return true, sweep(ctx)
}

// EndRound records that a round of sweeps over every file ended, one
// that began with cutoff: every file stored before cutoff was examined.
// A cutoff before the recorded one is ignored.
func (p *PGFiles) EndRound(ctx context.Context, cutoff time.Time) error {
	_, err := p.pool.Exec(ctx, `INSERT INTO meta (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value WHERE meta.value < EXCLUDED.value`,
		pgSweptBeforeKey, cutoff.UTC().Format(pgCutoffLayout))
	if err != nil {
		return errFilesUnavailable("recording the sweep", err)
	}
	return nil
}

// SweptBefore returns the cutoff of the latest round of sweeps that
// ended on any node (EndRound), or the zero time if none has.
func (p *PGFiles) SweptBefore(ctx context.Context) (time.Time, error) {
	var v string
	err := p.pool.QueryRow(ctx, `SELECT value FROM meta WHERE key = $1`, pgSweptBeforeKey).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, errFilesUnavailable("reading the sweep", err)
	}
	t, err := time.Parse(pgCutoffLayout, v)
	if err != nil {
		return time.Time{}, Errorf(CodeInternal, "the database's %s %q: %w", pgSweptBeforeKey, v, err)
	}
	return t, nil
}
