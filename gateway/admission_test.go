package gateway

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// secondClient is another client address on loopback: Linux routes all
// of 127.0.0.0/8 there, so a socket bound to it reaches the test servers.
const secondClient = "127.0.0.2"

// dialerFrom dials from the loopback address ip.
func dialerFrom(ip string) *net.Dialer {
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: waitLimit}
}

// dialWS opens a WebSocket from the address ip with the given headers
// (Host among them); it returns the handshake's response on failure.
func (ts *testServer) dialWS(ip string, h http.Header) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{NetDialContext: dialerFrom(ip).DialContext, HandshakeTimeout: waitLimit}
	return d.Dial(ts.wsURL(), h)
}

// mustDialWS is dialWS that fails the test on error and closes the
// connection when the test ends.
func (ts *testServer) mustDialWS(t *testing.T, ip string) *websocket.Conn {
	t.Helper()
	c, resp, err := ts.dialWS(ip, nil)
	if err != nil {
		t.Fatalf("dial from %s: %v (%s)", ip, err, respText(resp))
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// httpClientFrom is httpClient with connections from the address ip.
func (ts *testServer) httpClientFrom(t *testing.T, ip string) *client {
	c := ts.httpClient(t)
	tr := ts.Client().Transport.(*http.Transport).Clone()
	tr.DialContext = dialerFrom(ip).DialContext
	c.hc.Transport = tr
	t.Cleanup(tr.CloseIdleConnections)
	return c
}

func respText(resp *http.Response) string {
	if resp == nil {
		return "no response"
	}
	body, _ := io.ReadAll(resp.Body)
	return resp.Status + ": " + strings.TrimSpace(string(body))
}

// wantRefused checks that a WebSocket handshake was refused with status,
// its reason mentioning what.
func wantRefused(t *testing.T, c *websocket.Conn, resp *http.Response, err error, status int, what string) {
	t.Helper()
	if err == nil {
		c.Close()
		t.Fatalf("connected, want %d", status)
	}
	if resp == nil || resp.StatusCode != status {
		t.Fatalf("got %v (%s), want %d", err, respText(resp), status)
	}
	if got := respText(resp); !strings.Contains(got, what) {
		t.Fatalf("reason %q does not say %q", got, what)
	}
}

// waitConns waits until the server counts n connections.
func waitConns(t *testing.T, s *Server, n int) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		s.admit.mu.Lock()
		got := s.admit.conns.n
		s.admit.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server counts %d connections, want %d", got, n)
		}
		<-time.After(time.Millisecond)
	}
}

// A page of a name rebound to the server's address (DNS rebinding) sends
// its own name as Host and as Origin; the Origin then equals the Host,
// so only the Host check stops it, on every route.
func TestHostRebindingRefused(t *testing.T) {
	t.Parallel()
	// Held polls end at once: only the status matters here.
	ts := newTestServer(t, Config{PollTimeout: time.Millisecond})
	host := strings.TrimPrefix(ts.URL, "http://")
	hc := ts.Client()
	for _, tt := range []struct {
		method, path, body string
		header             []string
	}{
		{"GET", DefaultPath + "?_=1", "", nil},
		{"GET", DefaultPath, "", []string{"Accept", "text/event-stream"}},
		{"POST", DefaultPath, "ping", nil},
		{"OPTIONS", DefaultPath, "", []string{"Access-Control-Request-Method", "POST"}},
		{"GET", "/api/thing", "", nil},
		{"POST", "/api/thing", "{}", []string{"Content-Type", "application/json"}},
		{"GET", "/files/" + strings.Repeat("0", 64), "", nil},
		{"GET", "/", "", nil},
		{"GET", "/bertsync.js", "", nil},
	} {
		for _, h := range []struct {
			host, origin string
			ok           bool
		}{
			{"evil.example", "http://evil.example", false},
			{"evil.example:" + ts.port(), "http://evil.example:" + ts.port(), false},
			{"evil.example", "", false},
			{host, "http://" + host, true},
			{"localhost:" + ts.port(), "http://localhost:" + ts.port(), true},
		} {
			req, err := http.NewRequest(tt.method, ts.URL+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Host = h.host
			if h.origin != "" {
				req.Header.Set("Origin", h.origin)
			}
			for i := 0; i < len(tt.header); i += 2 {
				req.Header.Set(tt.header[i], tt.header[i+1])
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			resp, err := hc.Do(req.WithContext(ctx))
			if err != nil {
				cancel()
				t.Fatalf("%s %s Host %s: %v", tt.method, tt.path, h.host, err)
			}
			// Status and headers are all this needs: an EventSource
			// stream is never read to its end.
			status, reason := resp.StatusCode, ""
			if status == http.StatusMisdirectedRequest {
				reason = respText(resp)
			}
			resp.Body.Close()
			cancel()
			switch {
			case !h.ok && (status != http.StatusMisdirectedRequest || !strings.Contains(reason, h.host)):
				t.Errorf("%s %s Host %s: %d %q, want 421 naming the host", tt.method, tt.path, h.host, status, reason)
			case h.ok && status == http.StatusMisdirectedRequest:
				t.Errorf("%s %s Host %s: refused: %s", tt.method, tt.path, h.host, reason)
			}
		}
	}

	// The WebSocket upgrade.
	c, resp, err := ts.dialWS("127.0.0.1", http.Header{"Host": {"evil.example"}, "Origin": {"http://evil.example"}})
	wantRefused(t, c, resp, err, http.StatusMisdirectedRequest, "evil.example")
	c, resp, err = ts.dialWS("127.0.0.1", http.Header{"Host": {host}, "Origin": {"http://" + host}})
	if err != nil {
		t.Fatalf("own host: %v (%s)", err, respText(resp))
	}
	c.Close()
}

func (ts *testServer) port() string {
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(ts.URL, "http://"))
	return port
}

// With AllowedHosts the server serves those names, on their ports, and
// a page's own origin is the Host it asked for; "*" serves any Host.
func TestAllowedHosts(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{AllowedHosts: []string{"App.Example.", "other.example:8443", "[::1]:1"}})
	for _, tt := range []struct {
		host, origin string
		status       int
	}{
		{"app.example", "", http.StatusOK},
		{"APP.example:1234", "http://app.example:1234", http.StatusOK},
		{"app.example.", "", http.StatusOK},
		{"other.example:8443", "https://other.example:8443", http.StatusOK},
		{"other.example", "", http.StatusMisdirectedRequest}, // port 80
		{"other.example:9", "", http.StatusMisdirectedRequest},
		{"[::1]:1", "", http.StatusOK},
		{"[0:0::1]:1", "", http.StatusOK},
		{"[::1]:2", "", http.StatusMisdirectedRequest},
		{strings.TrimPrefix(ts.URL, "http://"), "", http.StatusMisdirectedRequest},
		{"localhost", "", http.StatusMisdirectedRequest},
		{"sub.app.example", "", http.StatusMisdirectedRequest},
		// A served host, but the page is of another one.
		{"app.example", "http://other.example:8443", http.StatusForbidden},
		{"app.example:1234", "http://app.example:999", http.StatusForbidden},
	} {
		req, _ := http.NewRequest("POST", ts.bulletURL(), strings.NewReader("ping"))
		req.Host = tt.host
		if tt.origin != "" {
			req.Header.Set("Origin", tt.origin)
		}
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != tt.status {
			t.Errorf("Host %s Origin %q: %s, want %d", tt.host, tt.origin, respText(resp), tt.status)
		}
		resp.Body.Close()
	}

	any := newTestServer(t, Config{AllowedHosts: []string{"*"}})
	req, _ := http.NewRequest("POST", any.bulletURL(), strings.NewReader("ping"))
	req.Host = "whatever.example"
	resp, err := any.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Errorf("with *: %s", respText(resp))
	}
	resp.Body.Close()
}

func TestParseAllowedHosts(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"", "http://x.example", "x.example/path", "x.example:", "x.example:0", "x.example:65536",
		"x.example:08", "[::1", "[::1]x", "[x.example]", "::zz", "a b", "x.example:80:80"} {
		if _, err := parseAllowedHosts([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
		if err := (Config{AllowedHosts: []string{bad}}).Validate(); err == nil {
			t.Errorf("Validate: %q accepted", bad)
		}
	}
	p, err := parseAllowedHosts([]string{" Example.COM ", "10.0.0.1:80", "::FFFF:127.0.0.1", "[fe80::1%eth0]:9"})
	if err != nil {
		t.Fatal(err)
	}
	want := []hostPattern{{"example.com", ""}, {"10.0.0.1", "80"}, {"127.0.0.1", ""}, {"fe80::1", "9"}}
	if !slices.Equal(p.patterns, want) {
		t.Errorf("patterns %v, want %v", p.patterns, want)
	}
}

func TestDefaultAllowedHosts(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		addr string
		want string // "" for an error
	}{
		{"127.0.0.1:8080", "127.0.0.1:8080 localhost:8080 [::1]:8080"},
		{"127.0.0.5:8080", "127.0.0.5:8080 localhost:8080 127.0.0.1:8080 [::1]:8080"},
		{"[::1]:9", "[::1]:9 localhost:9 127.0.0.1:9"},
		{"localhost:80", "localhost:80 127.0.0.1:80 [::1]:80"},
		{"10.1.2.3:8080", "10.1.2.3:8080"},
		{"app.example:443", "app.example:443"},
		{"0.0.0.0:8080", ""},
		{"[::]:8080", ""},
		{":8080", ""},
		{"nonsense", ""},
	} {
		got, err := DefaultAllowedHosts(tt.addr)
		if tt.want == "" {
			if err == nil {
				t.Errorf("%s: %v, want an error", tt.addr, got)
			} else if tt.addr != "nonsense" && !strings.Contains(err.Error(), "allowed hosts") {
				t.Errorf("%s: error %q does not say what to set", tt.addr, err)
			}
			continue
		}
		if err != nil || strings.Join(got, " ") != tt.want {
			t.Errorf("%s: %v %v, want %s", tt.addr, got, err, tt.want)
		}
		if _, err := parseAllowedHosts(got); err != nil {
			t.Errorf("%s: the defaults do not parse: %v", tt.addr, err)
		}
	}
}

func TestClientAddr(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ remote, want string }{
		{"192.0.2.7:1234", "192.0.2.7/32"},
		{"[::ffff:192.0.2.7]:1234", "192.0.2.7/32"},
		{"[2001:db8:1:2:3:4:5:6]:1", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::]:2", "2001:db8:1:2::/64"},
		{"[fe80::1%eth0]:3", "fe80::/64"},
		{"@", "invalid Prefix"},
	} {
		if got := clientAddr(tt.remote).String(); got != tt.want {
			t.Errorf("clientAddr(%s) = %s, want %s", tt.remote, got, tt.want)
		}
	}
}

// One address holds at most MaxConnsPerAddr connections, of every kind
// that stays open; the next gets 429 before any upgrade, and other
// addresses still connect. Past MaxConns everyone gets 503.
func TestConnectionCaps(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{MaxConnsPerAddr: 3, MaxConns: 5})
	a := ts.mustDialWS(t, "127.0.0.1")
	ts.mustDialWS(t, "127.0.0.1")
	// A stream counts as a connection.
	es, status := ts.httpClientFrom(t, "127.0.0.1").eventSource("?bertsync=1")
	if es == nil {
		t.Fatalf("EventSource: %d", status)
	}
	waitConns(t, ts.gw, 3)

	c, resp, err := ts.dialWS("127.0.0.1", nil)
	wantRefused(t, c, resp, err, http.StatusTooManyRequests, "127.0.0.1")
	if !resp.Close { // net/http's reading of Connection: close
		t.Error("the refusal keeps its connection open")
	}
	// So does a held long-poll, and another stream.
	if status, _, body := ts.httpClientFrom(t, "127.0.0.1").poll(); status != http.StatusTooManyRequests {
		t.Errorf("long-poll past the cap: %d %s", status, body)
	}
	if _, status := ts.httpClientFrom(t, "127.0.0.1").eventSource(""); status != http.StatusTooManyRequests {
		t.Errorf("EventSource past the cap: %d", status)
	}
	// A POST holds nothing open and passes.
	if got := ts.httpClientFrom(t, "127.0.0.1").postTerm(`{sync, read, note, [], p}`); got != "{sync,ok,[],p}" {
		t.Errorf("POST: %s", got)
	}

	// Another client is not starved.
	b := ts.mustDialWS(t, secondClient)
	sendBinary(t, b, `{sync, read, note, [], b}`)
	if _, got := readTerm(t, b); got != "{sync,ok,[],b}" {
		t.Fatalf("second client: %s", got)
	}
	ts.mustDialWS(t, secondClient)
	waitConns(t, ts.gw, 5)
	// The server is full.
	c, resp, err = ts.dialWS(secondClient, nil)
	wantRefused(t, c, resp, err, http.StatusServiceUnavailable, "5 connections")

	// A connection that ends frees its place.
	a.Close()
	waitConns(t, ts.gw, 4)
	c = ts.mustDialWS(t, "127.0.0.1")
	sendBinary(t, c, `{sync, read, note, [], again}`)
	if _, got := readTerm(t, c); got != "{sync,ok,[],again}" {
		t.Fatalf("after a close: %s", got)
	}
}

// Polling sessions are bounded in all (503) and per address (429); a
// client with a session keeps using it.
func TestPollSessionCaps(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{MaxPollSessions: 3, MaxConnsPerAddr: 2})
	a := ts.httpClient(t)
	if got := a.postTerm(`{sync, read, note, [], a}`); got != "{sync,ok,[],a}" {
		t.Fatalf("a: %s", got)
	}
	b := ts.httpClient(t)
	b.postTerm(`{sync, read, note, [], b}`)
	c := ts.httpClient(t)
	status, _, body := c.post(jsBinaryString(encode(t, `{sync, read, note, [], c}`)))
	if status != http.StatusTooManyRequests || !strings.Contains(string(body), "polling sessions") {
		t.Fatalf("third session from one address: %d %s", status, body)
	}
	// The sessions there still serve their clients.
	if got := a.postTerm(`{sync, read, note, [], a2}`); got != "{sync,ok,[],a2}" {
		t.Fatalf("a again: %s", got)
	}
	d := ts.httpClientFrom(t, secondClient)
	d.postTerm(`{sync, read, note, [], d}`)
	e := ts.httpClientFrom(t, secondClient)
	status, _, body = e.post([]byte("ping"))
	if status != http.StatusServiceUnavailable || !strings.Contains(string(body), "3 polling sessions") {
		t.Fatalf("fourth session: %d %s", status, body)
	}
}

// testClock is a clock the test moves.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock { return &testClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Messages past a connection's rate are answered rate_limited, in their
// place among the replies and in their frame type; the bucket refills
// with time, and each connection has its own.
func TestRateLimitWebSocket(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	ts := newTestServer(t, Config{MaxMessageRate: 1, MaxMessageBurst: 3, now: clock.now})
	c := ts.dial(t)
	send := func(i int) {
		t.Helper()
		req := `{sync, read, note, [], r` + itoa(i) + `}`
		if i%2 == 0 {
			sendText(t, c, req)
		} else {
			sendBinary(t, c, req)
		}
	}
	expect := func(i int, limited bool) {
		t.Helper()
		mt, got := readTerm(t, c)
		want := websocket.BinaryMessage
		if i%2 == 0 {
			want = websocket.TextMessage
		}
		switch {
		case mt != want:
			t.Fatalf("reply %d: frame type %d, want %d", i, mt, want)
		case limited && !strings.HasPrefix(got, "{sync,error,{rate_limited,"):
			t.Fatalf("reply %d: %s, want rate_limited", i, got)
		case !limited && got != "{sync,ok,[],r"+itoa(i)+"}":
			t.Fatalf("reply %d: %s", i, got)
		}
	}
	// A burst of 6: three served, three refused, all in order.
	for i := 1; i <= 6; i++ {
		send(i)
	}
	for i := 1; i <= 6; i++ {
		expect(i, i > 3)
	}
	// A ping past the rate gets no pong: the next frame is the reply to
	// the request after it. That reply also shows the ping read before
	// the clock moves on.
	if err := c.WriteMessage(websocket.TextMessage, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	send(7)
	expect(7, true)
	// Another connection has a bucket of its own.
	other := ts.dial(t)
	sendBinary(t, other, `{sync, read, note, [], other}`)
	if _, got := readTerm(t, other); got != "{sync,ok,[],other}" {
		t.Fatalf("other connection: %s", got)
	}

	clock.advance(time.Second) // one token
	send(8)
	send(9)
	expect(8, false)
	expect(9, true)
	clock.advance(time.Hour) // a full bucket, no more
	for i := 10; i <= 13; i++ {
		send(i)
	}
	for i := 10; i <= 13; i++ {
		expect(i, i > 12)
	}
}

// A polling session has one bucket for its POSTs.
func TestRateLimitPost(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	ts := newTestServer(t, Config{MaxMessageRate: 2, MaxMessageBurst: 2, now: clock.now})
	a := ts.httpClient(t)
	a.postTerm(`{sync, read, note, [], r1}`)
	a.postTerm(`{sync, read, note, [], r2}`)
	if got := a.postTerm(`{sync, read, note, [], r3}`); !strings.HasPrefix(got, "{sync,error,{rate_limited,") {
		t.Fatalf("third POST: %s", got)
	}
	status, ctype, body := a.post(encode(t, `{sync, read, note, [], raw}`))
	if status != http.StatusOK || ctype != "application/octet-stream" ||
		!strings.HasPrefix(format(t, body), "{sync,error,{rate_limited,") {
		t.Fatalf("raw POST: %d %s %q", status, ctype, body)
	}
	if status, _, body := a.post([]byte("ping")); status != http.StatusTooManyRequests {
		t.Fatalf("ping past the rate: %d %s", status, body)
	}
	clock.advance(time.Second / 2)
	if got := a.postTerm(`{sync, read, note, [], r4}`); got != "{sync,ok,[],r4}" {
		t.Fatalf("after a refill: %s", got)
	}
}

// "*" admits any origin without credentials, so that no foreign page can
// act with a visitor's cookies; a listed origin keeps them.
func TestAllowOriginStarNoCredentials(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{AllowedOrigins: []string{"*", "https://listed.example"}})
	for _, tt := range []struct {
		method, path, body, origin string
		acao, acac                 string
	}{
		{"POST", DefaultPath, "ping", "https://evil.example", "*", ""},
		{"OPTIONS", DefaultPath, "", "https://evil.example", "*", ""},
		{"GET", "/api/thing", "", "https://evil.example", "*", ""},
		{"OPTIONS", "/api/thing/1", "", "https://evil.example", "*", ""},
		{"POST", DefaultPath, "ping", "https://listed.example", "https://listed.example", "true"},
		{"GET", "/api/thing", "", "https://listed.example", "https://listed.example", "true"},
		{"POST", DefaultPath, "ping", ts.URL, "", ""}, // same origin: no CORS
	} {
		req, _ := http.NewRequest(tt.method, ts.URL+tt.path, strings.NewReader(tt.body))
		req.Header.Set("Origin", tt.origin)
		if tt.method == "OPTIONS" {
			req.Header.Set("Access-Control-Request-Method", "PUT")
		}
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		if resp.StatusCode >= 300 || h.Get("Access-Control-Allow-Origin") != tt.acao ||
			h.Get("Access-Control-Allow-Credentials") != tt.acac {
			t.Errorf("%s %s from %s: %d ACAO %q ACAC %q, want %q %q", tt.method, tt.path, tt.origin, resp.StatusCode,
				h.Get("Access-Control-Allow-Origin"), h.Get("Access-Control-Allow-Credentials"), tt.acao, tt.acac)
		}
	}
}

// The TCP guard of ListenAndServe closes an address's connections past
// twice MaxConnsPerAddr as soon as they are accepted, whether or not
// they would ever send a request.
func TestConnGuard(t *testing.T) {
	t.Parallel()
	g := newConnGuard(&Config{MaxConnsPerAddr: 1}, slog.New(slog.DiscardHandler))
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ConnState = g.connState
	srv.Start()
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	open := func(ip string) net.Conn {
		t.Helper()
		c, err := dialerFrom(ip).Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	served := func(c net.Conn) bool {
		t.Helper()
		c.SetDeadline(time.Now().Add(waitLimit))
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return false
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	guarded := func(ip string) int {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.open[clientAddr(ip+":1")]
	}
	idle1, idle2 := open("127.0.0.1"), open("127.0.0.1")
	deadline := time.Now().Add(waitLimit)
	for guarded("127.0.0.1") != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("guard counts %d connections, want 2", guarded("127.0.0.1"))
		}
		<-time.After(time.Millisecond)
	}
	third := open("127.0.0.1")
	third.SetReadDeadline(time.Now().Add(waitLimit))
	if _, err := third.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("third connection: %v, want it closed", err)
	}
	if !served(open(secondClient)) {
		t.Fatal("another address was not served")
	}
	if !served(idle1) {
		t.Fatal("an admitted connection was not served")
	}
	idle2.Close()
	for guarded("127.0.0.1") != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("guard counts %d connections after a close, want 1", guarded("127.0.0.1"))
		}
		<-time.After(time.Millisecond)
	}
	if !served(open("127.0.0.1")) {
		t.Fatal("a freed place was not reused")
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// ListenAndServe serves the names of its listen address, guards its TCP
// connections, and refuses to guess the names of every interface.
func TestListenAndServeHosts(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.DiscardHandler)
	hc := &http.Client{Transport: &http.Transport{}, Timeout: waitLimit}
	addr, stop, done := startListenAndServe(t, ServeConfig{Addr: "127.0.0.1:0", DataDir: t.TempDir(), Logger: log})
	_, port, _ := net.SplitHostPort(addr)
	for _, tt := range []struct {
		host string
		ok   bool
	}{
		{addr, true},
		{"localhost:" + port, true},
		{"[::1]:" + port, true},
		{"localhost:1", false},
		{"localhost", false},
		{"evil.example:" + port, false},
	} {
		req, _ := http.NewRequest("GET", "http://"+addr+"/bertsync.js", nil)
		req.Host = tt.host
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if (resp.StatusCode == http.StatusOK) != tt.ok || !tt.ok && resp.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("Host %s: %d", tt.host, resp.StatusCode)
		}
	}
	hc.CloseIdleConnections()
	stop()
	if err := waitServe(t, done); err != nil {
		t.Fatal(err)
	}

	for _, a := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		listening := false
		err := ListenAndServe(context.Background(), ServeConfig{Addr: a, DataDir: t.TempDir(), Logger: log,
			OnListen: func(net.Addr) { listening = true }})
		if err == nil || listening || !strings.Contains(err.Error(), "allowed hosts") {
			t.Errorf("%s: %v (listening %v), want an error naming the allowed hosts", a, err, listening)
		}
	}
	// With the names given, it serves them. It guards its TCP
	// connections: with MaxConnsPerAddr 1, two per address.
	addr, stop, done = startListenAndServe(t, ServeConfig{
		Addr: "0.0.0.0:0", DataDir: t.TempDir(), Logger: log,
		Gateway: Config{AllowedHosts: []string{"app.example"}, MaxConnsPerAddr: 1},
	})
	_, port, _ = net.SplitHostPort(addr)
	req, _ := http.NewRequest("GET", "http://127.0.0.1:"+port+"/bertsync.js", nil)
	req.Host = "app.example:" + port
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("listed host: %d", resp.StatusCode)
	}
	hc.CloseIdleConnections()
	// Connections are counted as they are accepted, in order: the third
	// idle one from an address is closed, the first two stay.
	var idle []net.Conn
	for range 3 {
		c, err := dialerFrom(secondClient).Dial("tcp", "127.0.0.1:"+port)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		idle = append(idle, c)
	}
	idle[2].SetReadDeadline(time.Now().Add(waitLimit))
	if _, err := idle[2].Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Errorf("third TCP connection of an address: %v, want it closed", err)
	}
	idle[0].SetDeadline(time.Now().Add(waitLimit))
	io.WriteString(idle[0], "GET /bertsync.js HTTP/1.1\r\nHost: app.example\r\nConnection: close\r\n\r\n")
	if resp, err := http.ReadResponse(bufio.NewReader(idle[0]), nil); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("first TCP connection: %v %v", resp, err)
	}
	for _, c := range idle {
		c.Close() // a shutdown waits 5 s for connections that sent nothing
	}
	stop()
	if err := waitServe(t, done); err != nil {
		t.Fatal(err)
	}
}
