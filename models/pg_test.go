package models

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bertsync/bertsync/internal/pgtest"
)

// pgBackend makes each place a new database of srv.
func pgBackend(srv *pgtest.Server) storeBackend {
	var n atomic.Int64
	return func(t *testing.T) storePlace {
		url := srv.CreateDB(t, fmt.Sprintf("conform_%d", n.Add(1)))
		return storePlace{
			open: func(t *testing.T, cfg StoreConfig) conformanceStore {
				return openPG(t, url, PGConfig{StoreConfig: cfg})
			},
			age: func(t *testing.T, s conformanceStore, d time.Duration) {
				if _, err := s.(*PGStore).Pool().Exec(context.Background(), "UPDATE events SET at = at - $1::interval", d); err != nil {
					t.Fatal(err)
				}
			},
		}
	}
}

func openPG(t *testing.T, url string, cfg PGConfig) *PGStore {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := OpenPostgres(ctx, url, cfg)
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestPostgresStore runs the conformance suite and the checks of what
// only a shared store does on one PostgreSQL server.
func TestPostgresStore(t *testing.T) {
	srv := pgtest.Start(t)
	t.Run("Conformance", func(t *testing.T) { runConformance(t, pgBackend(srv)) })
	t.Run("TwoNodes", func(t *testing.T) { testPGTwoNodes(t, srv) })
	t.Run("LockOrder", func(t *testing.T) { testPGLockOrder(t, srv) })
	t.Run("TerminatedBackends", func(t *testing.T) { testPGTerminated(t, srv) })
	t.Run("Schema", func(t *testing.T) { testPGSchema(t, srv) })
}

// testPGTwoNodes: two stores on one database (two nodes) appending to
// one type at once get unique, gapless Seqs, and the committed events
// are at every moment the Seqs 1..top: the commit order is the Seq order.
func testPGTwoNodes(t *testing.T, srv *pgtest.Server) {
	ctx := context.Background()
	url := srv.CreateDB(t, "two_nodes")
	nodes := []*PGStore{
		openPG(t, url, PGConfig{Node: "n1"}),
		openPG(t, url, PGConfig{Node: "n2"}),
	}
	if nodes[0].Node() != "n1" || !nodes[0].Shared() {
		t.Fatalf("Node %q Shared %v", nodes[0].Node(), nodes[0].Shared())
	}
	if p0, _ := nodes[0].Position(ctx, "t"); p0.Epoch != nodes[1].epoch {
		t.Fatalf("epochs %q and %q: one database has one", p0.Epoch, nodes[1].epoch)
	}
	const writers, perWriter = 8, 40
	var mu sync.Mutex
	seqs := make(map[int64]string)
	stop := make(chan struct{})
	watchErr := make(chan error, 1)
	go func() {
		// Each look is one statement, one snapshot: the events committed
		// then must be 1..max with the type's top at max.
		var looks int
		defer func() { watchErr <- nil }()
		for {
			select {
			case <-stop:
				if looks == 0 {
					watchErr <- fmt.Errorf("no look taken")
				}
				return
			default:
			}
			var n, maxSeq, top int64
			err := nodes[0].Pool().QueryRow(ctx, `SELECT count(*), coalesce(max(seq), 0), (SELECT coalesce(max(seq), 0) FROM types WHERE model = 't') FROM events WHERE model = 't'`).Scan(&n, &maxSeq, &top)
			if err != nil {
				watchErr <- err
				return
			}
			if n != maxSeq || top != maxSeq {
				watchErr <- fmt.Errorf("a snapshot holds %d events, the highest Seq %d, the top %d", n, maxSeq, top)
				return
			}
			looks++
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			node := nodes[w%2]
			for range perWriter {
				var seq int64
				if err := node.Commit(ctx, []Write{appendEvent("t", &seq)})[0]; err != nil {
					errs <- err
					return
				}
				mu.Lock()
				if prev, dup := seqs[seq]; dup {
					errs <- fmt.Errorf("Seq %d given twice (%s and %s)", seq, prev, node.Node())
				}
				seqs[seq] = node.Node()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(stop)
	if err := <-watchErr; err != nil {
		t.Fatal(err)
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for seq := int64(1); seq <= writers*perWriter; seq++ {
		if _, ok := seqs[seq]; !ok {
			t.Fatalf("Seq %d missing of %d", seq, writers*perWriter)
		}
	}
	// Each event names the node that committed it.
	var byOther int
	if err := nodes[0].Pool().QueryRow(ctx, "SELECT count(*) FROM events WHERE model = 't' AND node = 'n2'").Scan(&byOther); err != nil || byOther != writers*perWriter/2 {
		t.Fatalf("events of n2: %d, %v; want %d", byOther, err, writers*perWriter/2)
	}
	wantSince(t, nodes[1], "t", writers*perWriter-3, 0, true, writers*perWriter-2, writers*perWriter-1, writers*perWriter)
}

// testPGTerminated: a backend terminated in the middle of a group's
// transaction fails it as unavailable, and nothing of it commits; the
// store then works again.
func testPGTerminated(t *testing.T, srv *pgtest.Server) {
	ctx := context.Background()
	url := srv.CreateDB(t, "terminated")
	s := openPG(t, url, PGConfig{})
	appendN(t, s, "a", 1)
	inTx := make(chan struct{})
	resume := make(chan struct{})
	var once sync.Once
	done := make(chan []error, 1)
	var seq1, seq2 int64
	s.Submit(ctx, []Write{
		appendEvent("a", &seq1),
		func(tx Tx) error {
			once.Do(func() { close(inTx); <-resume })
			return appendEvent("a", &seq2)(tx)
		},
	}, func(errs []error) { done <- errs })
	<-inTx
	if n := srv.TerminateBackends(t, "datname = 'terminated'"); n == 0 {
		t.Fatal("no backend terminated")
	}
	close(resume)
	errs := <-done
	for i, err := range errs {
		wantCode(t, fmt.Sprintf("write %d in a terminated transaction", i), err, CodeUnavailable)
	}
	// The pool drops the dead connections; the next writes commit.
	var seq int64
	for attempt := 0; ; attempt++ {
		err := s.Commit(ctx, []Write{appendEvent("a", &seq)})[0]
		if err == nil {
			break
		}
		wantCode(t, "a write after the termination", err, CodeUnavailable)
		if attempt == 3 {
			t.Fatalf("no write commits after a termination: %v", err)
		}
	}
	if seq != 2 {
		t.Fatalf("Seq after the failed group = %d, want 2", seq)
	}
	wantSince(t, s, "a", 0, 0, true, 1, 2)
	if err := s.Ready(ctx); err != nil {
		t.Fatalf("Ready: %v", err)
	}
}

// testPGSchema: the migrations run once however many nodes open the
// database together, and the epoch is made once.
func testPGSchema(t *testing.T, srv *pgtest.Server) {
	url := srv.CreateDB(t, "schema")
	const n = 4
	stores := make([]*PGStore, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			stores[i], errs[i] = OpenPostgres(context.Background(), url, PGConfig{})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		t.Cleanup(func() { stores[i].Close() })
		if stores[i].epoch != stores[0].epoch {
			t.Fatalf("node %d has epoch %q, node 0 %q", i, stores[i].epoch, stores[0].epoch)
		}
		if stores[i].Node() == stores[0].Node() && i > 0 {
			t.Fatalf("nodes 0 and %d have one id %q", i, stores[i].Node())
		}
	}
	var versions int
	if err := stores[0].Pool().QueryRow(context.Background(), "SELECT count(*) FROM bertsync_migrations").Scan(&versions); err != nil || versions != len(pgMigrations) {
		t.Fatalf("migrations recorded: %d, %v; want %d", versions, err, len(pgMigrations))
	}
}

// testPGLockOrder: two nodes commit, at once and over and over, groups
// that write to the same types in opposite orders, documents and events,
// new types among them. Every write commits, and quickly: without the
// rows taken in name order (pg_locks.go) they deadlock, and PostgreSQL
// breaks each deadlock only after a second, failing writes with
// unavailable once its reruns are spent.
func testPGLockOrder(t *testing.T, srv *pgtest.Server) {
	ctx := context.Background()
	url := srv.CreateDB(t, "lock_order")
	nodes := []*PGStore{
		openPG(t, url, PGConfig{Node: "n1"}),
		openPG(t, url, PGConfig{Node: "n2"}),
	}
	types := []string{"a", "b", "c", "d"}
	const rounds = 60
	var wg sync.WaitGroup
	errs := make(chan error, 2*rounds)
	start := time.Now()
	for n, node := range nodes {
		wg.Go(func() {
			for r := range rounds {
				order := slices.Clone(types)
				if n == 1 {
					slices.Reverse(order)
				}
				if r%10 == 0 {
					// A new type in the middle: the lock that makes types
					// is taken while rows are held.
					order = slices.Insert(order, 2, fmt.Sprintf("new%d-%d", n, r))
				}
				var writes []Write
				for i, model := range order {
					id := fmt.Sprintf("n%d-r%d-%d", n, r, i)
					var seq int64
					writes = append(writes, func(tx Tx) error {
						if _, err := tx.(docTx).insert(model, id, Props{{Key: "r", Value: int64(r)}}, -1, nil); err != nil {
							return err
						}
						return appendEvent(model, &seq)(tx)
					})
				}
				for i, err := range node.Commit(ctx, writes) {
					if err != nil {
						errs <- fmt.Errorf("node %d round %d write %d (%s): %w", n+1, r, i, order[i], err)
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, model := range types {
		pos, err := nodes[0].Position(ctx, model)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := nodes[1].Count(ctx, model); err != nil || int64(n) != pos.Seq || n != 2*rounds {
			t.Fatalf("%s: %d documents (%v) and Seq %d, want %d of each", model, n, err, pos.Seq, 2*rounds)
		}
	}
	t.Logf("%d groups of opposite lock orders in %v", 2*rounds, time.Since(start))
}
