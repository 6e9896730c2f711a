package models

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bertsync/bertsync/internal/limits"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultPGMaxConns is the size of a [PGStore]'s connection pool when
// [PGConfig.MaxConns] is zero.
const DefaultPGMaxConns = 16

// pgCommitTimeout bounds one group's transaction, so that a database that
// stops answering without closing the connection fails the group
// (unavailable) instead of holding the committer for ever.
const pgCommitTimeout = 30 * time.Second

// PGConfig configures [OpenPostgres].
type PGConfig struct {
	StoreConfig
	// Node is this node's id: the events it commits are marked with it,
	// so that each node tells its own from those of the others. "" means
	// a random one.
	Node string
	// MaxConns bounds the connection pool; zero means DefaultPGMaxConns.
	MaxConns int32
}

// PGStore is the store of many nodes: a PostgreSQL database that any
// number of bertsync processes share. It keeps what [Store] keeps (the
// documents, in creation order; the streams, their Seq, epoch and
// history) in the tables of pg_schema.go, and is a [DocumentStore].
//
// Writes go through one committer per PGStore (group commit, as for
// [Store]): the writes queued while a transaction commits share the
// next. The Seq of an event is taken in its write's transaction from
// the type's row (UPDATE types SET seq = seq + 1), whose lock is held
// until the commit: for each type, the commit order is the Seq order on
// every node. Every transaction that appends events notifies the channel
// bertsync_events with the type's name, once per type.
//
// A lost connection, a database restart or a terminated backend is
// [ErrUnavailable]; the pool reconnects by itself. A write whose commit
// was sent and never answered is reported unavailable too, though it may
// have committed: it is never run again by the store.
//
// A PGStore is safe for concurrent use.
type PGStore struct {
	pool  *pgxpool.Pool
	cfg   PGConfig
	node  string
	epoch string
	// now is the clock of the history's TTL; tests replace it.
	now func() time.Time

	commits *committer
	// ctx is cancelled by Close, after the committer has ended: it ends
	// what reads are still running.
	ctx       context.Context
	cancel    context.CancelFunc
	closing   atomic.Bool
	closeOnce sync.Once
}

// OpenPostgres connects to the PostgreSQL database at url (postgres:// or
// postgresql://), creates or migrates its tables, and returns the store.
// Many processes may open one database at the same time.
func OpenPostgres(ctx context.Context, url string, cfg PGConfig) (*PGStore, error) {
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("models: open postgres: %w", err)
	}
	// Not positive: the default (a pool needs a bound).
	pcfg.MaxConns = DefaultPGMaxConns
	if cfg.MaxConns > 0 {
		pcfg.MaxConns = cfg.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("models: open postgres: %w", pgError(err))
	}
	if cfg.Node == "" {
		cfg.Node = newEpoch()
	}
	cfg.History = cfg.History.resolved()
	cfg.MaxTypes = limits.Resolve(cfg.MaxTypes, DefaultMaxTypes)
	s := &PGStore{pool: pool, cfg: cfg, node: cfg.Node, now: time.Now}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("models: open postgres: %w", err)
	}
	if s.epoch, err = s.loadMeta(ctx, "epoch", newEpoch); err != nil {
		pool.Close()
		return nil, fmt.Errorf("models: open postgres: %w", err)
	}
	if cfg.ObserveHistory != nil {
		if err := s.observeHistoryAtOpen(ctx); err != nil {
			pool.Close()
			return nil, fmt.Errorf("models: open postgres: %w", err)
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.commits = newCommitter(s, cfg.ObserveCommit)
	return s, nil
}

// Node returns the id of this node.
func (s *PGStore) Node() string { return s.node }

// Pool returns the store's connection pool, for what else keeps its
// state in the same database (the cluster's nodes, the uploaded files).
func (s *PGStore) Pool() *pgxpool.Pool { return s.pool }

// Shared reports that other processes write the same streams: a model
// actor then learns of events it did not append, and merges them in Seq
// order.
func (s *PGStore) Shared() bool { return true }

// Ready reports whether the database answers.
func (s *PGStore) Ready(ctx context.Context) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, "SELECT 1")
	return pgError(err)
}

// Close waits for the commit in progress, refuses the writes still
// queued and closes the pool. Operations after Close fail with
// [ErrUnavailable]. Close may be called more than once.
func (s *PGStore) Close() error {
	s.closeOnce.Do(func() {
		s.closing.Store(true)
		s.commits.close()
		s.cancel()
		s.pool.Close()
	})
	return nil
}

// usable is the check before each read: the store is open and ctx alive.
func (s *PGStore) usable(ctx context.Context) error {
	if s.closing.Load() {
		return Errorf(CodeUnavailable, "store closed")
	}
	if err := ctx.Err(); err != nil {
		return Errorf(CodeUnavailable, "store: %w", err)
	}
	return nil
}

// loadMeta returns the value of key in the meta table, storing make()'s
// if there is none: the first node to ask chooses it for all of them.
func (s *PGStore) loadMeta(ctx context.Context, key string, make func() string) (string, error) {
	if _, err := s.pool.Exec(ctx, "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING", key, make()); err != nil {
		return "", pgError(err)
	}
	var v string
	err := s.pool.QueryRow(ctx, "SELECT value FROM meta WHERE key = $1", key).Scan(&v)
	return v, pgError(err)
}

func (s *PGStore) observeHistoryAtOpen(ctx context.Context) error {
	rows, err := s.pool.Query(ctx, "SELECT model, count(*) FROM events GROUP BY model")
	if err != nil {
		return pgError(err)
	}
	defer rows.Close()
	for rows.Next() {
		var model string
		var n int
		if err := rows.Scan(&model, &n); err != nil {
			return pgError(err)
		}
		s.cfg.ObserveHistory(model, n)
	}
	return pgError(rows.Err())
}

// errNotText refuses a model name or id that a text column cannot hold.
var errNotText = errors.New("not valid UTF-8 without NUL")
