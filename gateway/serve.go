package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/bertsync/bertsync/actors"
	"github.com/bertsync/bertsync/internal/limits"
	"github.com/bertsync/bertsync/internal/metrics"
	"github.com/bertsync/bertsync/models"
)

// Defaults of the [ServeConfig] fields, used where a field is zero.
const (
	DefaultAddr            = "127.0.0.1:8080"
	DefaultShutdownTimeout = 15 * time.Second
)

// storeFile is the name of the store in [ServeConfig.DataDir].
const storeFile = "bertsync.db"

// The [http.Server] settings of [ListenAndServe]. There is no ReadTimeout
// or WriteTimeout: they would cut the long-lived Bullet transports, which
// set their own deadlines ([Config.WriteTimeout], [Config.PongTimeout]).
const (
	serveReadHeaderTimeout = 10 * time.Second
	serveIdleTimeout       = 2 * time.Minute
)

// ServeConfig configures [ListenAndServe]: where to listen, the data
// directory, the model types and the settings of the parts it builds. It
// is passed by value; the zero value of a field means its default, and
// only DataDir is required.
type ServeConfig struct {
	// Addr is the TCP address to listen on, host:port; port 0 picks a
	// free one (see OnListen). Empty means DefaultAddr (127.0.0.1:8080).
	// It is not used when Listener is set.
	//
	// When Gateway.AllowedHosts is empty it is derived from the listen
	// address, as [DefaultAllowedHosts] says, with the port listened on:
	// a loopback address serves itself and localhost, 127.0.0.1 and
	// [::1]; another address or host name serves only itself. An address
	// of every interface (0.0.0.0, ::, ":8080") has no such default, and
	// ListenAndServe fails at once unless AllowedHosts lists the names
	// clients use.
	Addr string
	// Listener, if not nil, is served instead of a new listener on Addr.
	// ListenAndServe closes it when it returns. Its address stands for
	// Addr in the default of Gateway.AllowedHosts.
	Listener net.Listener

	// DataDir is the data directory, created if missing: the store
	// (DataDir/bertsync.db, see [models.OpenStore]) and, unless
	// Gateway.DataDir says otherwise, the uploaded files. It must not be
	// empty.
	DataDir string

	// Store, when set, is the URL of the PostgreSQL database
	// (postgres://USER@HOST:PORT/DB, also postgresql://) that keeps the
	// documents, the streams and the uploaded files instead of the bbolt
	// file in DataDir, which then holds only uploads on their way in.
	// Every server on one database is one service (DESIGN §7,
	// docs/cluster.md), and ClusterAddr is required.
	Store string
	// ClusterAddr is the host:port where this node listens for the other
	// nodes (protoactor-go remote): the sessions of the HTTP transports
	// live on one node and the others route their requests to it. Only
	// with Store.
	ClusterAddr string

	// Registry holds the model types written in Go. Nil means none.
	Registry *models.Registry
	// Models lists the model types the generic document model
	// ([models.Documents]) serves beside those of Registry, which win.
	// Empty means every type: any name a client sends is a collection in
	// the store.
	Models []string
	// MaxTypes bounds the model types the document model keeps in the
	// store (see [models.DocumentsConfig]): zero means
	// models.DefaultMaxTypes, negative no bound.
	MaxTypes int
	// History bounds the history of each model type's stream in the
	// store (DESIGN §5, [models.HistoryConfig]).
	History models.HistoryConfig

	// Logger receives the server's logs, among them the line
	// msg=listening addr=HOST:PORT, and is the default of Gateway.Logger
	// and Actors.Logger. Nil means slog.Default().
	Logger *slog.Logger

	// OnListen, if not nil, is called with the listener's address (the
	// port chosen, when Addr's port is 0) once the server accepts
	// connections. It runs on ListenAndServe's goroutine, which does not
	// watch ctx until it returns, so it should return promptly.
	OnListen func(net.Addr)

	// TLSCertFile and TLSKeyFile, both set, make the server speak TLS
	// (HTTPS and WSS) with the PEM certificate chain and private key in
	// them, and HTTP/2 on the HTTP transports (EventSource, long-poll,
	// REST; a WebSocket is always HTTP/1.1). The files are read at start
	// and again when they change (tls.go), so a renewal needs no
	// restart. One without the other is an error.
	TLSCertFile, TLSKeyFile string

	// MetricsAddr, when set, serves the Prometheus metrics at /metrics
	// on a listener of its own at this address (host:port; port 0 picks
	// a free one), plain HTTP whatever TLSCertFile says: bind it to an
	// address only the monitoring reaches. Empty means no metrics: none
	// are counted either. docs/operations.md lists them.
	MetricsAddr string
	// MetricsListener, if not nil, is served instead of a new listener
	// on MetricsAddr; ListenAndServe closes it when it returns.
	MetricsListener net.Listener
	// OnMetricsListen, if not nil, is called with the metrics listener's
	// address once it accepts connections, before OnListen.
	OnMetricsListen func(net.Addr)

	// ShutdownTimeout bounds the graceful part of the shutdown, waiting
	// for the sessions to answer what they received and for the model
	// actors to finish their mailboxes; what remains after it is closed.
	// Zero means DefaultShutdownTimeout, negative no bound.
	ShutdownTimeout time.Duration

	// Gateway configures the [Server]. Its DataDir defaults to DataDir,
	// its Logger to Logger.
	Gateway Config
	// Actors configures the [actors.System]. Its Registry and Documents
	// must be nil: ListenAndServe sets them from Registry and Models. Its
	// Logger defaults to Logger, its Rules to [models.DefaultRules] of
	// whether Gateway has an Authenticator. Its MaxMessageSize is the message limit
	// of every transport.
	Actors actors.Config
}

// ListenAndServe runs a bertsync server, what bertsync serve runs, until
// ctx ends. It opens the store in cfg.DataDir (or the PostgreSQL database
// of cfg.Store, and then joins the other nodes on it: serve_cluster.go),
// starts an [actors.System]
// serving the types of cfg.Registry and, for every other type (or those
// of cfg.Models), the document model, and serves a [Server] on cfg.Addr
// or cfg.Listener with an [http.Server] that has no read or write
// timeout, since the Bullet transports set their own deadlines.
//
// When ctx ends it shuts down gracefully, in this order: new sessions
// and messages are refused and /readyz answers 503 ([Server.Shutdown]);
// the sessions answer what they received and stop, which ends their
// connections (WebSocket close 1001), and the model actors finish their
// mailboxes ([actors.System.Shutdown]); the polling clients fetch what
// is buffered for them; then the listener closes, the HTTP requests
// still running end, and the store is closed. The listener stays open
// while the sessions drain so that polling clients can come back for
// their messages. Whatever still runs after cfg.ShutdownTimeout is closed
// without waiting. The handlers' contexts do not end with ctx, so that
// the requests in flight are answered.
//
// It returns nil after a shutdown that ctx asked for. Otherwise it
// returns the error that kept the server from starting (at once for a
// config that cannot work, see [Config.Validate]) or the one that stopped
// it, after the same shutdown; or the error of closing the store.
//
// To mount the gateway beside routes of one's own, build the parts as
// ListenAndServe does: [models.OpenStore], [models.NewDocuments],
// [actors.NewSystem] and [New]; to stop, call [Server.Shutdown] and
// [actors.System.Shutdown] together, then close the store.
func ListenAndServe(ctx context.Context, cfg ServeConfig) error {
	// The listeners are ours from here on, whatever happens.
	closeListener := cfg.Listener != nil
	defer func() {
		if closeListener {
			cfg.Listener.Close()
		}
	}()
	if ml := cfg.MetricsListener; ml != nil {
		defer ml.Close() // a second Close, after its server's, does nothing
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	log := cfg.Logger

	var certs *certReloader
	if cfg.TLSCertFile != "" {
		if certs, err = newCertReloader(cfg.TLSCertFile, cfg.TLSKeyFile, log); err != nil {
			return err
		}
	}
	// The metrics exist only when served; the model types named in
	// the configuration get labels of their own.
	var m *metrics.Metrics
	if cfg.MetricsAddr != "" || cfg.MetricsListener != nil {
		m = metrics.New(metrics.Options{Models: metricModels(cfg)})
	}
	cfg.Gateway.metrics, cfg.Actors.Metrics = m, m

	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("gateway: data directory: %w", err)
	}
	scfg := models.StoreConfig{History: cfg.History, MaxTypes: cfg.MaxTypes}
	if m != nil {
		scfg.ObserveCommit = m.ObserveCommit
		scfg.ObserveHistory = m.SetHistorySize
	}
	served, err := openServedStore(ctx, cfg, scfg)
	if err != nil {
		return err
	}
	store := served.docs
	storeOpen := true
	defer func() {
		if storeOpen {
			store.Close()
		}
	}()

	stopMetrics, err := serveMetrics(&cfg, m, log)
	if err != nil {
		return err
	}
	defer stopMetrics()

	// The actors outlive ctx: in-flight requests are answered after it
	// ends, so their handlers' context must not end with it.
	acfg := cfg.Actors
	acfg.Registry = cfg.Registry
	// A recovery's replay goes to the connection's queue at once: leave
	// room there for the live pushes and replies around it.
	if acfg.MaxRecoveryEvents == 0 {
		acfg.MaxRecoveryEvents = halfOf(limits.Resolve(cfg.Gateway.MaxQueue, DefaultMaxQueue))
	}
	if acfg.MaxRecoverySize == 0 {
		acfg.MaxRecoverySize = halfOf(limits.Resolve(cfg.Gateway.MaxQueueSize, DefaultMaxQueueSize))
	}
	acfg.Documents = models.NewDocumentsWith(store, models.DocumentsConfig{Models: cfg.Models, MaxTypes: cfg.MaxTypes})
	sys, err := actors.NewSystem(context.WithoutCancel(ctx), acfg)
	if err != nil {
		return err
	}
	ln, opened := cfg.Listener, false
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Addr); err != nil {
			sys.Shutdown(context.Background())
			return err
		}
		cfg.Listener, closeListener, opened = ln, true, true
	}
	// The allowed hosts need the port listened on.
	if len(cfg.Gateway.AllowedHosts) == 0 {
		if cfg.Gateway.AllowedHosts, err = listenHosts(cfg.Addr, ln.Addr(), opened); err != nil {
			sys.Shutdown(context.Background())
			return err
		}
	}
	cfg.Gateway.ReadyCheck = storeReady(served, cfg.Gateway.ReadyCheck)
	var node *clusterSeat
	if served.pg != nil {
		if node, err = joinCluster(ctx, cfg, served.pg, ln.Addr(), m); err != nil {
			sys.Shutdown(context.Background())
			return err
		}
		cfg.Gateway.Cluster = node.gw
		cfg.Gateway.Files = models.NewPGFiles(served.pg.Pool())
	}
	// The tail starts from the tops read before the node serves: no
	// subscriber of this node can be answered a Seq it has passed.
	var start models.TailStart
	if node != nil {
		if start, err = served.pg.TailStart(ctx); err != nil {
			err = fmt.Errorf("gateway: cluster: %w", err)
		}
	}
	var gw *Server
	if err == nil {
		gw, err = New(sys, cfg.Gateway)
	}
	if err != nil {
		sys.Shutdown(context.Background())
		if node != nil {
			node.leave()
		}
		return err
	}
	if node != nil {
		node.tail(served.pg, start, sys)
	}
	defer m.AddQueues(gw.queued)()
	// srv.Serve closes ln, and srv.Shutdown waits for that.
	closeListener = false
	srv := &http.Server{
		Handler:           gw,
		ReadHeaderTimeout: serveReadHeaderTimeout,
		IdleTimeout:       serveIdleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	if g := newConnGuard(&gw.cfg, log); g != nil {
		srv.ConnState = g.connState
	}
	serving := make(chan error, 1)
	if certs != nil {
		srv.TLSConfig = certs.tlsConfig()
		go func() { serving <- srv.ServeTLS(ln, "", "") }()
	} else {
		go func() { serving <- srv.Serve(ln) }()
	}
	build := metrics.ReadBuild()
	log.Info("listening", "addr", ln.Addr().String(), "path", gw.cfg.Path, "data", cfg.DataDir, "store", served.where,
		"hosts", strings.Join(gw.cfg.AllowedHosts, ","), "tls", certs != nil,
		"version", build.Version, "revision", build.Revision, "go", build.GoVersion)
	if cfg.OnListen != nil {
		cfg.OnListen(ln.Addr())
	}

	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case serveErr = <-serving:
		log.Error("server stopped", "err", serveErr)
	}

	sctx, cancel := context.Background(), context.CancelFunc(func() {})
	if cfg.ShutdownTimeout > 0 {
		sctx, cancel = context.WithTimeout(sctx, cfg.ShutdownTimeout)
	}
	defer cancel()
	// The gateway refuses new sessions and waits for its connections,
	// which end as the actors drain their sessions (answering what is in
	// flight) and polling clients take what is left for them. Only then
	// does the listener close, so that they can come back for it. The
	// refusing begins before the draining, so that no request finds its
	// session drained and starts another.
	gw.beginShutdown()
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := gw.Shutdown(sctx); err != nil {
			log.Warn("gateway shutdown", "err", err)
		}
	})
	if err := sys.Shutdown(sctx); err != nil {
		log.Warn("actors shutdown", "err", err)
	}
	wg.Wait()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("http shutdown", "err", err)
		srv.Close()
	}
	if node != nil {
		node.leave()
	}
	storeOpen = false
	if err := store.Close(); err != nil {
		return fmt.Errorf("gateway: closing the store: %w", err)
	}
	log.Info("stopped")
	return serveErr
}

// listenHosts is the default of [Config.AllowedHosts] for a server
// listening on ln: for the host of addr, when ListenAndServe opened ln on
// it (a host name stays a name), else of ln's own address; with ln's port.
func listenHosts(addr string, ln net.Addr, fromAddr bool) ([]string, error) {
	_, port, err := net.SplitHostPort(ln.String())
	if err != nil {
		return nil, fmt.Errorf("gateway: the listener's address %q has no port: set the allowed hosts", ln)
	}
	host, _, err := net.SplitHostPort(ln.String())
	if fromAddr {
		host, _, err = net.SplitHostPort(addr)
	}
	if err != nil {
		return nil, fmt.Errorf("gateway: listen address %q: %w", addr, err)
	}
	return DefaultAllowedHosts(net.JoinHostPort(host, port))
}

// withDefaults returns c with zero fields replaced by their defaults and
// the shared settings passed on to Gateway and Actors, or an error for
// settings that cannot work.
func (c ServeConfig) withDefaults() (ServeConfig, error) {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("DataDir must not be empty"))
	}
	if c.Actors.Registry != nil || c.Actors.Documents != nil {
		errs = append(errs, errors.New("Actors.Registry and Actors.Documents must be nil: set Registry and Models"))
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, errors.New("TLSCertFile and TLSKeyFile go together: set both or neither"))
	}
	switch {
	case c.Store != "" && c.ClusterAddr == "":
		errs = append(errs, errors.New("a PostgreSQL Store needs a ClusterAddr, where this node listens for the others"))
	case c.Store == "" && c.ClusterAddr != "":
		errs = append(errs, errors.New("ClusterAddr needs a PostgreSQL Store: the nodes find each other through the database"))
	case c.Store != "" && c.History.Size < 0:
		// The history is how the other nodes hear of an event.
		errs = append(errs, errors.New("a PostgreSQL Store needs a history (History.Size not negative, --history-size above 0): the other nodes read their events from it"))
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("gateway: serve: %w", err)
	}
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if len(c.Gateway.AllowedHosts) == 0 && c.Listener == nil {
		// Refused before anything is opened.
		if _, err := DefaultAllowedHosts(c.Addr); err != nil {
			return c, err
		}
	}
	c.ShutdownTimeout = limits.Resolve(c.ShutdownTimeout, DefaultShutdownTimeout)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Gateway.Logger == nil {
		c.Gateway.Logger = c.Logger
	}
	if c.Gateway.DataDir == "" {
		c.Gateway.DataDir = c.DataDir
	}
	if c.Actors.Logger == nil {
		c.Actors.Logger = c.Logger
	}
	if c.Actors.Rules == nil {
		// DESIGN §6: with authentication and no rules every method
		// needs an authenticated caller.
		c.Actors.Rules = models.DefaultRules(c.Gateway.Authenticator != nil)
	}
	// Checked now, before anything is opened.
	if err := c.Gateway.Validate(); err != nil {
		return c, err
	}
	return c, nil
}

// metricModels are the model types with labels of their own in the
// metrics: those of the registry, of Models and of the rules.
func metricModels(c ServeConfig) []string {
	names := append(c.Registry.Names(), c.Models...)
	if c.Actors.Rules != nil {
		names = append(names, c.Actors.Rules.Types()...)
	}
	return names
}

// storeReady is the readiness check of a server on store, with the
// program's own check, if any, after it.
func storeReady(store *servedStore, more func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := store.docs.Ready(ctx); err != nil {
			return fmt.Errorf("store %s: %w", store.where, err)
		}
		if more != nil {
			return more(ctx)
		}
		return nil
	}
}

// serveMetrics serves m at /metrics on cfg's metrics listener, when there
// is one, until stop is called.
func serveMetrics(cfg *ServeConfig, m *metrics.Metrics, log *slog.Logger) (stop func(), err error) {
	ln := cfg.MetricsListener
	if m == nil {
		return func() {}, nil
	}
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			return nil, fmt.Errorf("gateway: metrics listener: %w", err)
		}
	}
	cfg.MetricsListener = nil // the server below closes it
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: serveReadHeaderTimeout,
		IdleTimeout:       serveIdleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	go srv.Serve(ln)
	log.Info("serving metrics", "addr", ln.Addr().String(), "path", "/metrics")
	if cfg.OnMetricsListen != nil {
		cfg.OnMetricsListen(ln.Addr())
	}
	return func() { srv.Close() }, nil
}

// halfOf is half a resolved limit, at least 1; no limit stays none.
func halfOf(limit int) int {
	if !limits.Set(limit) {
		return limit
	}
	return max(limit/2, 1)
}
