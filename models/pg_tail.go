package models

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The tailer is how a node of a PostgreSQL store learns of the events the
// other nodes commit (DESIGN §7). The events table is the truth and
// LISTEN/NOTIFY only the wake-up: every transaction that appends events
// notifies pgNotifyChannel with the model's name, which tells the tailer to
// read that model's events past its cursor. A notification can be lost
// (PostgreSQL drops those sent while a listener is disconnected), so after
// a reconnect, and every Poll besides, the tailer compares each type's top
// (types.seq) with its cursors and reads the types that moved. Because a
// type's Seq is assigned under its types row lock in the appending
// transaction, the events of a type become visible in Seq order, and
// reading "seq > cursor" never skips an event that a later read would
// find: a hole in what it reads is history that was pruned.
//
// The tailer keeps one connection of its own, outside the pool, for the
// LISTEN and for its reads: it is not starved by a busy pool, and its
// reads tell it, every Poll at the latest, that the connection still
// works. Its application_name (tailAppName) names it in pg_stat_activity.

const (
	// tailAppName is the application_name of the tailer's connection.
	tailAppName = "bertsync-tail"

	// Defaults of tailConfig.
	defaultTailPoll         = time.Second
	defaultTailBatch        = 512
	defaultTailMinBackoff   = 50 * time.Millisecond
	defaultTailMaxBackoff   = 2 * time.Second
	defaultTailQueryTimeout = 10 * time.Second
)

// TailFunc receives what the tailer of a [PGStore] reads of one model's
// stream: events committed by other nodes, in Seq order, each with a Seq
// above those of earlier calls for that model. The tailer does not touch
// events after the call; fn may keep them.
//
// lost, when positive, says that history lost events before these: the
// events of model not yet delivered with a Seq up to lost were pruned
// (by --history-size or --history-ttl) before the tailer could read them,
// and will never be delivered. events may then be empty. A consumer that
// relays the stream must end the streams of its subscribers of model:
// they reconnect and recover from history, or reload (§5). lost is also
// reported, with no events, when a type's Seq went back below what was
// already delivered, which only a replaced database does: lost is then
// the Seq delivered through before, and the Seqs that follow restart
// below it.
type TailFunc func(model string, events []Event, lost int64)

// tailConfig tunes [tailEvents]. The zero value is usable.
type tailConfig struct {
	// Poll is how often the tops of all types are compared with the
	// cursors, to find what lost notifications did not announce, and to
	// check that the connection is alive. Zero: defaultTailPoll.
	Poll time.Duration
	// Batch bounds the events read by one query (the tailer loops until
	// it has caught up). Zero: defaultTailBatch.
	Batch int
	// MinBackoff and MaxBackoff bound the jittered, doubling wait before
	// each reconnect. Zero: 50 ms and 2 s.
	MinBackoff, MaxBackoff time.Duration
	// QueryTimeout bounds connecting and each query; a query that takes
	// longer counts as a lost connection. Zero: defaultTailQueryTimeout.
	QueryTimeout time.Duration
	// AppName is the connection's application_name. "": tailAppName.
	AppName string
	// Logger logs lost connections. nil: slog.Default().
	Logger *slog.Logger

	// start holds the cursors the tailer starts from (see [TailStart]);
	// nil: the tops its first connection reads.
	start map[string]int64

	// onSync, if set, is called after each (re)connect, once the tailer
	// listens and has caught up with the tops it read then. Tests wait
	// on it.
	onSync func()
	// onDisconnect, if set, is called when the connection is lost,
	// before the wait to reconnect. Tests use it to write while no
	// notification can arrive.
	onDisconnect func(err error)
}

func (c tailConfig) resolved() tailConfig {
	if c.Poll <= 0 {
		c.Poll = defaultTailPoll
	}
	if c.Batch <= 0 {
		c.Batch = defaultTailBatch
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = defaultTailMinBackoff
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(defaultTailMaxBackoff, c.MinBackoff)
	}
	if c.QueryTimeout <= 0 {
		c.QueryTimeout = defaultTailQueryTimeout
	}
	if c.AppName == "" {
		c.AppName = tailAppName
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// TailStart is where a [PGStore.Tail] begins: the top of each type when
// [PGStore.TailStart] read it. The zero TailStart is the tops the tail's
// first connection reads.
type TailStart struct{ tops map[string]int64 }

// TailStart reads, through the pool, the streams' tops a Tail is to start
// from. A node reads them before it serves: every Seq it then answers a
// subscribe with is at or past them, so the tail delivers every event
// after it, however late the tail's own connection comes up.
func (s *PGStore) TailStart(ctx context.Context) (TailStart, error) {
	ctx, cancel := context.WithTimeout(ctx, defaultTailQueryTimeout)
	defer cancel()
	tops, err := readTops(ctx, s.Pool())
	return TailStart{tops: tops}, err
}

// Tail calls fn with the events that other nodes commit to the database
// after from, per model in Seq order, each at least once (see
// [TailFunc]). fn is called from Tail's goroutine only, one call at a
// time; while it runs nothing more is read. Tail keeps a connection of
// its own, outside the pool, and reconnects, with backoff, whenever it is
// lost, and then catches up from the events table. It returns when ctx
// is done or the store is closed, with the context's error.
func (s *PGStore) Tail(ctx context.Context, from TailStart, fn TailFunc) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	return tailEvents(ctx, s.Pool(), s.Node(), tailConfig{start: from.tops}, fn)
}

// tailEvents is [PGStore.Tail] over the pool's database for the node
// self: it delivers to fn the events whose node is not self, starting
// from the tops of the types when it starts. It returns when ctx is done,
// with ctx's error; every other error is a lost connection, after which it
// reconnects.
func tailEvents(ctx context.Context, pool *pgxpool.Pool, self string, cfg tailConfig, fn TailFunc) error {
	cfg = cfg.resolved()
	connConfig := pool.Config().ConnConfig.Copy()
	connConfig.RuntimeParams["application_name"] = cfg.AppName
	t := &tailer{
		connConfig: connConfig,
		self:       self,
		cfg:        cfg,
		fn:         fn,
		backoff:    tailBackoff{min: cfg.MinBackoff, max: cfg.MaxBackoff},
		cursors:    maps.Clone(cfg.start),
	}
	for {
		err := t.session(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		cfg.Logger.Warn("event tailer lost its connection", "err", err)
		if cfg.onDisconnect != nil {
			cfg.onDisconnect(err)
		}
		timer := time.NewTimer(t.backoff.next())
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
	}
}

// tailer is the state of one tailEvents call.
type tailer struct {
	connConfig *pgx.ConnConfig
	self       string
	cfg        tailConfig
	fn         TailFunc
	backoff    tailBackoff

	// cursors holds, per model, the Seq through which events were read
	// (delivered, the node's own, or lost); nil until the first
	// connection read the tops, when there was no start.
	cursors map[string]int64
	conn    *pgx.Conn
}

// session runs one connection: it connects, listens, catches up and then
// follows notifications until the connection fails or ctx is done.
func (t *tailer) session(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, t.cfg.QueryTimeout)
	conn, err := pgx.ConnectConfig(cctx, t.connConfig)
	cancel()
	if err != nil {
		return fmt.Errorf("tail: connect: %w", err)
	}
	t.conn = conn
	defer func() {
		t.conn = nil
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn.Close(cctx)
	}()
	// LISTEN before reading the tops: an event committed after the read
	// is then notified to this connection.
	qctx, cancel := context.WithTimeout(ctx, t.cfg.QueryTimeout)
	_, err = conn.Exec(qctx, "LISTEN "+pgNotifyChannel)
	cancel()
	if err != nil {
		return fmt.Errorf("tail: listen: %w", err)
	}
	if t.cursors == nil {
		tops, err := t.tops(ctx)
		if err != nil {
			return err
		}
		t.cursors = tops
	} else if err := t.poll(ctx); err != nil {
		return err
	}
	t.backoff.reset()
	if t.cfg.onSync != nil {
		t.cfg.onSync()
	}

	lastPoll := time.Now()
	pending := make(map[string]struct{})
	for {
		// Poll on a clock, not when idle: a steady flow of
		// notifications for some types must not delay finding a lost
		// one for another.
		wctx, cancel := context.WithDeadline(ctx, lastPoll.Add(t.cfg.Poll))
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			pending[n.Payload] = struct{}{}
			t.drain(pending)
			for model := range pending {
				delete(pending, model)
				if err := t.catchUp(ctx, model, 0); err != nil {
					return err
				}
			}
		case ctx.Err() != nil:
			return ctx.Err()
		case !pgconn.Timeout(err) || conn.IsClosed():
			return fmt.Errorf("tail: wait for notification: %w", err)
		}
		if time.Since(lastPoll) >= t.cfg.Poll {
			if err := t.poll(ctx); err != nil {
				return err
			}
			lastPoll = time.Now()
		}
	}
}

// drain adds to pending the models of the notifications the connection
// has already received, so that a burst of commits to one type costs one
// catch-up.
func (t *tailer) drain(pending map[string]struct{}) {
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for {
		// With a done context, WaitForNotification returns only what
		// is already buffered, without touching the connection.
		n, err := t.conn.WaitForNotification(done)
		if err != nil || n == nil {
			return
		}
		pending[n.Payload] = struct{}{}
	}
}

// tops reads the Seq of every type.
func (t *tailer) tops(ctx context.Context) (map[string]int64, error) {
	qctx, cancel := context.WithTimeout(ctx, t.cfg.QueryTimeout)
	defer cancel()
	return readTops(qctx, t.conn)
}

// readTops reads the Seq of every type through q.
func readTops(ctx context.Context, q interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}) (map[string]int64, error) {
	rows, _ := q.Query(ctx, "SELECT model, seq FROM types")
	tops := make(map[string]int64)
	var model string
	var seq int64
	_, err := pgx.ForEachRow(rows, []any{&model, &seq}, func() error {
		tops[model] = seq
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tail: read tops: %w", err)
	}
	return tops, nil
}

// top reads the Seq of one type (0 when it has none).
func (t *tailer) top(ctx context.Context, model string) (int64, error) {
	qctx, cancel := context.WithTimeout(ctx, t.cfg.QueryTimeout)
	defer cancel()
	var seq int64
	err := t.conn.QueryRow(qctx, "SELECT seq FROM types WHERE model = $1", model).Scan(&seq)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("tail: read the top of %q: %w", model, err)
	}
	return seq, nil
}

// poll catches up every type whose top is past its cursor; a type the
// tailer has not seen yet is read from its first event.
func (t *tailer) poll(ctx context.Context) error {
	tops, err := t.tops(ctx)
	if err != nil {
		return err
	}
	for model, top := range tops {
		cursor := t.cursors[model]
		switch {
		case top > cursor:
			if err := t.catchUp(ctx, model, top); err != nil {
				return err
			}
		case top < cursor:
			t.cfg.Logger.Error("event tailer: a stream went back; was the database replaced?",
				"model", model, "seq", top, "cursor", cursor)
			t.cursors[model] = top
			t.fn(model, nil, cursor)
		}
	}
	return nil
}

// tailQuery reads one batch of a model's events past a cursor; the node's
// own events come without their data, which the tailer only skips.
const tailQuery = `SELECT seq, node = $4, at, CASE WHEN node = $4 THEN NULL ELSE data END
FROM events WHERE model = $1 AND seq > $2 ORDER BY seq LIMIT $3`

// catchUp reads and delivers the events of model past its cursor, a batch
// at a time, until a batch comes back short. top, if positive, is a Seq
// the type was known to have reached before the reads: the events up to
// it that the reads did not find were pruned, and are reported lost.
func (t *tailer) catchUp(ctx context.Context, model string, top int64) error {
	for first := true; ; first = false {
		cursor := t.cursors[model]
		qctx, cancel := context.WithTimeout(ctx, t.cfg.QueryTimeout)
		rows, _ := t.conn.Query(qctx, tailQuery, model, cursor, t.cfg.Batch, t.self)
		batch, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (tailRow, error) {
			var r tailRow
			err := row.Scan(&r.Seq, &r.own, &r.Time, &r.Data)
			return r, err
		})
		cancel()
		if err != nil {
			return fmt.Errorf("tail: read events of %q: %w", model, err)
		}
		if first && len(batch) == 0 && top == 0 {
			// Notified, yet nothing past the cursor: a notification of
			// events read already, or of events pruned already, which
			// only the top tells apart. It is read after the events, so
			// read them again up to it.
			if top, err = t.top(ctx, model); err != nil {
				return err
			}
			if top <= cursor {
				return nil
			}
			continue
		}
		t.deliver(model, cursor, batch)
		if len(batch) < t.cfg.Batch {
			break
		}
	}
	if cursor := t.cursors[model]; cursor < top {
		t.cursors[model] = top
		t.fn(model, nil, top)
	}
	return nil
}

// tailRow is one row of tailQuery.
type tailRow struct {
	Event
	own bool
}

// deliver hands the foreign events of batch, read past cursor, to fn,
// reporting each hole in their Seqs as lost, and moves the cursor past
// the batch.
func (t *tailer) deliver(model string, cursor int64, batch []tailRow) {
	var events []Event
	var lost int64
	flush := func() {
		if len(events) > 0 || lost > 0 {
			t.fn(model, events, lost)
		}
		events, lost = nil, 0
	}
	for _, r := range batch {
		if r.Seq != cursor+1 {
			flush()
			lost = r.Seq - 1
		}
		cursor = r.Seq
		if !r.own {
			events = append(events, r.Event)
		}
	}
	flush()
	t.cursors[model] = cursor
}

// tailBackoff is the wait before each reconnect: it doubles from min to
// max, and each wait is drawn from its upper half so that the nodes that
// lost the database together do not come back in step.
type tailBackoff struct {
	min, max time.Duration
	cur      time.Duration
}

func (b *tailBackoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	half := b.cur / 2
	return half + rand.N(b.cur-half+1)
}

func (b *tailBackoff) reset() { b.cur = 0 }
