package pgtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bertsync/bertsync/internal/pgserver"
)

// adminTimeout bounds the SQL of TerminateBackends and CreateDB.
const adminTimeout = 30 * time.Second

// Server is a PostgreSQL server started by [Start].
type Server struct {
	// URL reaches the "postgres" database as the superuser "postgres",
	// who needs no password from 127.0.0.1.
	URL string
	// Port is the TCP port on 127.0.0.1; it stays the same across Restart.
	Port int
	// Dir is the temporary directory that holds the data directory
	// (Dir/data) and the server's log (Dir/postgres.log).
	Dir string
	// Bin is the directory of the PostgreSQL binaries used.
	Bin string

	srv *pgserver.Server
}

// Start starts a fresh PostgreSQL server for the test (or benchmark): initdb
// into a new temporary directory, as an unprivileged user when the test
// runs as root (uid/gid of "nobody", the directory chowned to it),
// listening on 127.0.0.1 on a free port, no unix socket, fsync on. The
// server is stopped and its directory removed by tb.Cleanup. A missing
// PostgreSQL is fatal.
func Start(tb testing.TB) *Server {
	tb.Helper()
	srv, err := pgserver.Start(context.Background())
	if errors.Is(err, pgserver.ErrNotInstalled) {
		tb.Fatalf("pgtest: %v: run scripts/setup.sh", err)
	}
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(func() {
		if err := srv.Shutdown(); err != nil {
			tb.Errorf("pgtest: %v", err)
		}
		if tb.Failed() {
			tb.Logf("pgtest: server log %s:\n%s", srv.LogPath(), srv.Log())
		}
		if err := srv.Stop(); err != nil {
			tb.Logf("pgtest: %v", err)
		}
	})
	return &Server{URL: srv.URL, Port: srv.Port, Dir: srv.Dir, Bin: srv.Bin, srv: srv}
}

// Stop shuts the server down (fast shutdown: sessions are ended, work in
// progress rolled back, committed work checkpointed) and waits for it. It
// does nothing when the server is not running.
func (s *Server) Stop(tb testing.TB) {
	tb.Helper()
	if err := s.srv.Shutdown(); err != nil {
		tb.Errorf("pgtest: %v", err)
	}
}

// Restart stops the server if it runs and starts it again on the same port
// and data directory. After [Server.Kill] this is crash recovery.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	if err := s.srv.Restart(context.Background()); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
}

// Kill crashes the server: SIGKILL of the postmaster and of every process
// it started, with no shutdown. The caller may then Restart it.
func (s *Server) Kill(tb testing.TB) {
	tb.Helper()
	s.srv.Kill()
}

// TerminateBackends ends the client sessions of pg_stat_activity that
// match the SQL condition where (for example "datname = 'app'"), except
// its own, waits until they have exited and returns how many there were.
func (s *Server) TerminateBackends(tb testing.TB, where string) int {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	n, err := s.srv.TerminateBackends(ctx, where)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	return n
}

// CreateDB creates the database name and returns a URL that reaches it.
func (s *Server) CreateDB(tb testing.TB, name string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	u, err := s.srv.CreateDB(ctx, name)
	if err != nil {
		tb.Fatalf("pgtest: create database %q: %v", name, err)
	}
	return u
}

// Pgbench runs the pgbench of the server's installation with args (the
// connection is given by the environment: host, port and user; name the
// database in args) and returns its combined output.
func (s *Server) Pgbench(tb testing.TB, args ...string) ([]byte, error) {
	tb.Helper()
	return s.srv.Pgbench(context.Background(), args...)
}
