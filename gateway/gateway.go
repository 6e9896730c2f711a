package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bertsync/bertsync/actors"
)

// Server is bertsync's HTTP front: the Bullet endpoint at [Config.Path]
// with its four transports, and the REST, upload and static handlers. It
// is an [http.Handler]; its methods are safe for concurrent use.
type Server struct {
	sys      *actors.System
	cfg      Config
	log      *slog.Logger
	mux      *http.ServeMux
	upgrader websocket.Upgrader
	writers  *wsWriters

	mu       sync.Mutex
	shutting bool
	// forced is set by Close: polling sessions no longer keep their
	// messages for their clients' last polls.
	forced atomic.Bool
	// quit is closed when Shutdown or Close begins.
	quit  chan struct{}
	conns map[*wsConn]struct{}
	polls map[string]*pollSession // by cookie + "/" + channel
	// browsers counts the live polling sessions of each cookie.
	browsers map[string]int
	// maxMessage is the largest message a client may send, from the
	// actor system's config (noMessageLimit for none).
	maxMessage int
	pushTexts  pushTexts
	// hosts is the parsed Config.AllowedHosts; admit counts the
	// connections and polling sessions against their limits.
	hosts hostPolicy
	admit *admission
	// now is the clock of the rate limiters.
	now func() time.Time
	// active counts running Bullet handlers and live polling sessions.
	active sync.WaitGroup
}

// New returns a Server that runs its sessions on sys. It fails when cfg
// has settings that cannot work (see [Config]).
func New(sys *actors.System, cfg Config) (*Server, error) {
	if sys == nil {
		return nil, errors.New("gateway: nil actor system")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		sys:      sys,
		cfg:      cfg,
		log:      cfg.Logger,
		mux:      http.NewServeMux(),
		quit:     make(chan struct{}),
		conns:    make(map[*wsConn]struct{}),
		polls:    make(map[string]*pollSession),
		browsers: make(map[string]int),
	}
	if s.hosts, err = parseAllowedHosts(cfg.AllowedHosts); err != nil {
		return nil, err
	}
	s.admit = newAdmission(&s.cfg)
	s.now = cfg.now
	if s.now == nil {
		s.now = time.Now
	}
	s.maxMessage = sys.Config().MaxMessageSize
	if s.maxMessage <= 0 {
		s.maxMessage = noMessageLimit
	}
	s.initWebSocket()
	s.mux.HandleFunc(cfg.Path, s.serveBullet)
	// /api/ (REST and upload), /files/ and / (the embedded browser files).
	if err := s.mountHTTP(); err != nil {
		return nil, err
	}
	if cfg.Cluster != nil {
		if err := cfg.Cluster.attach(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// ServeHTTP routes r to the Bullet endpoint or the other handlers. A
// request whose Host is not one of [Config.AllowedHosts] gets 421
// Misdirected Request, whatever its route but the health checks
// (health.go).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.serveHealth(w, r) {
		return
	}
	if err := s.checkHost(r); err != nil {
		s.refuse(w, r, &refusal{status: http.StatusMisdirectedRequest, reason: err.Error()})
		return
	}
	s.mux.ServeHTTP(w, r)
}

// Shutdown stops the Bullet endpoint gracefully. New connections,
// sessions and messages are refused with 503 at once, and /readyz answers
// 503. Then Shutdown waits until every WebSocket connection and polling
// session has ended. They end when their sessions stop, which
// [actors.System.Shutdown] makes them do after answering the requests in
// flight: call it alongside Shutdown, as bertsync serve does. Meanwhile
// the held long-polls and EventSource streams of a session get what it
// sends, and a polling session the shutdown ended keeps what its client
// has not polled yet, for the client's next polls (for a few seconds,
// session.go), so that nothing buffered for a polling client is lost.
// When ctx ends first, Shutdown closes whatever remains ([Server.Close])
// and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.beginShutdown()
	done := make(chan struct{})
	go func() {
		s.active.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.Close()
		return fmt.Errorf("gateway: shutdown: %w", ctx.Err())
	}
}

// Close ends every connection at once: each session stops without
// waiting for its replies in flight and closes its transport, and a
// WebSocket whose writer is stuck on a full socket is dropped. It does
// not wait for the handlers to return.
func (s *Server) Close() error {
	s.forced.Store(true)
	s.beginShutdown()
	if c := s.cfg.Cluster; c != nil {
		c.Close()
	}
	s.mu.Lock()
	sessions := make([]*actors.Session, 0, len(s.conns)+len(s.polls))
	var sockets []*websocket.Conn
	for c := range s.conns {
		sessions = append(sessions, c.sess)
		sockets = append(sockets, c.conn)
	}
	polls := make([]*pollSession, 0, len(s.polls))
	for _, p := range s.polls {
		sessions = append(sessions, p.sess)
		polls = append(polls, p)
	}
	s.mu.Unlock()
	for _, ss := range sessions {
		ss.Stop(actors.ServerShutdown)
	}
	// Those that ended keeping messages let them go now.
	for _, p := range polls {
		if p.isClosed() {
			p.release()
		}
	}
	// The socket is the reader's and writer's, not the transport's
	// close: closing it wakes both, and the reader then ends the
	// session, which is stopped already.
	for _, c := range sockets {
		c.NetConn().SetDeadline(time.Now())
	}
	return nil
}

func (s *Server) beginShutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.shutting {
		s.shutting = true
		close(s.quit)
	}
}

// track counts a running handler in (delta 1) and out (delta -1). It
// refuses new handlers once shutdown has begun.
func (s *Server) track(delta int) bool {
	if delta < 0 {
		s.active.Done()
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutting {
		return false
	}
	s.active.Add(1)
	return true
}

func (s *Server) addConn(c *wsConn) {
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	s.cfg.metrics.ConnOpened(transportWebSocket)
}

// removeConn forgets c once its reader has ended, which has set its
// close reason for good.
func (s *Server) removeConn(c *wsConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.cfg.metrics.ConnClosed(transportWebSocket, actors.ReasonLabel(c.reason))
}

// serveBullet chooses the transport the way Bullet's Cowboy handler does
// (docs/bullet.md).
func (s *Server) serveBullet(w http.ResponseWriter, r *http.Request) {
	if s.routeBullet(w, r) {
		return // served by the node of its session (clusterroute.go)
	}
	if err := s.checkOrigin(r); err != nil {
		httpError(w, http.StatusForbidden, err.Error())
		return
	}
	if r.Method != http.MethodOptions {
		id, ok := s.authenticate(w, r)
		if !ok {
			return
		}
		r = withIdentity(r, id)
	}
	switch {
	case websocket.IsWebSocketUpgrade(r):
		s.serveWebSocket(w, r)
	case r.Method == http.MethodGet && acceptsEventStream(r):
		s.serveEventSource(w, r)
	case r.Method == http.MethodGet:
		s.servePoll(w, r)
	case r.Method == http.MethodPost:
		s.servePost(w, r)
	case r.Method == http.MethodOptions && r.Header.Get("Origin") != "" &&
		r.Header.Get("Access-Control-Request-Method") != "":
		s.servePreflight(w, r, "GET, POST")
	default:
		w.Header().Set("Allow", "GET, POST")
		httpError(w, http.StatusMethodNotAllowed,
			fmt.Sprintf("method %s not allowed: the Bullet endpoint takes GET (WebSocket, EventSource, long-poll) and POST", r.Method))
	}
}

// originPolicy is the origin check and CORS of a [Server], for the REST
// handler beside the Bullet endpoint.
type originPolicy interface {
	checkOrigin(r *http.Request) error
	allowCORS(w http.ResponseWriter, r *http.Request)
	servePreflight(w http.ResponseWriter, r *http.Request, methods string)
}

var _ originPolicy = (*Server)(nil)

// originKind is how [Config.AllowedOrigins] admits an origin.
type originKind int

const (
	originRefused originKind = iota
	originOwn                // a page of this server
	originListed             // named in AllowedOrigins
	originAny                // admitted by "*" only
)

// classifyOrigin says how r's Origin header is admitted. A page's own
// origin is one whose host and port are those of the request's Host,
// which [Server.ServeHTTP] has checked against [Config.AllowedHosts]:
// a page of a rebound name never gets this far.
func (s *Server) classifyOrigin(r *http.Request, origin string) originKind {
	u, err := url.Parse(origin)
	if err == nil && u.Host != "" {
		if sameAuthority(u, r) {
			return originOwn
		}
		for _, a := range s.cfg.AllowedOrigins {
			if strings.Contains(a, "://") {
				if strings.EqualFold(strings.TrimSuffix(a, "/"), origin) {
					return originListed
				}
			} else if strings.EqualFold(a, u.Host) {
				return originListed
			}
		}
	}
	if slices.Contains(s.cfg.AllowedOrigins, "*") {
		return originAny
	}
	return originRefused
}

// sameAuthority reports whether the origin u names the host and port of
// r's Host. A side without a port has its scheme's; when neither has one
// only the hosts are compared, so that a proxy in front that ends TLS
// (r.TLS is nil, the origin https) changes nothing.
func sameAuthority(u *url.URL, r *http.Request) bool {
	oh, op, err := splitHost(u.Host)
	if err != nil {
		return false
	}
	rh, rp, err := splitHost(r.Host)
	if err != nil || oh != rh {
		return false
	}
	switch {
	case op == rp:
		return true
	case op == "":
		return rp == map[string]string{"http": "80", "https": "443"}[u.Scheme]
	case rp == "":
		return op == defaultPort(r)
	}
	return false
}

// checkOrigin enforces [Config.AllowedOrigins] on requests from browsers
// (those with an Origin header).
func (s *Server) checkOrigin(r *http.Request) error {
	origin := r.Header.Get("Origin")
	if origin == "" || s.classifyOrigin(r, origin) != originRefused {
		return nil
	}
	return fmt.Errorf("origin %q not allowed: only pages of %s and the allowed origins may connect", origin, r.Host)
}

// allowCORS lets an allowed foreign origin read the response of an HTTP
// transport: a listed origin with its cookies, any other one that "*"
// admits without them, so that "*" never lets a foreign page act with a
// visitor's cookies.
func (s *Server) allowCORS(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return
	}
	h := w.Header()
	switch s.classifyOrigin(r, origin) {
	case originListed:
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Add("Vary", "Origin")
	case originAny:
		h.Set("Access-Control-Allow-Origin", "*")
	}
}

// servePreflight answers a CORS preflight of an allowed origin for the
// given methods (bullet.js sends an X-Socket-Transport header, which needs
// one; REST clients send PUT, PATCH and DELETE).
func (s *Server) servePreflight(w http.ResponseWriter, r *http.Request, methods string) {
	s.allowCORS(w, r)
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", methods)
	if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
		h.Set("Access-Control-Allow-Headers", req)
	}
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}

// acceptsEventStream reports whether r's Accept header lists
// text/event-stream.
func acceptsEventStream(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(v, ",") {
			mt, _, _ := strings.Cut(part, ";")
			if strings.EqualFold(strings.TrimSpace(mt), "text/event-stream") {
				return true
			}
		}
	}
	return false
}

// httpError answers with status and a one-line reason as plain text.
func httpError(w http.ResponseWriter, status int, reason string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintln(w, reason)
}
