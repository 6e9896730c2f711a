package models

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// The schema of a [PGStore], made and changed by versioned migrations:
// migration i (from 1) is pgMigrations[i-1], applied once, in order,
// each recorded in bertsync_migrations. A node that starts runs the ones
// its database lacks, all in one transaction under an advisory lock, so
// that nodes starting together neither race nor see half a schema. A
// migration, once released, is never edited: a change is a new one.
//
//	meta         key/value: "epoch", the epoch of every stream (made once,
//	             by the first node), "session_key" (internal/cluster's),
//	             "files_sweep_began" and "files_swept_before"
//	             (pg_sweeps.go)
//	types        a row per model type: seq, the Seq of its latest event;
//	             next_ord, the last place given in its documents' order
//	docs         a document: its place (ord) in its type's creation order
//	             and its attributes, the BERT list [{Key, Value}, ...] of
//	             binaries and values as they came, encoded with the
//	             bert.Erlang profile (lossless, as in the bbolt store)
//	events       a type's history: each event's Seq, the node that
//	             committed it, when, and its push message
//	nodes        the live nodes (internal/cluster)
//	files        uploaded files and their chunks (pg_files.go)
//
// Model names and ids are text in the "C" collation: they sort bytewise,
// as the bbolt store's keys do.
var pgMigrations = []string{
	1: `
CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE types (
	model text COLLATE "C" PRIMARY KEY,
	seq bigint NOT NULL DEFAULT 0,
	next_ord bigint NOT NULL DEFAULT 0
);
CREATE TABLE docs (
	model text COLLATE "C" NOT NULL,
	id text COLLATE "C" NOT NULL,
	ord bigint NOT NULL,
	attrs bytea NOT NULL,
	PRIMARY KEY (model, id)
);
CREATE UNIQUE INDEX docs_order ON docs (model, ord);
CREATE TABLE events (
	model text COLLATE "C" NOT NULL,
	seq bigint NOT NULL,
	node text NOT NULL,
	at timestamptz NOT NULL,
	data bytea NOT NULL,
	PRIMARY KEY (model, seq)
);
CREATE TABLE nodes (
	id text PRIMARY KEY,
	cluster_addr text NOT NULL,
	http_addr text NOT NULL,
	started_at timestamptz NOT NULL DEFAULT now(),
	heartbeat_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE files (
	sum text PRIMARY KEY,
	media_type text NOT NULL,
	size bigint NOT NULL,
	pinned boolean NOT NULL DEFAULT false,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE file_chunks (
	sum text NOT NULL REFERENCES files (sum) ON DELETE CASCADE,
	n integer NOT NULL,
	data bytea NOT NULL,
	PRIMARY KEY (sum, n)
);
`,
}[1:]

// pgMigrateLock is the key of the advisory lock that serializes the
// migrations of the nodes of one database; pgTypesLock, that of the
// creation of model types (pg_tx.go); pgSweepLock, that of the node
// that sweeps the files (pg_sweeps.go). Arbitrary, fixed: "bertsync",
// "types" and "sweep" in ASCII.
const (
	pgMigrateLock = 0x6265727473796e63
	pgTypesLock   = 0x7479706573
	pgSweepLock   = 0x7377656570
)

// migrate applies the migrations the database lacks.
func (s *PGStore) migrate(ctx context.Context) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(pgMigrateLock)); err != nil {
			return pgError(err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS bertsync_migrations (
	version int PRIMARY KEY,
	applied_at timestamptz NOT NULL DEFAULT now()
)`); err != nil {
			return pgError(err)
		}
		var version int
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM bertsync_migrations").Scan(&version); err != nil {
			return pgError(err)
		}
		if version > len(pgMigrations) {
			return fmt.Errorf("the database's schema is version %d, newer than this bertsync's %d", version, len(pgMigrations))
		}
		for v := version + 1; v <= len(pgMigrations); v++ {
			if _, err := tx.Exec(ctx, pgMigrations[v-1]); err != nil {
				return fmt.Errorf("migration %d: %w", v, pgError(err))
			}
			if _, err := tx.Exec(ctx, "INSERT INTO bertsync_migrations (version) VALUES ($1)", v); err != nil {
				return fmt.Errorf("migration %d: %w", v, pgError(err))
			}
		}
		return nil
	})
}
