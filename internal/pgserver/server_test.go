package pgserver

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func rows(t *testing.T, url string) int {
	t.Helper()
	var n int
	if err := connect(t, url).QueryRow(t.Context(), "SELECT count(*) FROM kv").Scan(&n); err != nil {
		t.Fatalf("count: %v", err)
	}
	return n
}

// TestServer drives one server through its life: a database, crash
// recovery, terminated sessions, pgbench, and Stop removing everything.
func TestServer(t *testing.T) {
	ctx := t.Context()
	s, err := Start(ctx)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("server log:\n%s", s.Log())
		}
		s.Stop()
	}()
	if s.Port == 0 || !strings.Contains(s.URL, "@127.0.0.1:") {
		t.Fatalf("server %+v", s)
	}
	db, err := s.CreateDB(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	conn := connect(t, db)
	var fsync, sockets, conns string
	if err := conn.QueryRow(ctx, "SELECT current_setting('fsync'), current_setting('unix_socket_directories'), current_setting('max_connections')").Scan(&fsync, &sockets, &conns); err != nil {
		t.Fatal(err)
	}
	if fsync != "on" || sockets != "" || conns != "200" {
		t.Fatalf("fsync %q, unix_socket_directories %q, max_connections %q", fsync, sockets, conns)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE kv (k int PRIMARY KEY); INSERT INTO kv VALUES (1)"); err != nil {
		t.Fatal(err)
	}

	s.Kill()
	if err := conn.Ping(ctx); err == nil {
		t.Fatal("a connection to a killed server still answers")
	}
	port := s.Port
	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Port != port {
		t.Fatalf("port %d after restart, was %d", s.Port, port)
	}
	if n := rows(t, db); n != 1 {
		t.Fatalf("%d rows after crash recovery, want 1", n)
	}

	victim := connect(t, db)
	if n, err := s.TerminateBackends(ctx, "datname = 'app'"); err != nil || n < 1 {
		t.Fatalf("terminated %d backends (%v), want at least 1", n, err)
	}
	if _, err := victim.Exec(ctx, "SELECT 1"); err == nil {
		t.Fatal("a terminated session still answers")
	}

	out, err := s.Pgbench(ctx, "-i", "-s", "1", "-q", "app")
	if err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}

	if err := DropDatabase(ctx, s.URL, "app"); err != nil {
		t.Fatal(err)
	}
	if err := ping(ctx, db); err == nil {
		t.Fatal("a dropped database still answers")
	}

	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after Stop, %s: %v", s.Dir, err)
	}
	if err := ping(ctx, s.URL); err == nil {
		t.Fatal("a stopped server still answers")
	}
}
