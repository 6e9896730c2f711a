package pgserver

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// TerminateBackends ends the client sessions of pg_stat_activity that
// match the SQL condition where (for example "datname = 'app'"), except
// its own, waits up to 10 s for each to exit and returns how many there
// were.
func (s *Server) TerminateBackends(ctx context.Context, where string) (int, error) {
	conn, err := pgx.Connect(ctx, s.URL)
	if err != nil {
		return 0, fmt.Errorf("pgserver: terminate backends: %w", err)
	}
	defer conn.Close(context.Background())
	var n int
	q := "SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND (" + where + ")"
	if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
		return 0, fmt.Errorf("pgserver: terminate backends: %w", err)
	}
	return n, nil
}

// CreateDB creates the database name and returns a URL that reaches it.
func (s *Server) CreateDB(ctx context.Context, name string) (string, error) {
	if err := CreateDatabase(ctx, s.URL, name); err != nil {
		return "", err
	}
	return s.DBURL(name), nil
}

// Pgbench runs the pgbench of the server's installation with args (the
// connection is given by the environment: host, port and user; name the
// database in args) and returns its combined output. ctx ends it.
func (s *Server) Pgbench(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(s.Bin, "pgbench"), args...)
	cmd.Env = append(os.Environ(), "PGHOST=127.0.0.1", "PGPORT="+strconv.Itoa(s.Port), "PGUSER=postgres", "PGSSLMODE=disable")
	return cmd.CombinedOutput()
}

// CreateDatabase creates the database name on the server that admin (a
// URL of a role allowed to create databases) reaches; it need not be one
// this package started.
func CreateDatabase(ctx context.Context, admin, name string) error {
	return adminExec(ctx, admin, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
}

// DropDatabase drops the database name, if it exists, on the server that
// admin reaches, ending the sessions still connected to it.
func DropDatabase(ctx context.Context, admin, name string) error {
	return adminExec(ctx, admin, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
}

func adminExec(ctx context.Context, admin, sql string) error {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return fmt.Errorf("pgserver: connect: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("pgserver: %s: %w", sql, err)
	}
	return nil
}
