package pgtest

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func ping(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.Ping(ctx)
}

func rows(t *testing.T, url string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM kv").Scan(&n); err != nil {
		t.Fatalf("count: %v", err)
	}
	return n
}

// TestServer checks what pgtest adds to internal/pgserver, whose own test
// drives the server through crashes, terminated sessions and pgbench:
// Stop keeps the data for a Restart, and the test's cleanup stops the
// server and removes its directory.
func TestServer(t *testing.T) {
	var s *Server
	var db string
	t.Run("life", func(t *testing.T) {
		s = Start(t)
		db = s.CreateDB(t, "app")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		_, err = conn.Exec(ctx, "CREATE TABLE kv (k int PRIMARY KEY); INSERT INTO kv VALUES (1)")
		conn.Close(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		s.Stop(t)
		if err := ping(db); err == nil {
			t.Fatal("a stopped server still answers")
		}
		port := s.Port
		s.Restart(t)
		if s.Port != port {
			t.Fatalf("port %d after restart, was %d", s.Port, port)
		}
		if n := rows(t, db); n != 1 {
			t.Fatalf("%d rows after Stop and Restart, want 1", n)
		}
	})
	if _, err := os.Stat(s.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after the test's cleanup, %s: %v", s.Dir, err)
	}
	if err := ping(db); err == nil {
		t.Fatal("the server still answers after the test's cleanup")
	}
}
