package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/bertsync/bertsync/internal/cluster"
)

// Cluster mode (DESIGN.md §7): many servers on one database are one
// service, and the requests of one HTTP-transport session may land on
// any of them. The session lives on the node that made it, whose id its
// cookie carries, signed (internal/cluster); a poll, stream or POST whose
// cookie names another live node is forwarded to that node over
// protoactor's remote and runs there as if it had come in there, its
// response relayed back as it is written (clusterroute.go and
// clusterserve.go). A cookie that is unsigned, forged, or names a node
// that is gone starts a new session here, as an unknown cookie always
// did. WebSockets and REST need no routing: a WebSocket is its own
// session, and REST has none.

// clusterActorName is the name of each node's actor that runs the
// requests forwarded to it.
const clusterActorName = "bertsync-http"

// Defaults of the [ClusterConfig] durations.
const (
	DefaultClusterKeepAlive = time.Second
	DefaultClusterTimeout   = 5 * time.Second
)

// The bounds of a forwarded request. A response goes in data messages
// of up to clusterChunk bytes, at most clusterWindow of them unacked, so
// the router holds at most clusterWindow chunks of one response; a
// request's body, read whole by the router, is bounded by the POST limit
// and by maxForwardBody.
const (
	clusterChunk  = 32 << 10
	clusterWindow = 8
	// maxClusterMessage bounds a message between nodes (cluster's
	// MaxRemoteMessage), maxForwardBody a forwarded body within it.
	maxClusterMessage = cluster.MaxRemoteMessage
	maxForwardBody    = maxClusterMessage - 1<<20
)

// ClusterMembers is what the gateway needs of the cluster's membership:
// this node and the live ones. *cluster.Membership is one.
type ClusterMembers interface {
	Self() cluster.Node
	Lookup(ctx context.Context, id string) (cluster.Node, bool)
}

var _ ClusterMembers = (*cluster.Membership)(nil)

// ClusterConfig configures a [Cluster].
type ClusterConfig struct {
	// Members is the membership of this node (required). Its Self's
	// ClusterAddr must be the address of the actor system's remote.
	Members ClusterMembers
	// Key signs the session ids ([cluster.SessionKey]); every node
	// needs the same one (required).
	Key []byte
	// KeepAlive is how often each side of a forwarded request tells the
	// other it is still there. Default DefaultClusterKeepAlive (1 s).
	KeepAlive time.Duration
	// Timeout is how long a side waits without a word from the other
	// before it gives the request up: the router answers 503 (or ends
	// the response it has begun), the owner cancels the handler.
	// Default DefaultClusterTimeout (5 s); it must exceed KeepAlive.
	Timeout time.Duration
	// Logger receives the cluster's logs; nil means the server's.
	Logger *slog.Logger
}

// Cluster is a server's place in a cluster: it signs the session ids
// with this node's id, forwards the requests of other nodes' sessions,
// and runs those forwarded to this node. Make one with [NewCluster], put
// it in [Config].Cluster and give it to one [New].
type Cluster struct {
	as   *actor.ActorSystem
	cfg  ClusterConfig
	self string
	log  *slog.Logger

	// ctx bounds the forwarded requests this node runs; Close ends it.
	ctx    context.Context
	cancel context.CancelFunc

	mu  sync.Mutex
	srv *Server
	pid *actor.PID
	// running holds the forwarded requests this node runs, by their
	// router's reply actor.
	running map[string]*ownedRequest
	closed  bool
}

// NewCluster returns the cluster side of a server on as, an actor system
// whose remote has been started (cluster.StartRemote) at
// cfg.Members.Self().ClusterAddr. The server it is given to spawns the
// actor clusterActorName ("bertsync-http") on as when [New] runs.
func NewCluster(as *actor.ActorSystem, cfg ClusterConfig) (*Cluster, error) {
	switch {
	case as == nil:
		return nil, errors.New("gateway: cluster: nil actor system")
	case cfg.Members == nil:
		return nil, errors.New("gateway: cluster: no membership")
	case len(cfg.Key) < cluster.MinKeyLen:
		return nil, fmt.Errorf("gateway: cluster: session key of %d bytes, want at least %d", len(cfg.Key), cluster.MinKeyLen)
	}
	self := cfg.Members.Self()
	if addr := as.Address(); addr != self.ClusterAddr {
		return nil, fmt.Errorf("gateway: cluster: the actor system's remote is at %q, not at this node's cluster address %q (start the remote first, advertising that address)", addr, self.ClusterAddr)
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = DefaultClusterKeepAlive
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultClusterTimeout
	}
	if cfg.Timeout <= cfg.KeepAlive {
		return nil, fmt.Errorf("gateway: cluster: timeout %v must exceed the keep-alive %v", cfg.Timeout, cfg.KeepAlive)
	}
	c := &Cluster{
		as:      as,
		cfg:     cfg,
		self:    self.ID,
		log:     cfg.Logger,
		running: make(map[string]*ownedRequest),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// attach makes c the cluster side of s and starts serving forwarded
// requests.
func (c *Cluster) attach(s *Server) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.srv != nil {
		return errors.New("gateway: the cluster is another server's already")
	}
	if c.closed {
		return errors.New("gateway: the cluster is closed")
	}
	if c.log == nil {
		c.log = s.log
	}
	pid, err := c.as.Root.SpawnNamed(actor.PropsFromFunc(c.receive), clusterActorName)
	if err != nil {
		return fmt.Errorf("gateway: cluster: spawning %s: %w", clusterActorName, err)
	}
	c.srv, c.pid = s, pid
	return nil
}

// Close stops serving forwarded requests: those running are cancelled
// (their routers answer their clients) and new ones find no actor.
// [Server.Close] calls it; the lead's serve stops the actor system and
// the remote after the gateway's shutdown.
func (c *Cluster) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	pid := c.pid
	c.mu.Unlock()
	c.cancel()
	if pid != nil {
		c.as.Root.Stop(pid)
	}
}

// newSessionID returns a session id naming this node.
func (c *Cluster) newSessionID() (string, error) {
	id, err := cluster.NewSessionID(c.cfg.Key, c.self)
	if err != nil {
		return "", fmt.Errorf("gateway: session id: %w", err)
	}
	return id, nil
}

// send sends m to pid with from as its sender.
func (c *Cluster) send(pid *actor.PID, m *clusterMsg, from *actor.PID) {
	v, err := m.wrap()
	if err != nil {
		// Our own message: a bug.
		c.log.Error("gateway: cluster message not sent", "err", err)
		return
	}
	c.as.Root.RequestWithCustomSender(pid, v, from)
}

// receive is the actor clusterActorName: the messages of the routers of
// the requests this node runs. It never blocks.
func (c *Cluster) receive(ctx actor.Context) {
	v, ok := ctx.Message().(*wrapperspb.BytesValue)
	if !ok {
		return // the actor's own lifecycle, dead-letter responses
	}
	from := ctx.Sender()
	if from == nil {
		return
	}
	m, err := unwrapMsg(v)
	if err != nil {
		c.log.Warn("gateway: cluster: malformed message", "from", from.String(), "err", err)
		return
	}
	key := from.String()
	c.mu.Lock()
	o := c.running[key]
	c.mu.Unlock()
	switch {
	case m.Kind == msgRequest && o == nil:
		c.start(from, &m)
	case o == nil:
		// The request has ended here; its router will hear of it.
	case m.Kind == msgAck:
		o.w.acked(m.Seq)
		o.heard()
	case m.Kind == msgAlive:
		o.heard()
	case m.Kind == msgCancel:
		o.stop(errClientGone)
	}
}

// newBrowserID returns a new session cookie value: in cluster mode a
// signed id naming this node, otherwise 128 random bits.
func (s *Server) newBrowserID() (string, error) {
	if c := s.cfg.Cluster; c != nil {
		return c.newSessionID()
	}
	return newSessionID()
}
