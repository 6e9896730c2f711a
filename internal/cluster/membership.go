package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Defaults of the [Config] fields, used where a field is zero.
const (
	DefaultHeartbeat = time.Second
	DefaultTimeout   = 5 * time.Second
	// DefaultForget is how long a dead node's row stays before a live
	// node deletes it: long enough that a node paused for a while (a
	// stopped VM, a long GC) finds its row again, short enough that the
	// table holds only the recent past.
	DefaultForget = 10 * time.Minute
)

// Node is one bertsync node as the table nodes describes it.
type Node struct {
	// ID names the node, in session ids among others: unique among
	// the nodes of one database, at most [MaxNodeIDLen] bytes.
	ID string
	// ClusterAddr is where the node's protoactor remote listens
	// (host:port, as the other nodes dial it).
	ClusterAddr string
	// HTTPAddr is the node's HTTP listen address, for operators.
	HTTPAddr string
	// StartedAt and HeartbeatAt are the database's times of the node's
	// join and latest heartbeat (zero in the Node given to Join).
	StartedAt, HeartbeatAt time.Time
}

// Config configures a [Membership]; zero fields take their defaults.
type Config struct {
	// Heartbeat is how often the node renews its row and refreshes its
	// view of the others. Default DefaultHeartbeat (1 s).
	Heartbeat time.Duration
	// Timeout is the age of a heartbeat past which its node is dead,
	// measured by the database's clock so that the nodes' clocks need
	// not agree. It must exceed Heartbeat (several times, so that one
	// slow round trip does not kill a node). Default DefaultTimeout (5 s).
	Timeout time.Duration
	// Forget is how long a dead node's row stays before it is deleted.
	// Default DefaultForget.
	Forget time.Duration
	// Logger receives the membership's logs; nil means slog.Default().
	Logger *slog.Logger
	// OnView, if set, is told how many nodes are alive, this one
	// included: once at the join, and after each heartbeat.
	OnView func(alive int)
}

func (c Config) withDefaults() (Config, error) {
	if c.Heartbeat <= 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Forget <= 0 {
		c.Forget = DefaultForget
	}
	if c.Timeout <= c.Heartbeat {
		return c, fmt.Errorf("cluster: timeout %v must exceed the heartbeat %v", c.Timeout, c.Heartbeat)
	}
	if c.Forget < c.Timeout {
		c.Forget = c.Timeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

// Membership is this node's seat in the table nodes and its view of the
// other live nodes. Its methods are safe for concurrent use.
type Membership struct {
	pool *pgxpool.Pool
	self Node
	cfg  Config
	log  *slog.Logger

	cancel context.CancelFunc
	done   chan struct{} // closed when the heartbeat loop has returned
	leave  sync.Once

	mu sync.Mutex
	// view holds the nodes of the latest refresh and those looked up
	// since; absent nodes that were looked up are kept as dead entries,
	// so that a cookie of a long-gone node costs one query per
	// heartbeat, not one per request.
	view map[string]entry
	// failing is set while heartbeats fail, to log the change once.
	failing bool
}

// entry is a node of the view and the local time until which it counts
// as alive: the refresh's time plus what was left of its timeout then.
// The time is local and monotonic, so it needs no agreement between the
// clocks of the node and of the database.
type entry struct {
	node  Node
	until time.Time
}

// Join enters self into the table nodes (replacing a row of the same id)
// and keeps it alive with a heartbeat until ctx ends or [Membership.Leave]
// is called. self.ID and self.ClusterAddr are required.
func Join(ctx context.Context, pool *pgxpool.Pool, self Node, cfg Config) (*Membership, error) {
	if pool == nil {
		return nil, errors.New("cluster: nil pool")
	}
	if err := checkNodeID(self.ID); err != nil {
		return nil, err
	}
	if self.ClusterAddr == "" {
		return nil, errors.New("cluster: the node has no cluster address")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m := &Membership{
		pool: pool,
		self: self,
		cfg:  cfg,
		log:  cfg.Logger,
		done: make(chan struct{}),
		view: make(map[string]entry),
	}
	qctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	if err := m.upsert(qctx); err != nil {
		return nil, err
	}
	if err := m.beat(qctx); err != nil {
		return nil, err
	}
	lctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	m.cancel = stop
	go m.loop(ctx, lctx)
	return m, nil
}

// Self returns this node as it joined.
func (m *Membership) Self() Node { return m.self }

// Lookup returns the live node of that id. It answers from the view of
// the latest heartbeat; a node it does not know (one that joined since)
// is looked up in the database. This node itself is always alive.
func (m *Membership) Lookup(ctx context.Context, id string) (Node, bool) {
	if id == m.self.ID {
		return m.self, true
	}
	now := time.Now()
	m.mu.Lock()
	e, ok := m.view[id]
	m.mu.Unlock()
	if ok {
		return e.node, now.Before(e.until)
	}
	if checkNodeID(id) != nil {
		return Node{}, false
	}
	e, err := m.query(ctx, id)
	if err != nil {
		// Unknown for now: not remembered, the next lookup asks again.
		m.log.Debug("cluster: node lookup failed", "node", id, "err", err)
		return Node{}, false
	}
	m.mu.Lock()
	if _, ok := m.view[id]; !ok {
		m.view[id] = e
	}
	m.mu.Unlock()
	return e.node, now.Before(e.until)
}

// Live returns the live nodes of the latest heartbeat, this one included.
func (m *Membership) Live() []Node {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	nodes := []Node{m.self}
	for id, e := range m.view {
		if id != m.self.ID && now.Before(e.until) {
			nodes = append(nodes, e.node)
		}
	}
	return nodes
}

// Leave stops the heartbeat and deletes this node's row, so that the
// others see it gone at their next heartbeat instead of after the
// timeout. Only the first call counts; later ones return nil.
func (m *Membership) Leave(ctx context.Context) error {
	var err error
	m.leave.Do(func() {
		m.cancel()
		<-m.done
		if _, e := m.pool.Exec(ctx, `DELETE FROM nodes WHERE id = $1`, m.self.ID); e != nil {
			err = fmt.Errorf("cluster: leaving: %w", e)
		}
	})
	return err
}

// Done is closed once the heartbeat has stopped: after Leave, or when
// the ctx given to Join has ended.
func (m *Membership) Done() <-chan struct{} { return m.done }

func (m *Membership) loop(joinCtx, ctx context.Context) {
	defer close(m.done)
	tick := time.NewTicker(m.cfg.Heartbeat)
	defer tick.Stop()
	for {
		if m.cfg.OnView != nil {
			m.cfg.OnView(len(m.Live()))
		}
		select {
		case <-ctx.Done():
			return
		case <-joinCtx.Done():
			return
		case <-tick.C:
		}
		// A beat that takes longer than the timeout is worthless: the
		// others already count this node dead.
		bctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
		err := m.beat(bctx)
		cancel()
		m.mu.Lock()
		changed := (err != nil) != m.failing
		m.failing = err != nil
		m.mu.Unlock()
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil && changed:
			m.log.Warn("cluster: heartbeat failed; the other nodes will count this one dead if it lasts", "node", m.self.ID, "timeout", m.cfg.Timeout, "err", err)
		case err == nil && changed:
			m.log.Info("cluster: heartbeat restored", "node", m.self.ID)
		}
	}
}

// upsert writes this node's row afresh.
func (m *Membership) upsert(ctx context.Context) error {
	_, err := m.pool.Exec(ctx, `
INSERT INTO nodes (id, cluster_addr, http_addr, started_at, heartbeat_at) VALUES ($1, $2, $3, now(), now())
ON CONFLICT (id) DO UPDATE SET cluster_addr = EXCLUDED.cluster_addr, http_addr = EXCLUDED.http_addr,
	started_at = EXCLUDED.started_at, heartbeat_at = EXCLUDED.heartbeat_at`,
		m.self.ID, m.self.ClusterAddr, m.self.HTTPAddr)
	if err != nil {
		return fmt.Errorf("cluster: joining as %q: %w", m.self.ID, err)
	}
	return nil
}

// beat renews this node's row, deletes the rows dead for long and
// refreshes the view, in one round trip. A row that is gone (deleted by
// another node while this one was paused past Forget) is written again.
func (m *Membership) beat(ctx context.Context) error {
	var b pgx.Batch
	b.Queue(`UPDATE nodes SET heartbeat_at = now() WHERE id = $1`, m.self.ID)
	b.Queue(`DELETE FROM nodes WHERE heartbeat_at < now() - $1::interval`, m.cfg.Forget)
	b.Queue(`SELECT id, cluster_addr, http_addr, started_at, heartbeat_at, EXTRACT(EPOCH FROM now() - heartbeat_at)::float8
FROM nodes WHERE heartbeat_at >= now() - $1::interval`, m.cfg.Timeout)
	br := m.pool.SendBatch(ctx, &b)
	tag, err := br.Exec()
	if err != nil {
		br.Close()
		return fmt.Errorf("cluster: heartbeat: %w", err)
	}
	if _, err := br.Exec(); err != nil {
		br.Close()
		return fmt.Errorf("cluster: forgetting dead nodes: %w", err)
	}
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return fmt.Errorf("cluster: reading the nodes: %w", err)
	}
	view := make(map[string]entry)
	for rows.Next() {
		e, err := m.scan(rows)
		if err != nil {
			rows.Close()
			br.Close()
			return err
		}
		view[e.node.ID] = e
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		br.Close()
		return fmt.Errorf("cluster: reading the nodes: %w", err)
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("cluster: heartbeat: %w", err)
	}
	m.mu.Lock()
	m.view = view
	m.mu.Unlock()
	if tag.RowsAffected() == 0 {
		m.log.Warn("cluster: this node's row was gone (deleted as dead); joining again", "node", m.self.ID)
		return m.upsert(ctx)
	}
	return nil
}

// query reads one node's row.
func (m *Membership) query(ctx context.Context, id string) (entry, error) {
	qctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	rows, err := m.pool.Query(qctx, `SELECT id, cluster_addr, http_addr, started_at, heartbeat_at, EXTRACT(EPOCH FROM now() - heartbeat_at)::float8
FROM nodes WHERE id = $1`, id)
	if err != nil {
		return entry{}, fmt.Errorf("cluster: looking up node %q: %w", id, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return entry{}, fmt.Errorf("cluster: looking up node %q: %w", id, err)
		}
		// No such node: dead (its zero time is past).
		return entry{node: Node{ID: id}}, nil
	}
	return m.scan(rows)
}

// scan reads a row of the nodes' query. The age the database measured
// counts from now, after its answer came: a node may be counted alive a
// round trip too long, never dead too early, which would give its
// sessions' clients new sessions while it still serves the old ones.
func (m *Membership) scan(rows pgx.Rows) (entry, error) {
	var n Node
	var age float64
	if err := rows.Scan(&n.ID, &n.ClusterAddr, &n.HTTPAddr, &n.StartedAt, &n.HeartbeatAt, &age); err != nil {
		return entry{}, fmt.Errorf("cluster: reading the nodes: %w", err)
	}
	left := m.cfg.Timeout - time.Duration(age*float64(time.Second))
	return entry{node: n, until: time.Now().Add(left)}, nil
}
