package tests

// Authentication and access rules end to end (DESIGN §6), against
// `bertsync serve --jwt-secret-file F --rules R` over real sockets: a bad
// token is refused 401 on every route before any upgrade, each token
// source works and the first one present wins, a session ends when its
// token does, and the owner rules keep each user to their own documents
// and events. The tokens are signed here with golang-jwt, independently
// of the server's verifier.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/bertsync/bertsync/bert"
)

// The issuer and audience of the servers started with --jwt-issuer and
// --jwt-audience.
const (
	e2eIssuer   = "https://issuer.bertsync.test"
	e2eAudience = "bertsync-e2e"
)

// e2eAuthRules is the rules file of the authenticating servers: pub is
// open to anyone, so that a refusal there can only be the token's; priv
// needs a caller; note is each owner's own; chat is for callers; every
// other type may be read by anyone and changed by no client.
const e2eAuthRules = `{
  "*":    {"read": "public"},
  "pub":  {"create": "public", "read": "public", "update": "public", "patch": "public",
           "delete": "public", "subscribe": "public", "broadcast": "public"},
  "priv": {"create": "authenticated", "read": "authenticated", "subscribe": "authenticated"},
  "note": {"create": "owner", "read": "owner", "update": "owner", "patch": "owner",
           "delete": "owner", "subscribe": "owner", "broadcast": "authenticated"},
  "chat": {"subscribe": "authenticated", "broadcast": "authenticated"}
}
`

// e2eAuthServer is a `bertsync serve` that accepts HS256 tokens signed
// with secret, under e2eAuthRules.
type e2eAuthServer struct {
	*e2eServer
	secret   []byte
	iss, aud string // "" when the server was started without them
}

// e2eStartAuthServer starts a server with a fresh secret and the rules;
// with issAud it also requires e2eIssuer and e2eAudience.
func e2eStartAuthServer(t testing.TB, issAud bool) *e2eAuthServer {
	t.Helper()
	dir := t.TempDir()
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		t.Fatal(err)
	}
	a := &e2eAuthServer{secret: []byte(hex.EncodeToString(raw[:]))}
	// The trailing newline is trimmed by the server, as an editor adds it.
	secretFile := e2eWriteFile(t, dir, "secret", append(bytes.Clone(a.secret), '\n'))
	rulesFile := e2eWriteFile(t, dir, "rules.json", []byte(e2eAuthRules))
	args := []string{"--jwt-secret-file", secretFile, "--rules", rulesFile}
	if issAud {
		a.iss, a.aud = e2eIssuer, e2eAudience
		args = append(args, "--jwt-issuer", a.iss, "--jwt-audience", a.aud)
	}
	a.e2eServer = e2eStartServer(t, "", args...)
	return a
}

func e2eWriteFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// claims are those of a good token for sub, valid for ttl.
func (a *e2eAuthServer) claims(sub string, ttl time.Duration) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{"sub": sub, "iat": now.Unix(), "exp": now.Add(ttl).Unix()}
	if a.iss != "" {
		c["iss"] = a.iss
	}
	if a.aud != "" {
		c["aud"] = a.aud
	}
	return c
}

// token is a good token for sub, valid for an hour.
func (a *e2eAuthServer) token(t testing.TB, sub string) string {
	return e2eSign(t, jwt.SigningMethodHS256, a.secret, a.claims(sub, time.Hour))
}

// e2eSign signs claims with method and key.
func e2eSign(t testing.TB, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatalf("sign %s token: %v", method.Alg(), err)
	}
	return s
}

// e2eEdit returns a copy of c with the changes applied: a nil value
// removes the claim.
func e2eEdit(c jwt.MapClaims, changes jwt.MapClaims) jwt.MapClaims {
	out := maps.Clone(c)
	for k, v := range changes {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// e2eCred is where a request carries tokens: any of the three places
// DESIGN §6 names, empty for none.
type e2eCred struct {
	Header, Query, Cookie string
}

func (c e2eCred) String() string {
	var parts []string
	for _, p := range []struct{ name, tok string }{{"header", c.Header}, {"query", c.Query}, {"cookie", c.Cookie}} {
		if p.tok != "" {
			parts = append(parts, p.name)
		}
	}
	if parts == nil {
		return "no token"
	}
	return strings.Join(parts, "+")
}

// e2eSources puts tok in each place in turn.
func e2eSources(tok string) []e2eCred {
	return []e2eCred{{Header: tok}, {Query: tok}, {Cookie: tok}}
}

// url adds the query token to u, a path or URL that may have a query.
func (c e2eCred) url(u string) string {
	if c.Query == "" {
		return u
	}
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + "token=" + url.QueryEscape(c.Query)
}

// apply sets the header and cookie tokens on h; cookies are the other
// cookies of the request, sent in the same Cookie header.
func (c e2eCred) apply(h http.Header, cookies ...*http.Cookie) {
	if c.Header != "" {
		h.Set("Authorization", "Bearer "+c.Header)
	}
	if c.Cookie != "" {
		cookies = append(cookies, &http.Cookie{Name: "bertsync_token", Value: c.Cookie})
	}
	var pairs []string
	for _, ck := range cookies {
		pairs = append(pairs, ck.Name+"="+ck.Value)
	}
	if pairs != nil {
		h.Set("Cookie", strings.Join(pairs, "; "))
	}
}

// e2eAuthRequest sends one request as a page of the server would (with
// its Origin) and returns the status, the headers and the body. The body
// of an event stream is not read: it does not end. A request with no
// answer within e2eTimeout has status 0.
func e2eAuthRequest(t testing.TB, base, method, path string, cred e2eCred, hdr http.Header, body []byte, cookies ...*http.Cookie) (int, http.Header, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e2eTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, base+cred.url(path), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(req.Header, hdr)
	req.Header.Set("Origin", base)
	cred.apply(req.Header, cookies...)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		// A long poll the server holds instead of refusing ends here.
		return 0, nil, fmt.Sprintf("no answer: %v", err)
	}
	defer resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return resp.StatusCode, resp.Header, ""
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatalf("%s %s (%v): body: %v", method, path, cred, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// e2eAuthUpgrade sends a WebSocket opening handshake to path with cred
// and returns the answer's status, headers and body (none for 101).
func e2eAuthUpgrade(t testing.TB, addr, path string, cred e2eCred) (int, http.Header, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, e2eTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(e2eTimeout))
	hdr := http.Header{}
	cred.apply(hdr)
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nOrigin: http://%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n", cred.url(path), addr, addr)
	for k, vs := range hdr {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("upgrade (%v): %v", cred, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return resp.StatusCode, resp.Header, ""
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, resp.Header, string(body)
}

// e2eDialAuth opens a WebSocket to the Bullet endpoint with cred.
func e2eDialAuth(t testing.TB, addr string, cred e2eCred) *e2eConn {
	t.Helper()
	hdr := http.Header{}
	cred.apply(hdr)
	ws, err := e2eDialWS(addr, cred.url("/bullet"), hdr)
	if err != nil {
		t.Fatalf("dial ws://%s/bullet (%v): %v", addr, cred, err)
	}
	t.Cleanup(func() { ws.Close() })
	return &e2eConn{t: t, ws: ws}
}

// e2eAuthHTTP is one Bullet session over HTTP (its session cookie in the
// jar) whose every request carries cred.
type e2eAuthHTTP struct {
	*e2eHTTP
	cred e2eCred
}

func e2eNewAuthHTTP(t testing.TB, s *e2eServer, cred e2eCred) *e2eAuthHTTP {
	return &e2eAuthHTTP{e2eHTTP: e2eNewHTTP(t, s), cred: cred}
}

// send sends one request of the session and returns the response, which
// the caller closes.
func (h *e2eAuthHTTP) send(ctx context.Context, method, path string, hdr http.Header, body []byte) *http.Response {
	h.t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, h.base+h.cred.url(path), bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	maps.Copy(req.Header, hdr)
	req.Header.Set("Origin", h.base)
	// The jar adds the session cookie to the Cookie header set here.
	h.cred.apply(req.Header)
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s (%v): %v", method, path, h.cred, err)
	}
	return resp
}

// postStatus POSTs term as raw BERT and returns the status and body.
func (h *e2eAuthHTTP) postStatus(term any) (int, []byte) {
	h.t.Helper()
	b, err := bert.Marshal(term)
	if err != nil {
		h.t.Fatal(err)
	}
	resp := h.send(context.Background(), "POST", "/bullet", http.Header{"Content-Type": {"application/octet-stream"}}, b)
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		h.t.Fatalf("POST body: %v", err)
	}
	return resp.StatusCode, body
}

// post POSTs term and returns the reply, which must come in the body.
func (h *e2eAuthHTTP) post(term any) e2eReply {
	h.t.Helper()
	status, body := h.postStatus(term)
	if status != http.StatusOK {
		h.t.Fatalf("POST %s (%v): status %d %q, want 200 with the reply", e2eFmt(term), h.cred, status, body)
	}
	m, err := e2eDecodeFrame(wsBinary, body)
	if err != nil {
		h.t.Fatal(err)
	}
	r, ok := e2eParseReply(m)
	if !ok {
		h.t.Fatalf("POST %s: body %s is not a reply", e2eFmt(term), e2eFmt(m))
	}
	return r
}

// poll does one long-poll GET and returns the status, the body's message
// (200) and the body's text (any other status).
func (h *e2eAuthHTTP) poll(timeout time.Duration) (int, any, string) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	resp := h.send(ctx, "GET", fmt.Sprintf("/bullet?_=%d", time.Now().UnixNano()), nil, nil)
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		h.t.Fatalf("poll body: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil, string(body)
	}
	op := byte(wsText)
	if resp.Header.Get("Content-Type") == "application/octet-stream" {
		op = wsBinary
	}
	m, err := e2eDecodeFrame(op, body)
	if err != nil {
		h.t.Fatalf("poll: %v", err)
	}
	return resp.StatusCode, m, ""
}

// eventSource opens the session's base64 event stream.
func (h *e2eAuthHTTP) eventSource() *e2eES {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	resp := h.send(ctx, "GET", "/bullet?bertsync=1", http.Header{"Accept": {"text/event-stream"}}, nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		cancel()
		h.t.Fatalf("EventSource (%v): %s %q", h.cred, resp.Status, body)
	}
	es := &e2eES{t: h.t, b64: true, resp: resp, cancel: cancel, events: make(chan []byte, 64), errc: make(chan error, 1)}
	h.t.Cleanup(es.Close)
	go es.read()
	return es
}

// e2eAuthEndpoint is one route of the server, as a request a test can
// send with any credentials.
type e2eAuthEndpoint struct {
	name string
	do   func(cred e2eCred) (status int, hdr http.Header, body string)
}

// e2eAuthEndpoints are the routes DESIGN §6 says look for a token: the
// four Bullet transports, REST read and create, an upload to pub/docID
// and the download of fileURL. pollCookie, if not nil, is the session
// cookie the long-poll sends.
func e2eAuthEndpoints(t testing.TB, s *e2eServer, docID, fileURL string, pollCookie *http.Cookie) []e2eAuthEndpoint {
	base := s.URL()
	var cookies []*http.Cookie
	if pollCookie != nil {
		cookies = append(cookies, pollCookie)
	}
	upload, uploadType := e2eMultipart(t, "hello.txt", []byte("hello, auth"))
	return []e2eAuthEndpoint{
		{"WebSocket handshake", func(c e2eCred) (int, http.Header, string) {
			return e2eAuthUpgrade(t, s.Addr, "/bullet", c)
		}},
		{"EventSource GET", func(c e2eCred) (int, http.Header, string) {
			return e2eAuthRequest(t, base, "GET", "/bullet?bertsync=1", c, http.Header{"Accept": {"text/event-stream"}}, nil)
		}},
		{"long-poll GET", func(c e2eCred) (int, http.Header, string) {
			return e2eAuthRequest(t, base, "GET", "/bullet?_=1", c, nil, nil, cookies...)
		}},
		{"POST", func(c e2eCred) (int, http.Header, string) {
			return e2eAuthRequest(t, base, "POST", "/bullet", c, http.Header{"Content-Type": {"text/plain"}}, []byte("ping"))
		}},
		{"REST GET", func(c e2eCred) (int, http.Header, string) {
			return e2eAuthRequest(t, base, "GET", "/api/pub", c, nil, nil)
		}},
		{"REST POST", func(c e2eCred) (int, http.Header, string) {
			return e2eAuthRequest(t, base, "POST", "/api/pub", c, http.Header{"Content-Type": {"application/json"}}, []byte(`{"name":"x"}`))
		}},
		{"upload PUT", func(c e2eCred) (int, http.Header, string) {
			return e2eAuthRequest(t, base, "PUT", "/api/pub/"+docID, c, http.Header{"Content-Type": {uploadType}}, upload)
		}},
		{"file GET", func(c e2eCred) (int, http.Header, string) {
			return e2eAuthRequest(t, base, "GET", fileURL, c, nil, nil)
		}},
	}
}

// e2eMultipart is an upload body with one "file" part, and its type.
func e2eMultipart(t testing.TB, name string, data []byte) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), mw.FormDataContentType()
}

// e2eBadToken is a token the server must refuse, and the words of the
// reason it must give.
type e2eBadToken struct {
	name, token, reason string
}

// e2eRequireRefused sends every bad token from every source to every
// endpoint and requires 401 with the token's reason and a Bearer
// challenge. It reports the first failure of each endpoint only: a held
// long poll costs e2eTimeout.
func e2eRequireRefused(t *testing.T, endpoints []e2eAuthEndpoint, bad []e2eBadToken) {
	t.Helper()
	for _, ep := range endpoints {
		e2eRefusesAll(t, ep, bad)
	}
}

// e2eRefusesAll checks one endpoint for e2eRequireRefused.
func e2eRefusesAll(t *testing.T, ep e2eAuthEndpoint, bad []e2eBadToken) {
	t.Helper()
	for _, b := range bad {
		for _, cred := range e2eSources(b.token) {
			status, hdr, body := ep.do(cred)
			switch {
			case status != http.StatusUnauthorized:
				t.Errorf("%s, %s token in the %v: status %d %q, want 401", ep.name, b.name, cred, status, body)
			case !strings.Contains(body, b.reason):
				t.Errorf("%s, %s token in the %v: 401 %q, want the reason %q", ep.name, b.name, cred, body, b.reason)
			case !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer"):
				t.Errorf("%s, %s token in the %v: WWW-Authenticate %q, want a Bearer challenge", ep.name, b.name, cred, hdr.Get("WWW-Authenticate"))
			default:
				continue
			}
			return
		}
	}
}

// e2eRESTJSON sends a REST request and decodes its JSON body into v,
// requiring status want.
func e2eRESTJSON(t testing.TB, base, method, path string, cred e2eCred, body string, want int, v any) {
	t.Helper()
	var hdr http.Header
	if body != "" {
		hdr = http.Header{"Content-Type": {"application/json"}}
	}
	status, _, got := e2eAuthRequest(t, base, method, path, cred, hdr, []byte(body))
	if status != want {
		t.Fatalf("%s %s (%v): %d %s, want %d", method, path, cred, status, got, want)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(got), v); err != nil {
			t.Fatalf("%s %s: body %q: %v", method, path, got, err)
		}
	}
}

// e2eRESTError is the JSON body of a REST error.
type e2eRESTError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// e2eOwnChange sends a change of document id on c, which is subscribed
// to its model, and requires the ok reply and the push of event for id,
// in either order, and nothing else: the pushes of one model come in the
// order of its changes, so an event another caller's subscription should
// not have heard, sent before, would come first.
func e2eOwnChange(c *e2eConn, event, id string, term e2eT) e2ePush {
	c.t.Helper()
	c.Send(term)
	var push e2ePush
	for gotReply, gotPush := false, false; !gotReply || !gotPush; {
		m := c.Recv()
		if r, ok := e2eParseReply(m); ok && !gotReply {
			if !r.OK {
				c.t.Fatalf("%s: %s", e2eFmt(term), e2eFmt(r.Term))
			}
			gotReply = true
			continue
		}
		p, ok := e2eParsePush(m)
		if v, _ := e2eGet(p.Props, "id"); !ok || gotPush || p.Event != event || e2eText(v) != id {
			c.t.Fatalf("%s: got %s, want only the reply and the %s push of %s: an event this caller should not hear", e2eFmt(term), e2eFmt(m), event, id)
		}
		push, gotPush = p, true
	}
	return push
}

// TestE2EAuthBadTokenRefused: every kind of bad token DESIGN §6 lists,
// from every source, is refused 401 with its reason on every route, the
// WebSocket handshake and the EventSource before any upgrade or stream,
// and the same requests without a token are served. Were a route to let a
// bad token pass as anonymous, its request would be served like the
// anonymous control (101, 200, 201) and the "want 401" check fails.
func TestE2EAuthBadTokenRefused(t *testing.T) {
	t.Parallel()
	a := e2eStartAuthServer(t, true)
	base := a.URL()

	// A document of pub with an uploaded file, for the upload and the
	// download, both open to anyone.
	e2eRESTJSON(t, base, "POST", "/api/pub", e2eCred{}, `{"id":"up1"}`, http.StatusCreated, nil)
	upload, uploadType := e2eMultipart(t, "hello.txt", []byte("hello, auth"))
	status, _, body := e2eAuthRequest(t, base, "PUT", "/api/pub/up1", e2eCred{}, http.Header{"Content-Type": {uploadType}}, upload)
	var up struct {
		File struct {
			URL string `json:"url"`
		} `json:"file"`
	}
	if status != http.StatusOK || json.Unmarshal([]byte(body), &up) != nil || !strings.HasPrefix(up.File.URL, "/files/pub/up1/") {
		t.Fatalf("anonymous upload: %d %s", status, body)
	}

	// An anonymous polling session with a push waiting: a long poll with
	// its cookie is answered at once, 200 with the push, unless refused.
	h := e2eNewHTTP(t, a.e2eServer)
	h.PostOK(e2eT{e2eA("sync"), e2eA("subscribe"), e2eA("pub"), e2eL{}})
	var session *http.Cookie
	for _, c := range h.client.Jar.Cookies(e2eMustURL(t, base+"/bullet")) {
		if c.Name == "bertsync_session" {
			session = c
		}
	}
	if session == nil {
		t.Fatal("no session cookie after POST")
	}
	e2eRESTJSON(t, base, "POST", "/api/pub", e2eCred{}, `{"id":"pushed"}`, http.StatusCreated, nil)

	good := a.claims("alice", time.Hour)
	now := time.Now()
	bad := []e2eBadToken{
		{"bad signature", e2eSign(t, jwt.SigningMethodHS256, []byte("not the server's secret"), good), "invalid token signature"},
		{"alg none", e2eSign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, good), "unsigned token"},
		{"expired", e2eSign(t, jwt.SigningMethodHS256, a.secret, e2eEdit(good, jwt.MapClaims{"exp": now.Add(-time.Minute).Unix()})), "token expired"},
		{"nbf in the future", e2eSign(t, jwt.SigningMethodHS256, a.secret, e2eEdit(good, jwt.MapClaims{"nbf": now.Add(time.Hour).Unix()})), "not valid yet"},
		{"wrong iss", e2eSign(t, jwt.SigningMethodHS256, a.secret, e2eEdit(good, jwt.MapClaims{"iss": "https://other.test"})), "wrong token issuer"},
		{"no iss", e2eSign(t, jwt.SigningMethodHS256, a.secret, e2eEdit(good, jwt.MapClaims{"iss": nil})), "wrong token issuer"},
		{"wrong aud", e2eSign(t, jwt.SigningMethodHS256, a.secret, e2eEdit(good, jwt.MapClaims{"aud": []string{"other", "another"}})), "wrong token audience"},
		{"no sub", e2eSign(t, jwt.SigningMethodHS256, a.secret, e2eEdit(good, jwt.MapClaims{"sub": nil})), "no subject"},
	}
	endpoints := e2eAuthEndpoints(t, a.e2eServer, "up1", up.File.URL, session)
	e2eRequireRefused(t, endpoints, bad)

	// The controls: the same requests without a token are served, so the
	// 401s above were the tokens'. The long poll's push was still waiting.
	wantAnon := map[string]int{
		"WebSocket handshake": http.StatusSwitchingProtocols, "EventSource GET": http.StatusOK,
		"long-poll GET": http.StatusOK, "POST": http.StatusOK, "REST GET": http.StatusOK,
		"REST POST": http.StatusCreated, "upload PUT": http.StatusOK, "file GET": http.StatusOK,
	}
	for _, ep := range endpoints {
		if status, _, body := ep.do(e2eCred{}); status != wantAnon[ep.name] {
			t.Errorf("%s without a token: %d %q, want %d", ep.name, status, body, wantAnon[ep.name])
		}
	}
	// And with a good token too (but the long poll, which would wait:
	// another caller gets a session of their own).
	tok := a.token(t, "alice")
	for _, ep := range endpoints {
		if ep.name == "long-poll GET" {
			continue
		}
		for _, cred := range e2eSources(tok) {
			if status, _, body := ep.do(cred); status != wantAnon[ep.name] {
				t.Errorf("%s with a good token in the %v: %d %q, want %d", ep.name, cred, status, body, wantAnon[ep.name])
			}
		}
	}
}

// TestE2EAuthPublicKeyOnly: with only --jwt-public-key-file (an ES256
// key) an HS256 token is refused, even one "signed" with the public key's
// own bytes (the algorithm confusion attack), as is an ES256 token of
// another key; a token of the key is accepted; and with a key and no
// rules file every method needs a caller: {sync, error, {unauthorized,
// …}} over WebSocket and POST, 401 over REST. Were HS256 accepted with
// the PEM as its secret, the first token would pass and the check for
// its 401 fail.
func TestE2EAuthPublicKeyOnly(t *testing.T) {
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	keyFile := e2eWriteFile(t, t.TempDir(), "key.pem", pemBytes)
	s := e2eStartServer(t, "", "--jwt-public-key-file", keyFile)
	base := s.URL()

	claims := func() jwt.MapClaims {
		return jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(time.Hour).Unix()}
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	bad := []e2eBadToken{
		{"HS256 keyed with the public key PEM", e2eSign(t, jwt.SigningMethodHS256, pemBytes, claims()), "signing algorithm not accepted"},
		{"HS256", e2eSign(t, jwt.SigningMethodHS256, []byte("a secret"), claims()), "signing algorithm not accepted"},
		{"ES256 of another key", e2eSign(t, jwt.SigningMethodES256, other, claims()), "invalid token signature"},
		{"alg none", e2eSign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims()), "unsigned token"},
	}
	var zeros [32]byte
	e2eRequireRefused(t, e2eAuthEndpoints(t, s, "none", "/files/pub/none/"+hex.EncodeToString(zeros[:]), nil), bad)

	good := e2eCred{Header: e2eSign(t, jwt.SigningMethodES256, key, claims())}
	c := e2eDialAuth(t, s.Addr, good)
	created := c.OK(e2eT{e2eA("sync"), e2eA("create"), e2eA("thing"), e2eProps("name", []byte("ring"))})
	id, _ := e2eGet(created, "id")
	c.OK(e2eT{e2eA("sync"), e2eA("read"), e2eA("thing"), e2eProps("id", id)})
	var docs []map[string]any
	e2eRESTJSON(t, base, "GET", "/api/thing", good, "", http.StatusOK, &docs)
	if len(docs) != 1 || docs[0]["name"] != "ring" {
		t.Fatalf("REST read with an ES256 token: %v", docs)
	}

	// No token: connected, but every method needs a caller.
	anon := e2eDial(t, s.Addr, false)
	for _, m := range []string{"read", "create", "subscribe", "broadcast"} {
		if code := anon.Err(e2eT{e2eA("sync"), e2eA(m), e2eA("thing"), e2eL{}}); code != "unauthorized" {
			t.Errorf("anonymous %s over WebSocket: %s, want unauthorized", m, code)
		}
	}
	h := e2eNewAuthHTTP(t, s, e2eCred{})
	if r := h.post(e2eT{e2eA("sync"), e2eA("read"), e2eA("thing"), e2eL{}}); r.OK || r.Code != "unauthorized" {
		t.Errorf("anonymous read over POST: %s, want unauthorized", e2eFmt(r.Term))
	}
	var rerr e2eRESTError
	e2eRESTJSON(t, base, "GET", "/api/thing", e2eCred{}, "", http.StatusUnauthorized, &rerr)
	if rerr.Error.Code != "unauthorized" || !strings.Contains(rerr.Error.Message, "authenticated caller") {
		t.Errorf("anonymous REST read: %+v, want unauthorized for want of a caller", rerr)
	}
	e2eRESTJSON(t, base, "POST", "/api/thing", e2eCred{}, `{"name":"x"}`, http.StatusUnauthorized, nil)
}

// TestE2EAuthTokenSources: a good token works from each of the three
// places, on WebSocket, POST, long-poll, EventSource and REST (where
// priv, which needs a caller, is unauthorized without one); and the first
// token present wins: a bad header is refused even with a good cookie or
// query token behind it, and a good one is accepted whatever follows it.
// Were a source not looked at, its requests would be anonymous and the
// reads of priv unauthorized; were the order wrong, a bad token ahead of
// a good one would pass.
func TestE2EAuthTokenSources(t *testing.T) {
	t.Parallel()
	a := e2eStartAuthServer(t, false)
	base := a.URL()
	tok := a.token(t, "alice")
	writer := e2eDialAuth(t, a.Addr, e2eCred{Header: tok})

	for i, cred := range e2eSources(tok) {
		ws := e2eDialAuth(t, a.Addr, cred)
		ws.OK(e2eT{e2eA("sync"), e2eA("read"), e2eA("priv"), e2eL{}})

		e2eRESTJSON(t, base, "GET", "/api/priv", cred, "", http.StatusOK, nil)

		poller := e2eNewAuthHTTP(t, a.e2eServer, cred)
		if r := poller.post(e2eT{e2eA("sync"), e2eA("subscribe"), e2eA("priv"), e2eL{}}); !r.OK {
			t.Fatalf("subscribe over POST (%v): %s", cred, e2eFmt(r.Term))
		}
		streamer := e2eNewAuthHTTP(t, a.e2eServer, cred)
		es := streamer.eventSource()
		if r := streamer.post(e2eT{e2eA("sync"), e2eA("subscribe"), e2eA("priv"), e2eL{}}); !r.OK {
			t.Fatalf("subscribe over POST beside an EventSource (%v): %s", cred, e2eFmt(r.Term))
		}
		id := fmt.Sprintf("p%d", i)
		writer.OK(e2eT{e2eA("sync"), e2eA("create"), e2eA("priv"), e2eProps("id", []byte(id))})
		status, m, body := poller.poll(e2eTimeout)
		if p, ok := e2eParsePush(m); status != http.StatusOK || !ok || p.Event != "created" {
			t.Fatalf("long-poll (%v): %d %s %q, want the created push", cred, status, e2eFmt(m), body)
		}
		if p, ok := e2eParsePush(es.Next()); !ok || p.Event != "created" {
			t.Fatalf("EventSource (%v): %s, want the created push", cred, e2eFmt(p.Term))
		}
	}

	// The controls: without a token priv is not for us.
	anon := e2eDial(t, a.Addr, false)
	if code := anon.Err(e2eT{e2eA("sync"), e2eA("read"), e2eA("priv"), e2eL{}}); code != "unauthorized" {
		t.Fatalf("anonymous read of priv over WebSocket: %s, want unauthorized", code)
	}
	if r := e2eNewAuthHTTP(t, a.e2eServer, e2eCred{}).post(e2eT{e2eA("sync"), e2eA("read"), e2eA("priv"), e2eL{}}); r.Code != "unauthorized" {
		t.Fatalf("anonymous read of priv over POST: %s, want unauthorized", e2eFmt(r.Term))
	}
	e2eRESTJSON(t, base, "GET", "/api/priv", e2eCred{}, "", http.StatusUnauthorized, nil)

	forged := e2eSign(t, jwt.SigningMethodHS256, []byte("not the server's secret"), a.claims("alice", time.Hour))
	for _, tc := range []struct {
		cred e2eCred
		want int // REST status
	}{
		{e2eCred{Header: forged, Cookie: tok}, http.StatusUnauthorized},
		{e2eCred{Header: forged, Query: tok}, http.StatusUnauthorized},
		{e2eCred{Query: forged, Cookie: tok}, http.StatusUnauthorized},
		{e2eCred{Header: forged, Query: tok, Cookie: tok}, http.StatusUnauthorized},
		{e2eCred{Header: tok, Query: forged, Cookie: forged}, http.StatusOK},
		{e2eCred{Query: tok, Cookie: forged}, http.StatusOK},
	} {
		status, _, body := e2eAuthRequest(t, base, "GET", "/api/priv", tc.cred, nil, nil)
		if status != tc.want || (tc.want == http.StatusUnauthorized && !strings.Contains(body, "invalid token signature")) {
			t.Errorf("REST with tokens in the %v (the first %s): %d %s, want %d",
				tc.cred, map[bool]string{true: "good", false: "forged"}[tc.want == http.StatusOK], status, body, tc.want)
		}
		wantWS := http.StatusSwitchingProtocols
		if tc.want == http.StatusUnauthorized {
			wantWS = http.StatusUnauthorized
		}
		if status, _, body := e2eAuthUpgrade(t, a.Addr, "/bullet", tc.cred); status != wantWS {
			t.Errorf("WebSocket handshake with tokens in the %v: %d %q, want %d", tc.cred, status, body, wantWS)
		}
	}
	// A malformed Authorization header is refused, not ignored in favour
	// of the cookie.
	status, _, body := e2eAuthRequest(t, base, "GET", "/api/priv", e2eCred{Cookie: tok}, http.Header{"Authorization": {"Basic YWxpY2U6c2VjcmV0"}}, nil)
	if status != http.StatusUnauthorized || !strings.Contains(body, "Authorization header") {
		t.Errorf("a Basic Authorization header with a good cookie: %d %s, want 401", status, body)
	}
}

// TestE2EAuthAnonymous: without a token a client is anonymous and the
// rules decide: public methods pass, those that need a caller are
// unauthorized (REST 401), and those no rule allows are forbidden to
// everyone, token or not (REST 403).
func TestE2EAuthAnonymous(t *testing.T) {
	t.Parallel()
	a := e2eStartAuthServer(t, false)
	base := a.URL()
	anon := e2eDial(t, a.Addr, true)
	anon.OK(e2eT{e2eA("sync"), e2eA("create"), e2eA("pub"), e2eProps("id", []byte("p1"))})
	anon.OK(e2eT{e2eA("sync"), e2eA("read"), e2eA("pub"), e2eProps("id", []byte("p1"))})
	anon.OK(e2eT{e2eA("sync"), e2eA("read"), e2eA("other"), e2eL{}}) // "*": read is public
	for _, m := range []string{"read", "create", "subscribe"} {
		if code := anon.Err(e2eT{e2eA("sync"), e2eA(m), e2eA("priv"), e2eL{}}); code != "unauthorized" {
			t.Errorf("anonymous %s of priv: %s, want unauthorized", m, code)
		}
	}
	if code := anon.Err(e2eT{e2eA("sync"), e2eA("create"), e2eA("other"), e2eL{}}); code != "forbidden" {
		t.Errorf("anonymous create of other: %s, want forbidden", code)
	}
	alice := e2eDialAuth(t, a.Addr, e2eCred{Header: a.token(t, "alice")})
	if code := alice.Err(e2eT{e2eA("sync"), e2eA("create"), e2eA("other"), e2eL{}}); code != "forbidden" {
		t.Errorf("alice's create of other: %s, want forbidden", code)
	}
	alice.OK(e2eT{e2eA("sync"), e2eA("create"), e2eA("priv"), e2eL{}})

	var rerr e2eRESTError
	e2eRESTJSON(t, base, "GET", "/api/priv", e2eCred{}, "", http.StatusUnauthorized, &rerr)
	if rerr.Error.Code != "unauthorized" {
		t.Errorf("anonymous REST read of priv: %+v", rerr)
	}
	e2eRESTJSON(t, base, "POST", "/api/other", e2eCred{Header: a.token(t, "alice")}, `{"x":1}`, http.StatusForbidden, &rerr)
	if rerr.Error.Code != "forbidden" {
		t.Errorf("REST create of other with a token: %+v", rerr)
	}
	e2eRESTJSON(t, base, "GET", "/api/pub/p1", e2eCred{}, "", http.StatusOK, nil)
}

// TestE2EAuthWebSocketExpiry: a WebSocket opened with a token that
// expires a few seconds later is closed at its expiry with code 4401 and
// reason "token expired", and the token then no longer opens one. Were
// sessions not ended at expiry, the read for the close frame would time
// out with the connection still open.
func TestE2EAuthWebSocketExpiry(t *testing.T) {
	t.Parallel()
	a := e2eStartAuthServer(t, false)
	exp := time.Now().Add(4 * time.Second).Truncate(time.Second)
	tok := e2eSign(t, jwt.SigningMethodHS256, a.secret, jwt.MapClaims{"sub": "alice", "exp": exp.Unix()})
	c := e2eDialAuth(t, a.Addr, e2eCred{Query: tok})
	c.OK(e2eT{e2eA("sync"), e2eA("read"), e2eA("priv"), e2eL{}})

	op, data, err := c.ws.ReadMessage(e2eTimeout)
	var ce *e2eWSCloseError
	if !errors.As(err, &ce) {
		t.Fatalf("waiting for the close at the token's expiry: opcode %#x %q, err %v; want a close frame", op, data, err)
	}
	if ce.Code != 4401 || ce.Reason != "token expired" {
		t.Fatalf("close frame: code %d %q, want 4401 \"token expired\"", ce.Code, ce.Reason)
	}
	if now := time.Now(); now.Before(exp) {
		t.Fatalf("closed at %v, before the token's exp %v", now.Format(time.StampMilli), exp.Format(time.StampMilli))
	}
	if status, _, body := e2eAuthUpgrade(t, a.Addr, "/bullet", e2eCred{Query: tok}); status != http.StatusUnauthorized || !strings.Contains(body, "token expired") {
		t.Fatalf("handshake with the expired token: %d %q, want 401 token expired", status, body)
	}
}

// TestE2EAuthPollExpiry: a polling session opened with a token that
// expires is over at its expiry: a long poll held across it is answered
// empty, the next request with the token gets 401, and the session cookie
// alone does not carry the caller on. Were the session to outlive its
// token, the POST after the expiry would be answered 200.
func TestE2EAuthPollExpiry(t *testing.T) {
	t.Parallel()
	a := e2eStartAuthServer(t, false)
	exp := time.Now().Add(4 * time.Second).Truncate(time.Second)
	tok := e2eSign(t, jwt.SigningMethodHS256, a.secret, jwt.MapClaims{"sub": "alice", "exp": exp.Unix()})
	h := e2eNewAuthHTTP(t, a.e2eServer, e2eCred{Cookie: tok})
	if r := h.post(e2eT{e2eA("sync"), e2eA("subscribe"), e2eA("priv"), e2eL{}}); !r.OK {
		t.Fatalf("subscribe: %s", e2eFmt(r.Term))
	}

	// Held until the session ends (or, were it only checked at the next
	// request, until the poll timeout): nothing is pushed meanwhile.
	status, m, body := h.poll(45 * time.Second)
	switch status {
	case http.StatusNoContent:
	case http.StatusUnauthorized: // it reached the server after the expiry
		if !strings.Contains(body, "token expired") {
			t.Fatalf("poll: 401 %q, want the reason token expired", body)
		}
	default:
		t.Fatalf("poll across the expiry: %d %s %q, want 204", status, e2eFmt(m), body)
	}
	if now := time.Now(); now.Before(exp) {
		t.Fatalf("the poll ended at %v, before the token's exp %v", now.Format(time.StampMilli), exp.Format(time.StampMilli))
	}

	status, reply := h.postStatus(e2eT{e2eA("sync"), e2eA("read"), e2eA("priv"), e2eL{}})
	if status != http.StatusUnauthorized || !strings.Contains(string(reply), "token expired") {
		t.Fatalf("POST after the expiry: %d %q, want 401 token expired", status, reply)
	}
	if status, m, body := h.poll(e2eTimeout); status != http.StatusUnauthorized {
		t.Fatalf("poll after the expiry: %d %s %q, want 401", status, e2eFmt(m), body)
	}
	// The cookie without the token: a new, anonymous session.
	h.cred = e2eCred{}
	if r := h.post(e2eT{e2eA("sync"), e2eA("read"), e2eA("priv"), e2eL{}}); r.Code != "unauthorized" {
		t.Fatalf("the expired session's cookie without a token: %s, want unauthorized", e2eFmt(r.Term))
	}
}

// TestE2EAuthOwnerRules: with "owner" rules two users, each over
// WebSocket and REST, see and change only their own documents: the owner
// is the creator's sub whatever the client sends, another's document is
// not_found (404) to read, patch, update and delete, a collection lists
// only the caller's, and a subscription hears only the events of the
// caller's documents. Were the owner check missing, bob's read of alice's
// note would succeed; were the subscription not filtered, bob's next
// message after alice's create would be her push, which Change refuses.
func TestE2EAuthOwnerRules(t *testing.T) {
	t.Parallel()
	a := e2eStartAuthServer(t, false)
	base := a.URL()
	aliceTok, bobTok := a.token(t, "alice"), a.token(t, "bob")
	alice := e2eDialAuth(t, a.Addr, e2eCred{Header: aliceTok})
	bob := e2eDialAuth(t, a.Addr, e2eCred{Query: bobTok})
	aliceREST, bobREST := e2eCred{Cookie: aliceTok}, e2eCred{Header: bobTok}
	note := e2eA("note")

	created := alice.OK(e2eT{e2eA("sync"), e2eA("create"), note, e2eProps("title", []byte("a1"), "owner", []byte("bob"))})
	if v, _ := e2eGet(created, "owner"); e2eText(v) != "alice" {
		t.Fatalf("alice's create: owner %s, want alice whatever the client sent: %s", e2eFmt(v), e2eFmt(created))
	}
	aid, _ := e2eGet(created, "id")
	aliceID := e2eText(aid)
	var bdoc map[string]any
	e2eRESTJSON(t, base, "POST", "/api/note", bobREST, `{"title":"b1","owner":"alice"}`, http.StatusCreated, &bdoc)
	bobID, _ := bdoc["id"].(string)
	if bdoc["owner"] != "bob" || bobID == "" {
		t.Fatalf("bob's REST create: %v, want owner bob", bdoc)
	}

	// Bob cannot reach alice's note, by any method or route.
	for _, req := range []e2eT{
		{e2eA("sync"), e2eA("read"), note, e2eProps("id", []byte(aliceID))},
		{e2eA("sync"), e2eA("patch"), note, e2eProps("id", []byte(aliceID), "title", []byte("mine"))},
		{e2eA("sync"), e2eA("update"), note, e2eProps("id", []byte(aliceID), "title", []byte("mine"))},
		{e2eA("sync"), e2eA("delete"), note, e2eProps("id", []byte(aliceID))},
	} {
		if code := bob.Err(req); code != "not_found" {
			t.Errorf("bob's %s of alice's note: %s, want not_found", req[1], code)
		}
	}
	for _, r := range []struct{ method, body string }{{"GET", ""}, {"PATCH", `{"title":"mine"}`}, {"PUT", `{"title":"mine"}`}, {"DELETE", ""}} {
		var rerr e2eRESTError
		e2eRESTJSON(t, base, r.method, "/api/note/"+url.PathEscape(aliceID), bobREST, r.body, http.StatusNotFound, &rerr)
		if rerr.Error.Code != "not_found" {
			t.Errorf("bob's REST %s of alice's note: %+v", r.method, rerr)
		}
	}
	// Nothing of it reached the note; alice's own patch cannot give it away.
	got := alice.OK(e2eT{e2eA("sync"), e2eA("patch"), note, e2eProps("id", []byte(aliceID), "owner", []byte("bob"), "body", []byte("x"))})
	if v, _ := e2eGet(got, "owner"); e2eText(v) != "alice" {
		t.Errorf("alice's patch of the owner: %s", e2eFmt(got))
	}
	if v, _ := e2eGet(got, "title"); e2eText(v) != "a1" {
		t.Errorf("alice's note after bob's attempts: %s, want title a1", e2eFmt(got))
	}

	// Collections list the caller's own.
	ids := func(docs []map[string]any) []string {
		var out []string
		for _, d := range docs {
			id, _ := d["id"].(string)
			out = append(out, id)
		}
		return out
	}
	var docs []map[string]any
	e2eRESTJSON(t, base, "GET", "/api/note", aliceREST, "", http.StatusOK, &docs)
	if got := ids(docs); !slices.Equal(got, []string{aliceID}) {
		t.Errorf("alice's REST collection read: %v, want [%s]", got, aliceID)
	}
	e2eRESTJSON(t, base, "GET", "/api/note", bobREST, "", http.StatusOK, &docs)
	if got := ids(docs); !slices.Equal(got, []string{bobID}) {
		t.Errorf("bob's REST collection read: %v, want [%s]", got, bobID)
	}
	list := e2eList(alice.OK(e2eT{e2eA("sync"), e2eA("read"), note, e2eL{}}))
	if len(list) != 1 {
		t.Errorf("alice's collection read: %s, want her one note", e2eFmt(list))
	} else if v, _ := e2eGet(list[0], "id"); e2eText(v) != aliceID {
		t.Errorf("alice's collection read: %s", e2eFmt(list))
	}
	if code := e2eDial(t, a.Addr, false).Err(e2eT{e2eA("sync"), e2eA("read"), note, e2eL{}}); code != "unauthorized" {
		t.Errorf("anonymous read of note: %s, want unauthorized", code)
	}

	// Subscriptions hear the caller's documents only. Each Change reads
	// the sender's reply and own push and refuses anything else, and the
	// model sends the pushes of one change before it takes the next: a
	// push of the other user's change would come first.
	alice.OK(e2eT{e2eA("sync"), e2eA("subscribe"), note, e2eL{}})
	bob.OK(e2eT{e2eA("sync"), e2eA("subscribe"), note, e2eL{}})
	p := e2eOwnChange(alice, "created", "a2", e2eT{e2eA("sync"), e2eA("create"), note, e2eProps("id", []byte("a2"))})
	if v, _ := e2eGet(p.Props, "owner"); e2eText(v) != "alice" {
		t.Fatalf("alice's push of her create: %s", e2eFmt(p.Term))
	}
	e2eOwnChange(bob, "created", "b2", e2eT{e2eA("sync"), e2eA("create"), note, e2eProps("id", []byte("b2"))})
	// A change over REST reaches its owner's subscription only.
	e2eRESTJSON(t, base, "POST", "/api/note", bobREST, `{"id":"b3"}`, http.StatusCreated, nil)
	if p := bob.Push(); p.Event != "created" {
		t.Fatalf("bob's push of his REST create: %s", e2eFmt(p.Term))
	} else if v, _ := e2eGet(p.Props, "id"); e2eText(v) != "b3" {
		t.Fatalf("bob's push of his REST create: %s", e2eFmt(p.Term))
	}
	e2eOwnChange(alice, "updated", "a2", e2eT{e2eA("sync"), e2eA("patch"), note, e2eProps("id", []byte("a2"), "t", int64(1))})
	e2eOwnChange(alice, "deleted", "a2", e2eT{e2eA("sync"), e2eA("delete"), note, e2eProps("id", []byte("a2"))})
	e2eOwnChange(bob, "deleted", "b2", e2eT{e2eA("sync"), e2eA("delete"), note, e2eProps("id", []byte("b2"))})
}

// TestE2EAuthBroadcastFrom: a broadcast is pushed with its from set by
// the server to the sender's sub, whatever the client put there, and
// without one when the sender is anonymous; under an "owner" subscribe
// rule a subscriber hears only broadcasts from its own caller. Were the
// client's from passed on, bob would read "mallory".
func TestE2EAuthBroadcastFrom(t *testing.T) {
	t.Parallel()
	a := e2eStartAuthServer(t, true)
	aliceTok := a.token(t, "alice")
	alice := e2eDialAuth(t, a.Addr, e2eCred{Header: aliceTok})
	alice2 := e2eDialAuth(t, a.Addr, e2eCred{Cookie: aliceTok})
	bob := e2eDialAuth(t, a.Addr, e2eCred{Query: a.token(t, "bob")})
	anon := e2eDial(t, a.Addr, false)
	chat, note, pub := e2eA("chat"), e2eA("note"), e2eA("pub")
	for _, c := range []*e2eConn{alice, alice2, bob} {
		c.OK(e2eT{e2eA("sync"), e2eA("subscribe"), chat, e2eL{}})
		c.OK(e2eT{e2eA("sync"), e2eA("subscribe"), note, e2eL{}})
	}
	from := func(p e2ePush) string {
		v, ok := e2eGet(p.Props, "from")
		if !ok {
			return "<none>"
		}
		return e2eText(v)
	}

	alice.OK(e2eT{e2eA("sync"), e2eA("broadcast"), chat, e2eProps("text", []byte("hi"), "from", []byte("mallory"))})
	for name, c := range map[string]*e2eConn{"alice's other connection": alice2, "bob": bob} {
		if p := c.Push(); p.Event != "broadcast" || from(p) != "alice" {
			t.Errorf("%s got %s, want alice's broadcast from alice", name, e2eFmt(p.Term))
		}
	}
	bob.OK(e2eT{e2eA("sync"), e2eA("broadcast"), chat, e2eProps("text", []byte("yo"))})
	if p := alice.Push(); p.Event != "broadcast" || from(p) != "bob" {
		t.Errorf("alice got %s, want bob's broadcast from bob", e2eFmt(p.Term))
	}
	if p := alice2.Push(); from(p) != "bob" {
		t.Errorf("alice's other connection got %s, want bob's broadcast", e2eFmt(p.Term))
	}
	if code := anon.Err(e2eT{e2eA("sync"), e2eA("broadcast"), chat, e2eProps("text", []byte("?"))}); code != "unauthorized" {
		t.Errorf("anonymous broadcast to chat: %s, want unauthorized", code)
	}

	// note subscriptions are each owner's: alice's broadcast reaches her
	// other connection and not bob, whose next messages are those of his
	// own change.
	alice.OK(e2eT{e2eA("sync"), e2eA("broadcast"), note, e2eProps("text", []byte("note to self"))})
	if p := alice2.Push(); p.Event != "broadcast" || from(p) != "alice" {
		t.Errorf("alice's other connection got %s, want her note broadcast", e2eFmt(p.Term))
	}
	e2eOwnChange(bob, "created", "b1", e2eT{e2eA("sync"), e2eA("create"), note, e2eProps("id", []byte("b1"))})

	// An anonymous broadcast has no from, whatever the client claims.
	bob.OK(e2eT{e2eA("sync"), e2eA("subscribe"), pub, e2eL{}})
	anon.OK(e2eT{e2eA("sync"), e2eA("broadcast"), pub, e2eProps("from", []byte("alice"))})
	if p := bob.Push(); p.Event != "broadcast" || from(p) != "<none>" {
		t.Errorf("bob got %s, want an anonymous broadcast without from", e2eFmt(p.Term))
	}
}
