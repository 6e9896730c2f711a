package cluster

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bertsync/bertsync/internal/pgtest"
)

// schema is the part of the store's migration this package uses.
const schema = `
CREATE TABLE IF NOT EXISTS meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS nodes (id text PRIMARY KEY, cluster_addr text NOT NULL, http_addr text NOT NULL,
	started_at timestamptz NOT NULL DEFAULT now(), heartbeat_at timestamptz NOT NULL DEFAULT now());`

// TestPostgres runs the tests that need a database on one server, each
// in a database of its own.
func TestPostgres(t *testing.T) {
	srv := pgtest.Start(t)
	db := func(t *testing.T, name string) *pgxpool.Pool {
		pool, err := pgxpool.New(context.Background(), srv.CreateDB(t, name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		if _, err := pool.Exec(context.Background(), schema); err != nil {
			t.Fatal(err)
		}
		return pool
	}
	t.Run("Membership", func(t *testing.T) { testMembership(t, db(t, "membership")) })
	t.Run("LookupMiss", func(t *testing.T) { testLookupMiss(t, db(t, "miss")) })
	t.Run("Rejoin", func(t *testing.T) { testRejoin(t, db(t, "rejoin")) })
	t.Run("SessionKey", func(t *testing.T) { testSessionKey(t, db(t, "key")) })
}

var fast = Config{Heartbeat: 20 * time.Millisecond, Timeout: 300 * time.Millisecond, Forget: 1500 * time.Millisecond}

func join(t *testing.T, ctx context.Context, pool *pgxpool.Pool, id string, cfg Config) *Membership {
	t.Helper()
	m, err := Join(ctx, pool, Node{ID: id, ClusterAddr: "127.0.0.1:1" + id, HTTPAddr: "127.0.0.1:2" + id}, cfg)
	if err != nil {
		t.Fatalf("Join(%s): %v", id, err)
	}
	t.Cleanup(func() { m.Leave(context.Background()) })
	return m
}

// eventually waits for cond, checking it at each of m's heartbeats.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(fast.Heartbeat)
	}
}

func rowExists(t *testing.T, pool *pgxpool.Pool, id string) bool {
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM nodes WHERE id = $1`, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

func testMembership(t *testing.T, pool *pgxpool.Pool) {
	ctx := context.Background()
	var aView atomic.Int64
	aCfg := fast
	aCfg.OnView = func(alive int) { aView.Store(int64(alive)) }
	a := join(t, ctx, pool, "a", aCfg)
	b := join(t, ctx, pool, "b", fast)
	cctx, crash := context.WithCancel(ctx)
	c := join(t, cctx, pool, "c", fast)

	for _, m := range []*Membership{a, b, c} {
		eventually(t, m.Self().ID+" sees all three", func() bool { return len(m.Live()) == 3 })
	}
	eventually(t, "a's view hook tells of three", func() bool { return aView.Load() == 3 })
	n, ok := a.Lookup(ctx, "b")
	if !ok || n.ClusterAddr != "127.0.0.1:1b" || n.HTTPAddr != "127.0.0.1:2b" || n.StartedAt.IsZero() {
		t.Fatalf("a.Lookup(b) = %+v, %v", n, ok)
	}
	if n, ok := a.Lookup(ctx, "a"); !ok || n.ID != "a" {
		t.Fatalf("a.Lookup(a) = %+v, %v", n, ok)
	}

	// A graceful stop: gone at once, at the others' next heartbeat.
	if err := b.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if rowExists(t, pool, "b") {
		t.Fatal("b's row survived Leave")
	}
	eventually(t, "a sees b gone", func() bool { _, ok := a.Lookup(ctx, "b"); return !ok })
	eventually(t, "a's view hook tells of two", func() bool { return aView.Load() == 2 })
	if _, ok := c.Lookup(ctx, "b"); ok {
		// c refreshes too; give it its heartbeat.
		eventually(t, "c sees b gone", func() bool { _, ok := c.Lookup(ctx, "b"); return !ok })
	}

	// A crash: the heartbeat stops, the row stays, the node is dead
	// after the timeout and its row deleted after Forget.
	crash()
	<-c.Done()
	eventually(t, "a sees c dead", func() bool { _, ok := a.Lookup(ctx, "c"); return !ok })
	// Never before the timeout, by the database's clock.
	var age time.Duration
	if err := pool.QueryRow(ctx, `SELECT now() - heartbeat_at FROM nodes WHERE id = 'c'`).Scan(&age); err != nil {
		t.Fatal(err)
	}
	if age < fast.Timeout {
		t.Errorf("c counted dead %v after its last heartbeat, before the timeout %v", age, fast.Timeout)
	}
	if !rowExists(t, pool, "c") {
		t.Error("c's row was deleted before Forget")
	}
	eventually(t, "c's row is deleted", func() bool { return !rowExists(t, pool, "c") })
	if got := len(a.Live()); got != 1 {
		t.Errorf("a sees %d live nodes, want itself only", got)
	}
}

// testLookupMiss: a node that joined after the latest refresh is found
// by a direct query, and an unknown one is remembered as dead until the
// next refresh.
func testLookupMiss(t *testing.T, pool *pgxpool.Pool) {
	ctx := context.Background()
	slow := Config{Heartbeat: time.Hour, Timeout: 2 * time.Hour}
	a := join(t, ctx, pool, "a", slow)
	join(t, ctx, pool, "late", slow)
	if n, ok := a.Lookup(ctx, "late"); !ok || n.ClusterAddr != "127.0.0.1:1late" {
		t.Fatalf("Lookup(late) = %+v, %v", n, ok)
	}
	if _, ok := a.Lookup(ctx, "nobody"); ok {
		t.Fatal("Lookup(nobody) found a node")
	}
	// Remembered: the row made now is not seen before the next refresh.
	if _, err := pool.Exec(ctx, `INSERT INTO nodes (id, cluster_addr, http_addr) VALUES ('nobody', 'x:1', '')`); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.Lookup(ctx, "nobody"); ok {
		t.Error("an absent node was looked up again before the next refresh")
	}
	if _, ok := a.Lookup(ctx, ""); ok {
		t.Error("Lookup of the empty id found a node")
	}
}

// testRejoin: a node whose row was deleted while it was alive (another
// node saw it dead for long) writes it again.
func testRejoin(t *testing.T, pool *pgxpool.Pool) {
	ctx := context.Background()
	join(t, ctx, pool, "a", fast)
	if _, err := pool.Exec(ctx, `DELETE FROM nodes WHERE id = 'a'`); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a's row is back", func() bool { return rowExists(t, pool, "a") })
	b := join(t, ctx, pool, "b", fast)
	eventually(t, "b sees a", func() bool { _, ok := b.Lookup(ctx, "a"); return ok })
	if _, err := Join(ctx, pool, Node{ID: "x"}, fast); err == nil {
		t.Error("Join without a cluster address succeeded")
	}
	if _, err := Join(ctx, pool, Node{ID: "x", ClusterAddr: "h:1"}, Config{Heartbeat: time.Second, Timeout: time.Second}); err == nil {
		t.Error("Join with a timeout no longer than the heartbeat succeeded")
	}
}

func testSessionKey(t *testing.T, pool *pgxpool.Pool) {
	ctx := context.Background()
	// Nodes starting together make one key between them.
	const n = 8
	keys := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { keys[i], errs[i] = SessionKey(ctx, pool) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if len(keys[i]) != keyBytes || !bytes.Equal(keys[i], keys[0]) {
			t.Fatalf("key %d = %x, key 0 = %x", i, keys[i], keys[0])
		}
	}
	id, err := NewSessionID(keys[0], "a")
	if err != nil {
		t.Fatal(err)
	}
	again, err := SessionKey(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if node, err := ParseSessionID(again, id); err != nil || node != "a" {
		t.Fatalf("an id made with the first key: %q, %v", node, err)
	}
	// One the migration made is used as it is; a broken one is an error.
	if _, err := pool.Exec(ctx, `UPDATE meta SET value = 'zz' WHERE key = 'session_key'`); err != nil {
		t.Fatal(err)
	}
	if _, err := SessionKey(ctx, pool); err == nil {
		t.Error("a malformed session_key was accepted")
	}
}
