package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/bertsync/bertsync/internal/limits"
	"github.com/bertsync/bertsync/internal/metrics"
	"github.com/bertsync/bertsync/internal/outqueue"
)

// Defaults of the [Config] fields, used where a field is zero.
const (
	DefaultPath          = "/bullet"
	DefaultMaxQueue      = 1024
	DefaultMaxQueueSize  = 4 << 20
	DefaultWriteTimeout  = 10 * time.Second
	DefaultReadTimeout   = 30 * time.Second
	DefaultPingInterval  = 25 * time.Second
	DefaultPongTimeout   = 60 * time.Second
	DefaultPollTimeout   = 30 * time.Second
	DefaultMaxBodySize   = 1 << 20
	DefaultMaxUploadSize = 32 << 20

	DefaultUploadQuota       = 128 << 20
	DefaultFileSweepInterval = time.Hour

	DefaultMaxConns        = 10000
	DefaultMaxConnsPerAddr = 1000
	DefaultMaxPollSessions = 10000
	DefaultMaxMessageRate  = 100
)

// Config configures a [Server]. It is passed by value to [New]; the zero
// value of every field means its default, so Config{} is a working server
// on /bullet. Its limits follow the rule of every bertsync config
// (docs/limits.md): zero means the default, a negative value no limit.
//
// The largest message a client may send is the actor system's
// [actors.Config].MaxMessageSize: the transports read no more of a
// message than that.
type Config struct {
	// Path is where the Bullet endpoint is mounted, for all its
	// transports. Empty means DefaultPath ("/bullet"). It must start
	// with "/" and must not be "/" or one of the paths of the REST,
	// files or static handlers (/api/, /files/) or the health checks
	// (/healthz, /readyz).
	Path string

	// AllowedHosts lists the names this server answers to, on every
	// route: host names or IP literals, which match on any port, or
	// host:port ("[::1]:8080" for IPv6), which match on that port only; a
	// Host header without a port has the scheme's (80, or 443 over TLS).
	// A request for any other Host gets 421 Misdirected Request with the
	// reason, which defeats DNS rebinding: a page of evil.example whose
	// name was made to point at this server still sends Host:
	// evil.example. Empty means the loopback names (localhost, 127.0.0.1,
	// [::1]) on any port; [ListenAndServe] instead derives it from the
	// listen address (see [ServeConfig.Addr]). "*" accepts any Host and
	// so turns the protection off, for a proxy in front that checks the
	// Host itself.
	AllowedHosts []string

	// AllowedOrigins lists the origins, besides the server's own, whose
	// pages may connect: full origins ("https://app.example.com") or
	// bare hosts ("app.example.com:8443"); "*" allows any. Empty means
	// same origin only: the Origin header's host and port must be those
	// of the request's Host, which AllowedHosts has admitted. A request
	// without an Origin header (not from a browser) is always allowed; a
	// rejected one gets 403 with the reason. A listed origin gets CORS
	// headers with credentials (cookies) on the HTTP transports and
	// REST; one that only "*" admits gets Access-Control-Allow-Origin: *
	// and never credentials, so no page of another site can use a
	// visitor's cookies.
	AllowedOrigins []string

	// MaxConns bounds the connections the server holds open at once:
	// WebSockets, EventSource streams and long-polls. MaxConnsPerAddr
	// bounds those of one client address (an IPv4 address, an IPv6 /64
	// prefix), so that one client cannot take what every other needs
	// (file descriptors above all). A request past MaxConns is answered
	// 503, one past MaxConnsPerAddr 429, with the reason and before any
	// upgrade. Browsers behind one NAT share an address: each tab holds
	// one connection (two on the polling fallback, with its session);
	// behind a reverse proxy every client has the proxy's address, and
	// MaxConnsPerAddr should then be MaxConns.
	MaxConns        int
	MaxConnsPerAddr int

	// MaxPollSessions bounds the sessions of the HTTP transports alive at
	// once (a session outlives its requests, until the actors'
	// SessionIdleTimeout). One client address may hold at most
	// MaxConnsPerAddr of them. A request that would start one more is
	// answered 503 past MaxPollSessions, 429 past the address's share.
	MaxPollSessions int

	// MaxMessageRate bounds the messages one client sends, per second,
	// on one WebSocket or polling session, measured by a token bucket of
	// MaxMessageBurst messages that refills at MaxMessageRate a second.
	// A message over the rate is not processed but answered, in its
	// place among the replies, with {sync, error, {rate_limited, …}}
	// (a "ping" over the rate gets no "pong"). This bounds the work one
	// connection makes besides the actors' MaxPendingRequests, which
	// bounds the requests in flight. MaxMessageBurst zero means twice
	// MaxMessageRate; either negative means no rate limit.
	MaxMessageRate  int
	MaxMessageBurst int

	// MaxQueue bounds the messages waiting to be sent to one client, on
	// every transport: the frames a WebSocket has not written yet, the
	// messages a polling session (long-poll, EventSource, POST) keeps for
	// its client between polls. MaxQueueSize bounds the same messages in
	// bytes of BERT; a single message larger than it still goes through
	// an empty queue. A client whose queue would pass either bound is a
	// slow consumer: its session ends (WebSocket close 1008, "slow
	// consumer"), the reason is logged, and nobody else slows down.
	MaxQueue     int
	MaxQueueSize int

	// WriteTimeout bounds every write to a client: a WebSocket frame, an
	// EventSource batch, a poll or POST response.
	WriteTimeout time.Duration

	// ReadTimeout bounds reading the body of one POST, so that a client
	// trickling bytes cannot hold a request open.
	ReadTimeout time.Duration

	// PingInterval is how often the server pings an idle WebSocket client
	// and sends an EventSource comment, so that proxies and the client
	// see traffic (Bullet's WebSockets dropped after 60 idle seconds).
	// Negative disables pings.
	PingInterval time.Duration

	// PongTimeout closes a WebSocket when nothing, not even a pong, came
	// from the client for that long. It must exceed PingInterval.
	// Negative means no read deadline.
	PongTimeout time.Duration

	// PollTimeout is how long a long-poll GET is held waiting for a
	// message before it is answered 204 No Content. Negative holds it
	// until a message comes or the session ends.
	PollTimeout time.Duration

	// DataDir is the server's data directory; the upload handler stores
	// files under it (DataDir/files/<sha256>, with DataDir/tmp for files
	// still arriving) and /files/ serves them. Empty means uploads have
	// nowhere to go: they are answered 503 and /files/ serves nothing.
	DataDir string

	// Files stores the uploaded files instead of DataDir/files: a store
	// that many nodes share, such as [models.PGFiles], through which every
	// node serves every file. Uploads still arrive under DataDir/tmp, so
	// DataDir is needed for them. Nil means the disk under DataDir.
	Files FileStore

	// MaxBodySize is the largest JSON or form body of a REST request, in
	// bytes; a larger one is answered 413.
	MaxBodySize int64

	// MaxUploadSize is the largest file an upload may hold, in bytes; a
	// larger one is answered 413 and nothing of it is kept. The file is
	// streamed to disk, so this bounds disk use, not memory.
	MaxUploadSize int64

	// UploadQuota bounds the bytes uploaded to one document that the
	// file sweep has not examined yet: the sum of the sizes of its
	// uploads, each forgotten once a round of sweeps (of any node, on a
	// shared FileStore) that began at least the grace period (10
	// minutes) after it has ended. An upload that would take a document
	// past it is answered 413 and nothing of it is kept. A replaced file
	// stays on disk until a sweep removes it, so this bounds the disk one
	// document takes, to its current file plus UploadQuota, however often
	// its file is replaced. The count is kept
	// in memory: a restart begins it afresh, after the sweep at start.
	// With no sweep (FileSweepInterval negative) it counts every upload
	// since the server started. A quota below MaxUploadSize bounds every
	// file to it.
	UploadQuota int64

	// FileSweepInterval is how often the stored files that no document
	// references any more are removed: a sweep runs when the server
	// starts and then every FileSweepInterval. It reads every document of
	// the document model's store (see docs/rest.md#files for what
	// references a file) and removes the files, older than a grace
	// period of 10 minutes, that none names; on a FileStore that many
	// nodes share (models.PGFiles), the nodes share one sweep an
	// interval, run by whichever node's turn comes first.
	// Negative: no sweep, files stay until removed by hand. Without a
	// document store (no actors.Config.Documents) there is no sweep.
	FileSweepInterval time.Duration

	// Cluster, when set, makes the server one node of a cluster
	// (cluster.go): session cookies are signed ids naming this node,
	// and the polls, streams and POSTs of another node's session are
	// forwarded to it. Make it with [NewCluster]; it serves one Server.
	Cluster *Cluster

	// Authenticator finds out who sent each request; nil means every
	// caller is anonymous (and only "public" rules let them through).
	Authenticator Authenticator

	// Logger receives the gateway's logs. Nil means slog.Default().
	Logger *slog.Logger

	// ReadyCheck, if set, is asked by GET /readyz whether the server can
	// serve (its store is reachable, say): an error answers 503. The
	// ctx it gets ends after a few seconds. [ListenAndServe] checks its
	// store with it. A server shutting down is never ready, whatever it
	// says.
	ReadyCheck func(ctx context.Context) error

	// now is the rate limiter's clock, for tests; nil means time.Now.
	now func() time.Time
	// metrics counts the connections, refusals and authentication
	// failures; [ListenAndServe] sets it with ServeConfig.MetricsAddr.
	metrics *metrics.Metrics
}

// Validate reports settings of c that cannot work, the error [New]
// would return, so that a command line can reject them as bad flags.
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}

// withDefaults returns c with zero fields replaced by their defaults, or an
// error for settings that cannot work.
func (c Config) withDefaults() (Config, error) {
	if c.Path == "" {
		c.Path = DefaultPath
	}
	if !strings.HasPrefix(c.Path, "/") || c.Path == "/" {
		return c, fmt.Errorf("gateway: path %q must start with / and not be the root", c.Path)
	}
	c.Path = strings.TrimSuffix(c.Path, "/")
	for _, r := range c.Path {
		// Plain path characters only: the path is also a ServeMux
		// pattern and a cookie Path.
		if !(r == '/' || r == '-' || r == '.' || r == '_' || r == '~' ||
			'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return c, fmt.Errorf("gateway: path %q: only letters, digits, / - . _ ~ are allowed", c.Path)
		}
	}
	if strings.Contains(c.Path, "//") || c.Path == "/api" || strings.HasPrefix(c.Path, "/api/") ||
		c.Path == "/files" || strings.HasPrefix(c.Path, "/files/") || c.Path == healthzPath || c.Path == readyzPath {
		return c, fmt.Errorf("gateway: path %q collides with /api/, /files/, %s or %s, or has an empty segment", c.Path, healthzPath, readyzPath)
	}
	c.MaxQueue = limits.Resolve(c.MaxQueue, DefaultMaxQueue)
	c.MaxQueueSize = limits.Resolve(c.MaxQueueSize, DefaultMaxQueueSize)
	c.WriteTimeout = limits.Resolve(c.WriteTimeout, DefaultWriteTimeout)
	c.ReadTimeout = limits.Resolve(c.ReadTimeout, DefaultReadTimeout)
	c.PingInterval = limits.Resolve(c.PingInterval, DefaultPingInterval)
	c.PongTimeout = limits.Resolve(c.PongTimeout, DefaultPongTimeout)
	c.PollTimeout = limits.Resolve(c.PollTimeout, DefaultPollTimeout)
	c.MaxBodySize = limits.Resolve(c.MaxBodySize, DefaultMaxBodySize)
	c.MaxUploadSize = limits.Resolve(c.MaxUploadSize, DefaultMaxUploadSize)
	c.UploadQuota = limits.Resolve(c.UploadQuota, DefaultUploadQuota)
	c.FileSweepInterval = limits.Resolve(c.FileSweepInterval, DefaultFileSweepInterval)
	c.MaxConns = limits.Resolve(c.MaxConns, DefaultMaxConns)
	c.MaxConnsPerAddr = limits.Resolve(c.MaxConnsPerAddr, DefaultMaxConnsPerAddr)
	c.MaxPollSessions = limits.Resolve(c.MaxPollSessions, DefaultMaxPollSessions)
	c.MaxMessageRate = limits.Resolve(c.MaxMessageRate, DefaultMaxMessageRate)
	if c.MaxMessageRate > 0 {
		c.MaxMessageBurst = limits.Resolve(c.MaxMessageBurst, 2*c.MaxMessageRate)
	}
	if _, err := parseAllowedHosts(c.AllowedHosts); err != nil {
		return c, err
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.PingInterval > 0 && c.PongTimeout > 0 && c.PongTimeout <= c.PingInterval {
		return c, fmt.Errorf("gateway: PongTimeout %v must exceed PingInterval %v", c.PongTimeout, c.PingInterval)
	}
	return c, nil
}

// queueLimits are the bounds of every client's outbound queue.
func (c *Config) queueLimits() outqueue.Limits {
	return outqueue.Limits{MaxMessages: c.MaxQueue, MaxBytes: c.MaxQueueSize}
}
