package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Admission: what a client must pass before the server spends anything
// on it. In order:
//
//   - the Host header must name this server ([Config.AllowedHosts]), on
//     every route, or the request gets 421. A browser sends the name it
//     resolved, so a page whose DNS name an attacker rebound to this
//     server's address still says Host: evil.example and is refused;
//     without this check the same-origin test, which compares Origin
//     with Host, passes such a page.
//   - a connection that stays open (WebSocket, EventSource stream,
//     long-poll) must fit in [Config.MaxConns] (else 503) and in its
//     address's [Config.MaxConnsPerAddr] (else 429); a new polling
//     session in [Config.MaxPollSessions] and the address's share. Both
//     are answered before any upgrade, so that one client cannot take
//     the file descriptors everyone else needs.
//   - each message a client sends on a WebSocket or polling session
//     takes a token from that connection's bucket
//     ([Config.MaxMessageRate]); one that finds none is answered
//     rate_limited in its place among the replies.
//
// Clients are counted by address: an IPv4 address, or the /64 prefix of
// an IPv6 one, since a single IPv6 host usually holds a whole /64.

// loopbackHosts are the names a server bound to loopback answers to.
var loopbackHosts = []string{"localhost", "127.0.0.1", "::1"}

// hostPattern is one entry of [Config.AllowedHosts]: a lower-case host
// (an IPv6 literal without brackets) and a port, "" for any.
type hostPattern struct{ host, port string }

// hostPolicy is the parsed [Config.AllowedHosts].
type hostPolicy struct {
	any      bool
	patterns []hostPattern
}

// parseAllowedHosts parses [Config.AllowedHosts]; empty means the
// loopback names on any port.
func parseAllowedHosts(list []string) (hostPolicy, error) {
	if len(list) == 0 {
		list = loopbackHosts
	}
	var p hostPolicy
	for _, e := range list {
		e = strings.TrimSpace(e)
		if e == "*" {
			p.any = true
			continue
		}
		host, port, err := splitHost(e)
		if strings.Contains(e, "/") {
			err = errors.New("a host, not a URL or a path")
		}
		if err != nil {
			return hostPolicy{}, fmt.Errorf("gateway: allowed host %q: %w (want a name or IP literal, with an optional :port)", e, err)
		}
		p.patterns = append(p.patterns, hostPattern{host, port})
	}
	return p, nil
}

// allows reports whether hostport (a Host header, or an origin's host)
// names this server; defPort is the port a hostport without one means.
func (p *hostPolicy) allows(hostport, defPort string) bool {
	if p.any {
		return true
	}
	host, port, err := splitHost(hostport)
	if err != nil {
		return false
	}
	if port == "" {
		port = defPort
	}
	for _, a := range p.patterns {
		if a.host == host && (a.port == "" || a.port == port) {
			return true
		}
	}
	return false
}

// splitHost splits a Host header or an AllowedHosts entry into its host,
// lower case, without brackets or a trailing dot, an IP literal in its
// canonical form, and its port ("" when it has none).
func splitHost(s string) (host, port string, err error) {
	switch {
	case s == "":
		return "", "", errors.New("empty")
	case s[0] == '[':
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", errors.New("unclosed [")
		}
		host = s[1:end]
		switch rest := s[end+1:]; {
		case rest == "":
		case rest[0] == ':':
			port = rest[1:]
			if port == "" {
				return "", "", errors.New("empty port")
			}
		default:
			return "", "", errors.New("junk after ]")
		}
		if _, err := netip.ParseAddr(host); err != nil || !strings.Contains(host, ":") {
			return "", "", errors.New("not an IPv6 literal in brackets")
		}
	case strings.Count(s, ":") > 1:
		host = s // a bare IPv6 literal
		if _, err := netip.ParseAddr(host); err != nil {
			return "", "", errors.New("not an IPv6 literal")
		}
	default:
		var ok bool
		if host, port, ok = strings.Cut(s, ":"); ok && port == "" {
			return "", "", errors.New("empty port")
		}
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '0' {
			return "", "", fmt.Errorf("bad port %q", port)
		}
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.WithZone("").Unmap().String(), port, nil
	}
	if host == "" {
		return "", "", errors.New("empty host")
	}
	for i := 0; i < len(host); i++ {
		switch c := host[i]; {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '.', c == '_':
		default:
			return "", "", fmt.Errorf("character %q in a host name", c)
		}
	}
	return host, port, nil
}

// DefaultAllowedHosts returns the [Config.AllowedHosts] that
// [ListenAndServe] uses for a server listening on addr (host:port) when
// none are set: the listen address, and for a loopback address (or
// localhost) the loopback names too, localhost, 127.0.0.1 and [::1], all
// on addr's port. It fails for an address that listens on every
// interface (0.0.0.0, ::, or no host): the names clients use for such a
// server cannot be guessed, and must be listed.
func DefaultAllowedHosts(addr string) ([]string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("gateway: listen address %q: %w", addr, err)
	}
	ip, ipErr := netip.ParseAddr(host)
	if host == "" || ipErr == nil && ip.IsUnspecified() {
		return nil, fmt.Errorf("gateway: listen address %q is every interface: set the allowed hosts to the names clients use for this server (or * to accept any Host, which allows DNS rebinding)", addr)
	}
	hosts := []string{net.JoinHostPort(host, port)}
	if ipErr == nil && ip.IsLoopback() || strings.EqualFold(host, "localhost") {
		for _, h := range loopbackHosts {
			if hp := net.JoinHostPort(h, port); !strings.EqualFold(hp, hosts[0]) {
				hosts = append(hosts, hp)
			}
		}
	}
	return hosts, nil
}

// defaultPort is the port of a request's Host header that has none.
func defaultPort(r *http.Request) string {
	if r.TLS != nil {
		return "443"
	}
	return "80"
}

// checkHost refuses requests whose Host this server does not serve. The
// answer does not list the hosts that are served, which anyone could
// otherwise learn; the log does.
func (s *Server) checkHost(r *http.Request) error {
	if s.hosts.allows(r.Host, defaultPort(r)) {
		return nil
	}
	if s.log.Enabled(r.Context(), slog.LevelDebug) {
		served := s.cfg.AllowedHosts
		if len(served) == 0 {
			served = []string{"localhost", "127.0.0.1", "[::1]"}
		}
		s.log.Debug("gateway: host not served", "host", r.Host, "served", strings.Join(served, ","))
	}
	return fmt.Errorf("host %q is not served here (see the allowed hosts, bertsync serve --allowed-hosts)", r.Host)
}

// clientAddr is the key clients are counted by: the IPv4 address, or the
// /64 of the IPv6 address, of remoteAddr (an [http.Request.RemoteAddr]).
// Addresses that are not IP (a Unix socket) share the zero key.
func clientAddr(remoteAddr string) netip.Prefix {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return netip.Prefix{}
	}
	a := ap.Addr().WithZone("").Unmap()
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}

// describeAddr writes a client key for messages: the address, or the
// IPv6 prefix.
func describeAddr(p netip.Prefix) string {
	switch {
	case !p.IsValid():
		return "this client"
	case p.Addr().Is4():
		return p.Addr().String()
	}
	return p.String()
}

// refusal is an admission's answer: an HTTP status and its reason, and
// the name of the limit passed (for the metrics; empty for a Host not
// served).
type refusal struct {
	status int
	reason string
	limit  string
}

func (e *refusal) Error() string { return e.reason }

// counter counts resources held by clients, in all and by address.
type counter struct {
	what        string // "connections", "polling sessions"
	max, maxPer int    // resolved limits
	n           int
	by          map[netip.Prefix]int

	// maxName and maxPerName name the limits in the metrics.
	maxName, maxPerName string
}

// acquire counts one more for key, or refuses it.
func (c *counter) acquire(key netip.Prefix) *refusal {
	if c.max > 0 && c.n >= c.max {
		return &refusal{http.StatusServiceUnavailable,
			fmt.Sprintf("server busy: it holds its limit of %d %s; try again later", c.max, c.what), c.maxName}
	}
	if c.maxPer > 0 && c.by[key] >= c.maxPer {
		return &refusal{http.StatusTooManyRequests,
			fmt.Sprintf("too many %s: %s holds its limit of %d", c.what, describeAddr(key), c.maxPer), c.maxPerName}
	}
	c.n++
	c.by[key]++
	return nil
}

func (c *counter) release(key netip.Prefix) {
	c.n--
	if c.by[key]--; c.by[key] <= 0 {
		delete(c.by, key)
	}
}

// admission holds the counts of [Config.MaxConns], MaxConnsPerAddr and
// MaxPollSessions.
type admission struct {
	mu    sync.Mutex
	conns counter
	polls counter
}

func newAdmission(cfg *Config) *admission {
	return &admission{
		conns: counter{what: "connections", max: cfg.MaxConns, maxPer: cfg.MaxConnsPerAddr,
			maxName: "max_conns", maxPerName: "max_conns_per_addr", by: make(map[netip.Prefix]int)},
		polls: counter{what: "polling sessions", max: cfg.MaxPollSessions, maxPer: cfg.MaxConnsPerAddr,
			maxName: "max_poll_sessions", maxPerName: "max_conns_per_addr", by: make(map[netip.Prefix]int)},
	}
}

func (a *admission) acquire(c *counter, key netip.Prefix) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if rf := c.acquire(key); rf != nil {
		return rf
	}
	return nil
}

func (a *admission) release(c *counter, key netip.Prefix) {
	a.mu.Lock()
	c.release(key)
	a.mu.Unlock()
}

// admitConn counts r as a connection that stays open, or answers it 503
// or 429 and reports false. The caller calls release once the connection
// ends.
func (s *Server) admitConn(w http.ResponseWriter, r *http.Request) (release func(), ok bool) {
	key := clientAddr(r.RemoteAddr)
	if err := s.admit.acquire(&s.admit.conns, key); err != nil {
		s.refuse(w, r, err)
		return nil, false
	}
	var once sync.Once
	return func() { once.Do(func() { s.admit.release(&s.admit.conns, key) }) }, true
}

// refuse answers a request that admission turned away. Over HTTP/1 the
// connection is closed after the answer, so that a refused client keeps
// no idle connection (and its file descriptor) either.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusServiceUnavailable
	var rf *refusal
	if errors.As(err, &rf) {
		status = rf.status
		s.cfg.metrics.ConnRefused(refusalReason(rf))
	}
	if r.ProtoMajor == 1 {
		w.Header().Set("Connection", "close")
	}
	s.log.Debug("gateway: request refused", "remote", r.RemoteAddr, "status", status, "reason", err.Error())
	httpError(w, status, err.Error())
}

// newLimiter returns the token bucket of one connection or polling
// session, nil when there is no rate limit.
func (s *Server) newLimiter() *rate.Limiter {
	if s.cfg.MaxMessageRate <= 0 || s.cfg.MaxMessageBurst <= 0 {
		return nil
	}
	// The bucket starts full.
	return rate.NewLimiter(rate.Limit(s.cfg.MaxMessageRate), s.cfg.MaxMessageBurst)
}

// allowMessage takes a token for one message from l.
func (s *Server) allowMessage(l *rate.Limiter) bool {
	return l == nil || l.AllowN(s.now(), 1)
}

// rateLimitedMessage is the reason of a rate_limited reply.
func (s *Server) rateLimitedMessage() string {
	return fmt.Sprintf("more than %d messages a second (bursts of %d): this message was not processed",
		s.cfg.MaxMessageRate, s.cfg.MaxMessageBurst)
}

// connGuard bounds the TCP connections of one client address that
// net/http serves (those not hijacked by a WebSocket upgrade, which
// admission counts), through [http.Server.ConnState]. Admission only
// sees requests; without this a client could hold connections that send
// none, or idle keep-alive ones, until the server ran out of file
// descriptors. A connection past the bound is closed as soon as it is
// accepted.
type connGuard struct {
	max int
	log *slog.Logger

	mu    sync.Mutex
	open  map[netip.Prefix]int
	conns map[net.Conn]netip.Prefix
	// logged limits the log lines about refused connections, which a
	// flood would otherwise multiply, to one a second.
	logged time.Time
}

// newConnGuard returns the guard for [ListenAndServe], which allows each
// address twice MaxConnsPerAddr connections (room for its ordinary
// requests and for the answers refusing its connections past the bound),
// or nil with no per-address bound.
func newConnGuard(cfg *Config, log *slog.Logger) *connGuard {
	if cfg.MaxConnsPerAddr <= 0 {
		return nil
	}
	return &connGuard{
		max:   2 * cfg.MaxConnsPerAddr,
		log:   log,
		open:  make(map[netip.Prefix]int),
		conns: make(map[net.Conn]netip.Prefix),
	}
}

// connState is the [http.Server.ConnState] hook.
func (g *connGuard) connState(c net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		key := clientAddr(c.RemoteAddr().String())
		g.mu.Lock()
		if g.open[key] >= g.max {
			now := time.Now()
			logIt := now.Sub(g.logged) >= time.Second
			if logIt {
				g.logged = now
			}
			g.mu.Unlock()
			if logIt {
				g.log.Warn("gateway: connection refused: too many from one address", "addr", describeAddr(key), "limit", g.max)
			}
			c.Close()
			return
		}
		g.open[key]++
		g.conns[c] = key
		g.mu.Unlock()
	case http.StateHijacked, http.StateClosed:
		g.mu.Lock()
		if key, ok := g.conns[c]; ok {
			delete(g.conns, c)
			if g.open[key]--; g.open[key] <= 0 {
				delete(g.open, key)
			}
		}
		g.mu.Unlock()
	}
}
