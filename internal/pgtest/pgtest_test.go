package pgtest

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func count(t *testing.T, url string) int {
	t.Helper()
	conn := connect(t, url)
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM kv").Scan(&n); err != nil {
		t.Fatalf("count: %v", err)
	}
	return n
}

func TestServer(t *testing.T) {
	s := Start(t)
	ctx := context.Background()
	if s.Port == 0 || !strings.Contains(s.URL, "127.0.0.1:") {
		t.Fatalf("server %+v", s)
	}
	if _, err := os.Stat(s.Dir); err != nil {
		t.Fatal(err)
	}

	db := s.CreateDB(t, "app")
	conn := connect(t, db)
	var settings [3]string
	if err := conn.QueryRow(ctx, "SELECT current_setting('fsync'), current_setting('unix_socket_directories'), current_setting('max_connections')").
		Scan(&settings[0], &settings[1], &settings[2]); err != nil {
		t.Fatal(err)
	}
	if settings != [3]string{"on", "", "200"} {
		t.Fatalf("settings %q", settings)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE kv (k int PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO kv VALUES (1)"); err != nil {
		t.Fatal(err)
	}

	t.Run("restart keeps data", func(t *testing.T) {
		port := s.Port
		s.Restart(t)
		if s.Port != port {
			t.Fatalf("port %d after restart, was %d", s.Port, port)
		}
		if n := count(t, db); n != 1 {
			t.Fatalf("%d rows after restart, want 1", n)
		}
	})

	t.Run("kill and restart recovers committed data", func(t *testing.T) {
		c := connect(t, db)
		if _, err := c.Exec(ctx, "INSERT INTO kv VALUES (2)"); err != nil {
			t.Fatal(err)
		}
		s.Kill(t)
		if err := c.Ping(ctx); err == nil {
			t.Fatal("a connection to a killed server still answers")
		}
		s.Restart(t)
		if n := count(t, db); n != 2 {
			t.Fatalf("%d rows after crash recovery, want 2", n)
		}
	})

	t.Run("terminate backends", func(t *testing.T) {
		c := connect(t, db)
		other := connect(t, s.URL) // the postgres database: not matched
		if n := s.TerminateBackends(t, "datname = 'app'"); n < 1 {
			t.Fatalf("terminated %d backends, want at least 1", n)
		}
		_, err := c.Exec(ctx, "SELECT 1")
		var pgErr *pgconn.PgError
		if err == nil || (errors.As(err, &pgErr) && pgErr.Code != "57P01") {
			t.Fatalf("a terminated session answers: %v", err)
		}
		if err := other.Ping(ctx); err != nil {
			t.Fatalf("a session not matched was ended: %v", err)
		}
		if n := count(t, db); n != 2 {
			t.Fatalf("%d rows, want 2", n)
		}
	})

	t.Run("pgbench", func(t *testing.T) {
		out, err := s.Pgbench(t, "-i", "-s", "1", "-q", "app")
		if err != nil {
			t.Fatalf("pgbench -i: %v\n%s", err, out)
		}
	})

	s.Stop(t)
	if err := conn.Ping(ctx); err == nil {
		t.Fatal("a connection to a stopped server still answers")
	}
}
