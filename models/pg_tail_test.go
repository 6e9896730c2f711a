package models

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bertsync/bertsync/internal/pgtest"
)

// tailWait bounds every wait of these tests for something the tailer does.
const tailWait = 30 * time.Second

// tailNever is a Poll that never comes within a test, so that only
// notifications and reconnects can deliver.
const tailNever = time.Hour

// tailDB creates the database name on srv with the store's tables, and
// returns its URL and a pool on it.
func tailDB(tb testing.TB, srv *pgtest.Server, name string) (string, *pgxpool.Pool) {
	tb.Helper()
	url := srv.CreateDB(tb, name)
	s := openTailStore(tb, url, PGConfig{Node: "schema"})
	return url, s.Pool()
}

// TestTail runs the tailer's tests on one PostgreSQL server, each in a
// database of its own.
func TestTail(t *testing.T) {
	srv := pgtest.Start(t)
	for _, tt := range []struct {
		name string
		test func(*testing.T, *pgtest.Server)
	}{
		{"DeliversForeignEventsInOrder", testTailDeliversForeignEventsInOrder},
		{"StartsFromItsStart", testTailStartsFromItsStart},
		{"TerminatedListener", testTailTerminatedListener},
		{"PollFindsUnnotifiedEvents", testTailPollFindsUnnotifiedEvents},
		{"ReportsPrunedGap", testTailReportsPrunedGap},
		{"PollReportsPrunedGap", testTailPollReportsPrunedGap},
		{"PGStore", testTailPGStore},
		{"EndsWithStore", testTailEndsWithStore},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.test(t, srv)
		})
	}
}

// terminateTail ends the tailer connections to the database name.
func terminateTail(t *testing.T, srv *pgtest.Server, name string) int {
	t.Helper()
	return srv.TerminateBackends(t, "datname = '"+name+"' AND application_name = '"+tailAppName+"'")
}

func openTailStore(tb testing.TB, url string, cfg PGConfig) *PGStore {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), tailWait)
	defer cancel()
	s, err := OpenPostgres(ctx, url, cfg)
	if err != nil {
		tb.Fatalf("OpenPostgres: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// appendEvents appends n events of model committed by node in one
// transaction, as a store does (Seq from the types row, under its lock),
// notifying the tailers when notify is set, and returns their Seqs. Each
// event's data is "node/seq".
func appendEvents(ctx context.Context, pool *pgxpool.Pool, model, node string, n int, notify bool) ([]int64, error) {
	var seqs []int64
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) (err error) {
		if seqs, err = appendEventsTx(ctx, tx, model, n, func(int64) string { return node }); err != nil {
			return err
		}
		return notifyTx(ctx, tx, model, notify)
	})
	return seqs, err
}

// appendEventsTx appends n events of model in tx, each committed by the
// node nodeOf gives its Seq, and returns their Seqs.
func appendEventsTx(ctx context.Context, tx pgx.Tx, model string, n int, nodeOf func(seq int64) string) ([]int64, error) {
	seqs := make([]int64, 0, n)
	for range n {
		var seq int64
		err := tx.QueryRow(ctx, `INSERT INTO types (model, seq) VALUES ($1, 1)
			ON CONFLICT (model) DO UPDATE SET seq = types.seq + 1 RETURNING seq`, model).Scan(&seq)
		if err != nil {
			return nil, err
		}
		node := nodeOf(seq)
		_, err = tx.Exec(ctx, `INSERT INTO events (model, seq, node, at, data) VALUES ($1, $2, $3, now(), $4)`,
			model, seq, node, eventData(node, seq))
		if err != nil {
			return nil, err
		}
		seqs = append(seqs, seq)
	}
	return seqs, nil
}

// notifyTx wakes the tailers of model when notify is set.
func notifyTx(ctx context.Context, tx pgx.Tx, model string, notify bool) error {
	if !notify {
		return nil
	}
	_, err := tx.Exec(ctx, "SELECT pg_notify('bertsync_events', $1)", model)
	return err
}

func eventData(node string, seq int64) []byte { return fmt.Appendf(nil, "%s/%d", node, seq) }

func mustAppend(tb testing.TB, pool *pgxpool.Pool, model, node string, n int, notify bool) []int64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), tailWait)
	defer cancel()
	seqs, err := appendEvents(ctx, pool, model, node, n, notify)
	if err != nil {
		tb.Fatalf("append %d events of %q: %v", n, model, err)
	}
	return seqs
}

// committed returns the Seqs of the events of model by node in the table,
// after after.
func committed(tb testing.TB, pool *pgxpool.Pool, model, node string, after int64) []int64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), tailWait)
	defer cancel()
	rows, _ := pool.Query(ctx, "SELECT seq FROM events WHERE model = $1 AND node = $2 AND seq > $3 ORDER BY seq", model, node, after)
	seqs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		tb.Fatal(err)
	}
	return seqs
}

// tailCall is one call of a TailFunc.
type tailCall struct {
	model string
	seqs  []int64
	lost  int64
}

// tailRecorder runs a tailer and records what it does, for tests to wait on.
type tailRecorder struct {
	tb      testing.TB
	changed chan struct{} // signalled after every change below

	mu          sync.Mutex
	calls       []tailCall
	events      map[string][]Event
	syncs       int
	disconnects int
}

// startTail runs tailEvents for node self until the test ends.
func startTail(tb testing.TB, pool *pgxpool.Pool, self string, cfg tailConfig) *tailRecorder {
	tb.Helper()
	r := &tailRecorder{tb: tb, changed: make(chan struct{}, 1), events: make(map[string][]Event)}
	onSync, onDisconnect := cfg.onSync, cfg.onDisconnect
	cfg.onSync = func() {
		r.update(func() { r.syncs++ })
		if onSync != nil {
			onSync()
		}
	}
	cfg.onDisconnect = func(err error) {
		r.update(func() { r.disconnects++ })
		if onDisconnect != nil {
			onDisconnect(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- tailEvents(ctx, pool, self, cfg, func(model string, events []Event, lost int64) {
			call := tailCall{model: model, lost: lost}
			for _, e := range events {
				call.seqs = append(call.seqs, e.Seq)
			}
			r.update(func() {
				r.calls = append(r.calls, call)
				r.events[model] = append(r.events[model], events...)
			})
		})
	}()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			tb.Errorf("tailEvents returned %v, want context.Canceled", err)
		}
	})
	return r
}

func (r *tailRecorder) update(f func()) {
	r.mu.Lock()
	f()
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// waitFor waits until cond, run under the recorder's lock, holds.
func (r *tailRecorder) waitFor(what string, cond func() bool) {
	r.tb.Helper()
	timeout := time.After(tailWait)
	for {
		r.mu.Lock()
		ok := cond()
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.changed:
		case <-timeout:
			r.mu.Lock()
			defer r.mu.Unlock()
			r.tb.Fatalf("waited %v for %s; calls: %v", tailWait, what, r.calls)
		}
	}
}

func (r *tailRecorder) waitSyncs(n int) {
	r.tb.Helper()
	r.waitFor(fmt.Sprintf("sync %d", n), func() bool { return r.syncs >= n })
}

// waitSeq waits until an event of model with Seq seq or above was delivered.
func (r *tailRecorder) waitSeq(model string, seq int64) {
	r.tb.Helper()
	r.waitFor(fmt.Sprintf("%s seq %d", model, seq), func() bool {
		ev := r.events[model]
		return len(ev) > 0 && ev[len(ev)-1].Seq >= seq
	})
}

// delivered returns the Seqs of model delivered so far.
func (r *tailRecorder) delivered(model string) []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var seqs []int64
	for _, e := range r.events[model] {
		seqs = append(seqs, e.Seq)
	}
	return seqs
}

// checkEvents checks that the events of model delivered are exactly the
// events with the Seqs want, in order, with their data, none of them by
// the tailer's node "a", and that no loss was reported.
func (r *tailRecorder) checkEvents(model string, want []int64) {
	r.tb.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var got []int64
	for _, e := range r.events[model] {
		got = append(got, e.Seq)
		node, seq, ok := strings.Cut(string(e.Data), "/")
		if !ok || node == "a" || seq != strconv.FormatInt(e.Seq, 10) {
			r.tb.Errorf("%s seq %d: data %q", model, e.Seq, e.Data)
		}
		if e.Time.IsZero() || time.Since(e.Time) > time.Hour {
			r.tb.Errorf("%s seq %d: time %v", model, e.Seq, e.Time)
		}
	}
	if !slices.Equal(got, want) {
		r.tb.Errorf("%s: delivered seqs\n%v\nwant\n%v", model, got, want)
	}
	for _, c := range r.calls {
		if c.lost != 0 {
			r.tb.Errorf("%s: lost through %d reported", c.model, c.lost)
		}
	}
}

func seqRange(from, to int64) []int64 {
	var s []int64
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

func testTailDeliversForeignEventsInOrder(t *testing.T, srv *pgtest.Server) {
	_, pool := tailDB(t, srv, "deliver")
	// Events before the tailer starts are history, not delivered.
	mustAppend(t, pool, "chat", "b", 3, true)
	mustAppend(t, pool, "room", "a", 2, true)
	// A small batch makes catching up take several reads.
	r := startTail(t, pool, "a", tailConfig{Poll: tailNever, Batch: 4})
	r.waitSyncs(1)

	var chat, room, fresh []int64
	for i := range 10 {
		chat = append(chat, mustAppend(t, pool, "chat", "b", 2, true)...)
		mustAppend(t, pool, "chat", "a", 1, true)
		room = append(room, mustAppend(t, pool, "room", "c", 1, true)...)
		mustAppend(t, pool, "room", "a", i%3, true)
	}
	// A type that appears after the start is tailed from its first event.
	fresh = append(fresh, mustAppend(t, pool, "fresh", "b", 9, true)...)
	mustAppend(t, pool, "fresh", "a", 5, true)
	// The last events come after the node's own: once they arrive, any of
	// the node's own events would have been delivered before them.
	chat = append(chat, mustAppend(t, pool, "chat", "b", 1, true)...)
	room = append(room, mustAppend(t, pool, "room", "c", 1, true)...)
	fresh = append(fresh, mustAppend(t, pool, "fresh", "c", 1, true)...)

	r.waitSeq("chat", chat[len(chat)-1])
	r.waitSeq("room", room[len(room)-1])
	r.waitSeq("fresh", fresh[len(fresh)-1])
	if fresh[0] != 1 {
		t.Fatalf("fresh starts at %d", fresh[0])
	}
	r.checkEvents("chat", chat)
	r.checkEvents("room", room)
	r.checkEvents("fresh", fresh)
}

// A tail given a start delivers every event after it, those committed
// before its own connection came up too: a node reads the start before it
// serves (gateway's serve.go), and its subscribers hold Seqs from then on.
func testTailStartsFromItsStart(t *testing.T, srv *pgtest.Server) {
	url, pool := tailDB(t, srv, "start")
	mustAppend(t, pool, "chat", "b", 2, true) // history
	start, err := openTailStore(t, url, PGConfig{Node: "a"}).TailStart(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Committed before the tail connects: the window of a tail whose
	// first connection is slow, or fails while the database restarts.
	chat := mustAppend(t, pool, "chat", "b", 3, true)
	fresh := mustAppend(t, pool, "fresh", "c", 2, true)
	r := startTail(t, pool, "a", tailConfig{Poll: tailNever, start: start.tops})
	r.waitSyncs(1)
	chat = append(chat, mustAppend(t, pool, "chat", "b", 1, true)...)
	r.waitSeq("chat", chat[len(chat)-1])
	r.waitSeq("fresh", fresh[len(fresh)-1])
	r.checkEvents("chat", chat)
	r.checkEvents("fresh", fresh)
}

// disconnectGate holds the tailer, at its first lost connection, until
// the test opens it; writes made meanwhile can be announced by no
// notification.
type disconnectGate struct {
	once     sync.Once
	lost     chan struct{} // closed at the first lost connection
	open     chan struct{} // closed by the test
	openOnce sync.Once
}

func newDisconnectGate() *disconnectGate {
	return &disconnectGate{lost: make(chan struct{}), open: make(chan struct{})}
}

func (g *disconnectGate) onDisconnect(error) {
	first := false
	g.once.Do(func() { first = true; close(g.lost) })
	if first {
		<-g.open
	}
}

func (g *disconnectGate) release() { g.openOnce.Do(func() { close(g.open) }) }

func testTailTerminatedListener(t *testing.T, srv *pgtest.Server) {
	_, pool := tailDB(t, srv, "terminated")
	top := mustAppend(t, pool, "chat", "b", 1, true)[0]
	gate := newDisconnectGate()
	t.Cleanup(gate.release)
	r := startTail(t, pool, "a", tailConfig{Poll: tailNever, onDisconnect: gate.onDisconnect})
	r.waitSyncs(1)

	// A writer on another connection appends throughout. It stops
	// between transactions, so that the table then holds all it wrote.
	stop := make(chan struct{})
	writerDone := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				writerDone <- nil
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), tailWait)
			_, err := appendEvents(ctx, pool, "chat", "b", 1, true)
			cancel()
			if err != nil {
				writerDone <- err
				return
			}
		}
	}()
	r.waitFor("live events", func() bool { return len(r.events["chat"]) >= 5 })

	if n := terminateTail(t, srv, "terminated"); n != 1 {
		t.Fatalf("terminated %d listener backends, want 1", n)
	}
	<-gate.lost
	// Written while the tailer has no connection: no notification of
	// these reaches it.
	unnotified := mustAppend(t, pool, "chat", "b", 20, true)
	unnotified = append(unnotified, mustAppend(t, pool, "later", "c", 3, true)...)
	gate.release()
	r.waitSyncs(2)
	seen := len(r.delivered("chat"))
	r.waitFor("events after the reconnect", func() bool { return len(r.events["chat"]) >= seen+5 })
	close(stop)
	if err := <-writerDone; err != nil {
		t.Fatal(err)
	}

	want := committed(t, pool, "chat", "b", top)
	r.waitSeq("chat", want[len(want)-1])
	r.waitSeq("later", 3)
	r.checkEvents("chat", want)
	r.checkEvents("later", seqRange(1, 3))
	if !slices.Contains(want, unnotified[0]) {
		t.Fatalf("the events written while disconnected (%v) are not in the table", unnotified)
	}
}

// TestTailPostgresRestart has a server of its own, since it restarts it.
func TestTailPostgresRestart(t *testing.T) {
	t.Parallel()
	srv := pgtest.Start(t)
	_, pool := tailDB(t, srv, "restart")
	gate := newDisconnectGate()
	t.Cleanup(gate.release)
	r := startTail(t, pool, "a", tailConfig{Poll: tailNever, onDisconnect: gate.onDisconnect})
	r.waitSyncs(1)
	want := mustAppend(t, pool, "chat", "b", 5, true)
	r.waitSeq("chat", want[len(want)-1])

	srv.Restart(t)
	// The pool's connections died with the server.
	pool.Reset()
	// Written before the tailer may listen again.
	want = append(want, mustAppend(t, pool, "chat", "b", 7, true)...)
	mustAppend(t, pool, "chat", "a", 2, true)
	want = append(want, mustAppend(t, pool, "chat", "b", 1, true)...)
	mustAppend(t, pool, "later", "c", 600, true)
	gate.release()
	r.waitSyncs(2)
	r.waitSeq("chat", want[len(want)-1])
	r.waitSeq("later", 600)
	r.checkEvents("chat", want)
	r.checkEvents("later", seqRange(1, 600))

	// Live again.
	want = append(want, mustAppend(t, pool, "chat", "b", 1, true)...)
	r.waitSeq("chat", want[len(want)-1])
	r.checkEvents("chat", want)
	select {
	case <-gate.lost:
	default:
		t.Fatal("the tailer did not see its connection lost")
	}
}

func testTailPollFindsUnnotifiedEvents(t *testing.T, srv *pgtest.Server) {
	_, pool := tailDB(t, srv, "poll")
	mustAppend(t, pool, "chat", "b", 2, false)
	r := startTail(t, pool, "a", tailConfig{Poll: 50 * time.Millisecond})
	r.waitSyncs(1)

	// No notification: only the poll can find these.
	want := mustAppend(t, pool, "chat", "b", 3, false)
	mustAppend(t, pool, "chat", "a", 1, false)
	want = append(want, mustAppend(t, pool, "chat", "b", 1, false)...)
	r.waitSeq("chat", want[len(want)-1])
	r.checkEvents("chat", want)
}

func testTailReportsPrunedGap(t *testing.T, srv *pgtest.Server) {
	_, pool := tailDB(t, srv, "gap")
	mustAppend(t, pool, "g", "b", 1, true)
	r := startTail(t, pool, "a", tailConfig{Poll: tailNever, Batch: 3})
	r.waitSyncs(1)

	// prune appends n events and deletes those of them with the given
	// Seqs in the same transaction, as if history were pruned before the
	// tailer could read them.
	prune := func(model string, n int, notify bool, gone ...int64) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), tailWait)
		defer cancel()
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			nodeOf := func(seq int64) string {
				if seq == 9 {
					return "a"
				}
				return "b"
			}
			if _, err := appendEventsTx(ctx, tx, model, n, nodeOf); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "DELETE FROM events WHERE model = $1 AND seq = ANY($2)", model, gone); err != nil {
				return err
			}
			return notifyTx(ctx, tx, model, notify)
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	// Seqs 2..11: 2..4 and 7 pruned; 9 is the node's own and 10 its
	// neighbour across the batch boundary.
	prune("g", 10, true, 2, 3, 4, 7)
	r.waitSeq("g", 11)
	// Seqs 12, 13: both pruned, so only the top tells.
	prune("g", 2, true, 12, 13)
	r.waitFor("the loss of 12 and 13", func() bool { return len(r.calls) == 4 })
	mustAppend(t, pool, "g", "b", 1, true)
	r.waitSeq("g", 14)
	want := []tailCall{
		{model: "g", seqs: []int64{5, 6}, lost: 4},
		{model: "g", seqs: []int64{8}, lost: 7},
		{model: "g", seqs: []int64{10, 11}},
		{model: "g", lost: 13},
		{model: "g", seqs: []int64{14}},
	}
	r.mu.Lock()
	got := slices.Clone(r.calls)
	r.mu.Unlock()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("calls\n%v\nwant\n%v", got, want)
	}
}

func testTailPollReportsPrunedGap(t *testing.T, srv *pgtest.Server) {
	_, pool := tailDB(t, srv, "poll_gap")
	r := startTail(t, pool, "a", tailConfig{Poll: 50 * time.Millisecond})
	r.waitSyncs(1)
	ctx, cancel := context.WithTimeout(context.Background(), tailWait)
	defer cancel()
	// Seqs 1..3 appear unannounced, and all but the last are pruned before
	// the poll.
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO types (model, seq) VALUES ('p', 3)`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO events (model, seq, node, at, data) VALUES ('p', 3, 'b', now(), 'b/3')`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	r.waitSeq("p", 3)
	// Then everything of a second batch is pruned.
	if _, err := pool.Exec(ctx, `UPDATE types SET seq = 5 WHERE model = 'p'`); err != nil {
		t.Fatal(err)
	}
	r.waitFor("the loss of 4 and 5", func() bool { return len(r.calls) == 2 })
	want := []tailCall{{model: "p", seqs: []int64{3}, lost: 2}, {model: "p", lost: 5}}
	r.mu.Lock()
	got := slices.Clone(r.calls)
	r.mu.Unlock()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("calls\n%v\nwant\n%v", got, want)
	}
}

func TestTailBackoff(t *testing.T) {
	b := tailBackoff{min: 50 * time.Millisecond, max: 2 * time.Second}
	for i := range 10 {
		d := b.next()
		limit := min(50*time.Millisecond<<i, 2*time.Second)
		if d < limit/2 || d > limit {
			t.Fatalf("wait %d: %v, want within [%v, %v]", i, d, limit/2, limit)
		}
	}
	b.reset()
	if d := b.next(); d > 50*time.Millisecond {
		t.Fatalf("after reset: %v", d)
	}
}

// BenchmarkTailLatency measures how long an event takes from the start of
// the transaction that appends it on one node to its delivery by the
// tailer of another, against a bare round trip (SELECT 1) to the same
// server in the same run. Run it with -benchtime=Nx for N samples.
func BenchmarkTailLatency(b *testing.B) {
	_, pool := tailDB(b, pgtest.Start(b), "bench")
	delivered := make(chan int64, 16)
	ctx, cancel := context.WithCancel(context.Background())
	synced := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- tailEvents(ctx, pool, "a", tailConfig{Poll: tailNever, onSync: func() {
			select {
			case synced <- struct{}{}:
			default:
			}
		}},
			func(_ string, events []Event, _ int64) {
				for _, e := range events {
					delivered <- e.Seq
				}
			})
	}()
	defer func() {
		cancel()
		<-done
	}()
	<-synced
	mustAppend(b, pool, "bench", "b", 1, true)
	<-delivered

	var rtt, commit, delivery, after []time.Duration
	for b.Loop() {
		t0 := time.Now()
		var one int
		if err := pool.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
			b.Fatal(err)
		}
		rtt = append(rtt, time.Since(t0))

		t1 := time.Now()
		seqs, err := appendEvents(ctx, pool, "bench", "b", 1, true)
		if err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		for got := int64(0); got < seqs[0]; {
			got = <-delivered
		}
		t3 := time.Now()
		commit = append(commit, t2.Sub(t1))
		delivery = append(delivery, t3.Sub(t1))
		after = append(after, t3.Sub(t2))
	}
	b.StopTimer()
	p := func(d []time.Duration, q float64) float64 {
		s := slices.Clone(d)
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		return float64(s[min(int(q*float64(len(s))), len(s)-1)].Microseconds())
	}
	b.ReportMetric(p(rtt, 0.5), "rtt-p50-µs")
	b.ReportMetric(p(rtt, 0.99), "rtt-p99-µs")
	b.ReportMetric(p(commit, 0.5), "commit-p50-µs")
	b.ReportMetric(p(delivery, 0.5), "delivery-p50-µs")
	b.ReportMetric(p(delivery, 0.99), "delivery-p99-µs")
	b.ReportMetric(p(after, 0.5), "after-commit-p50-µs")
	b.ReportMetric(p(after, 0.99), "after-commit-p99-µs")
	b.ReportMetric(p(delivery, 0.5)/max(p(rtt, 0.5), 1), "delivery/rtt-p50")
	b.ReportMetric(p(delivery, 0.99)/max(p(rtt, 0.99), 1), "delivery/rtt-p99")
	b.ReportMetric(p(after, 0.5)/max(p(rtt, 0.5), 1), "after-commit/rtt-p50")
	b.ReportMetric(p(after, 0.99)/max(p(rtt, 0.99), 1), "after-commit/rtt-p99")
}

// TestTailPGStore tails what PGStores commit: their notifications, and
// their history's pruning.
func testTailPGStore(t *testing.T, srv *pgtest.Server) {
	url := srv.CreateDB(t, "pgstore")
	a := openTailStore(t, url, PGConfig{Node: "a"})
	b := openTailStore(t, url, PGConfig{Node: "b", StoreConfig: StoreConfig{History: HistoryConfig{Size: 4}}})
	gate := newDisconnectGate()
	t.Cleanup(gate.release)
	r := startTail(t, a.Pool(), a.Node(), tailConfig{Poll: tailNever, onDisconnect: gate.onDisconnect})
	r.waitSyncs(1)

	// commit has s commit n writes of one event each at once.
	commit := func(s *PGStore, n int) []int64 {
		t.Helper()
		seqs := make([]int64, n)
		writes := make([]Write, n)
		for i := range writes {
			writes[i] = func(tx Tx) (err error) {
				seqs[i], err = tx.Append("doc", func(seq int64) ([]byte, error) { return eventData(s.Node(), seq), nil })
				return err
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), tailWait)
		defer cancel()
		for i, err := range s.Commit(ctx, writes) {
			if err != nil {
				t.Fatalf("write %d: %v", i, err)
			}
		}
		return seqs
	}
	want := commit(b, 3)
	// Read before b's history (4 events) lets them go: its Seq 6 prunes
	// 1 and 2, and a tailer that had not read them yet would rightly
	// report them lost.
	r.waitSeq("doc", want[len(want)-1])
	commit(a, 2)
	want = append(want, commit(b, 1)...)
	r.waitSeq("doc", want[len(want)-1])
	r.checkEvents("doc", want)

	// While the tailer is away, b commits more than its history keeps.
	if n := terminateTail(t, srv, "pgstore"); n != 1 {
		t.Fatalf("terminated %d listener backends, want 1", n)
	}
	<-gate.lost
	var last int64
	for range 10 {
		last = commit(b, 1)[0]
	}
	gate.release()
	r.waitSeq("doc", last)
	r.mu.Lock()
	defer r.mu.Unlock()
	var lost int64
	for _, c := range r.calls {
		lost = max(lost, c.lost)
	}
	if lost <= want[len(want)-1] || lost > last-4 {
		t.Errorf("lost through %d reported, want a Seq in %d..%d; calls %v", lost, want[len(want)-1]+1, last-4, r.calls)
	}
	for _, e := range r.events["doc"][len(want):] {
		if e.Seq <= lost {
			t.Errorf("delivered %d, lost through %d", e.Seq, lost)
		}
	}
}

func testTailEndsWithStore(t *testing.T, srv *pgtest.Server) {
	s := openTailStore(t, srv.CreateDB(t, "ends"), PGConfig{})
	done := make(chan error, 1)
	go func() { done <- s.Tail(context.Background(), TailStart{}, func(string, []Event, int64) {}) }()
	s.Close()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Tail returned %v, want context.Canceled", err)
		}
	case <-time.After(tailWait):
		t.Fatal("Tail still runs after Close")
	}
}
