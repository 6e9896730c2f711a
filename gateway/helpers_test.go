package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bertsync/bertsync/actors"
	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/bert/erltext"
	"github.com/bertsync/bertsync/models"
)

// waitLimit bounds every wait of these tests so that a bug fails a test
// instead of hanging it; no test asserts on durations.
const waitLimit = 20 * time.Second

// testServer is a gateway on a real actor system with the generic
// document model on a temporary store.
type testServer struct {
	*httptest.Server
	gw  *Server
	sys *actors.System
	// sysDown is set by tests that shut the actor system down themselves.
	sysDown bool
}

func newTestServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	return newTestServerActors(t, cfg, actors.Config{})
}

// newTestServerActors is newTestServer with settings for the actors; its
// Documents and Logger are filled in.
func newTestServerActors(t *testing.T, cfg Config, acfg actors.Config) *testServer {
	t.Helper()
	return startTestServer(t, cfg, acfg, false)
}

// newTLSTestServer is newTestServer over TLS, with HTTP/2; its clients
// (httpClient, ts.Client) trust its certificate and speak HTTP/2.
func newTLSTestServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	return startTestServer(t, cfg, actors.Config{}, true)
}

func startTestServer(t *testing.T, cfg Config, acfg actors.Config, useTLS bool) *testServer {
	t.Helper()
	store, err := models.OpenStore(filepath.Join(t.TempDir(), "bertsync.db"))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	acfg.Documents = models.NewDocuments(store, nil)
	acfg.Logger = log
	sys, err := actors.NewSystem(context.Background(), acfg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Logger == nil {
		cfg.Logger = log
	}
	gw, err := New(sys, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: httptest.NewUnstartedServer(gw), gw: gw, sys: sys}
	if useTLS {
		ts.EnableHTTP2 = true
		ts.StartTLS()
	} else {
		ts.Start()
	}
	t.Cleanup(func() {
		gw.Close()
		ts.Close()
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		if !ts.sysDown {
			if err := sys.Shutdown(ctx); err != nil {
				t.Errorf("actors shutdown: %v", err)
			}
		}
		store.Close()
	})
	return ts
}

func (ts *testServer) wsURL() string {
	return "ws" + strings.TrimPrefix(ts.URL, "http") + DefaultPath
}

func (ts *testServer) bulletURL() string { return ts.URL + DefaultPath }

// dial opens a WebSocket to the Bullet endpoint.
func (ts *testServer) dial(t *testing.T) *websocket.Conn {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(ts.wsURL(), nil)
	if err != nil {
		if resp != nil {
			body, _ := io.ReadAll(resp.Body)
			t.Fatalf("dial: %v: %s %s", err, resp.Status, body)
		}
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// term builds an Erlang term from its text, failing the test on error.
func term(t *testing.T, text string) any {
	t.Helper()
	v, err := erltext.Parse(text)
	if err != nil {
		t.Fatalf("parse %s: %v", text, err)
	}
	return v
}

// encode returns the BERT bytes of the term in Erlang text.
func encode(t *testing.T, text string) []byte {
	t.Helper()
	b, err := bert.Marshal(term(t, text))
	if err != nil {
		t.Fatalf("marshal %s: %v", text, err)
	}
	return b
}

// format returns the Erlang text of BERT bytes.
func format(t *testing.T, data []byte) string {
	t.Helper()
	var v any
	if err := bert.Unmarshal(data, &v); err != nil {
		t.Fatalf("unmarshal % x: %v", data, err)
	}
	s, err := erltext.Format(v)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// jsBinaryString is what a browser sends for a JavaScript binary string:
// each byte as the character of that value, in UTF-8. It is written
// independently of the gateway's own mapping.
func jsBinaryString(b []byte) []byte {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return []byte(string(r))
}

// fromJSBinaryString undoes jsBinaryString, failing on characters above
// U+00FF.
func fromJSBinaryString(t *testing.T, s []byte) []byte {
	t.Helper()
	var out []byte
	for _, r := range string(s) {
		if r > 0xFF {
			t.Fatalf("character U+%04X in a binary string", r)
		}
		out = append(out, byte(r))
	}
	return out
}

// readWS reads one message with a deadline.
func readWS(t *testing.T, c *websocket.Conn) (int, []byte) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(waitLimit))
	mt, data, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return mt, data
}

// readTerm reads one message and returns its frame type and the Erlang
// text of its term.
func readTerm(t *testing.T, c *websocket.Conn) (int, string) {
	t.Helper()
	mt, data := readWS(t, c)
	if mt == websocket.TextMessage {
		data = fromJSBinaryString(t, data)
	}
	return mt, format(t, data)
}

// sendText sends the term as a BERT-JS text frame.
func sendText(t *testing.T, c *websocket.Conn, text string) {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, jsBinaryString(encode(t, text))); err != nil {
		t.Fatal(err)
	}
}

// sendBinary sends the term as a binary frame.
func sendBinary(t *testing.T, c *websocket.Conn, text string) {
	t.Helper()
	if err := c.WriteMessage(websocket.BinaryMessage, encode(t, text)); err != nil {
		t.Fatal(err)
	}
}

// client is an HTTP client with a cookie jar of its own.
type client struct {
	t   *testing.T
	hc  *http.Client
	url string
}

func (ts *testServer) httpClient(t *testing.T) *client {
	jar := &cookieJar{}
	hc := &http.Client{Jar: jar, Timeout: waitLimit, Transport: ts.Client().Transport}
	return &client{t: t, hc: hc, url: ts.bulletURL()}
}

// post sends body and returns status, content type and body.
func (c *client) post(body []byte) (int, string, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	// What bullet.js sends: the body is still never form-parsed.
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	return c.do(req)
}

// poll sends a long-poll GET as bullet.js does.
func (c *client) poll() (int, string, []byte) {
	c.t.Helper()
	sep := "?"
	if strings.Contains(c.url, "?") {
		sep = "&"
	}
	req, err := http.NewRequest(http.MethodGet, c.url+fmt.Sprintf("%s_=%d", sep, time.Now().UnixMilli()), nil)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("X-Socket-Transport", "xhrPolling")
	return c.do(req)
}

func (c *client) do(req *http.Request) (int, string, []byte) {
	c.t.Helper()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), body
}

// postTerm posts the term as a BERT-JS text body and returns the Erlang
// text of the reply.
func (c *client) postTerm(text string) string {
	c.t.Helper()
	status, ctype, body := c.post(jsBinaryString(encode(c.t, text)))
	if status != http.StatusOK || ctype != "text/plain; charset=utf-8" {
		c.t.Fatalf("POST %s: %d %s %q", text, status, ctype, body)
	}
	return format(c.t, fromJSBinaryString(c.t, body))
}

// cookieJar keeps the cookies of one test client, whatever their path.
type cookieJar struct{ cookies []*http.Cookie }

func (j *cookieJar) SetCookies(_ *url.URL, cs []*http.Cookie) {
	for _, c := range cs {
		j.cookies = slices.DeleteFunc(j.cookies, func(o *http.Cookie) bool { return o.Name == c.Name })
		j.cookies = append(j.cookies, c)
	}
}

func (j *cookieJar) Cookies(*url.URL) []*http.Cookie { return j.cookies }

// sseStream reads server-sent events the way a browser's EventSource
// does: lines end at CR, LF or CRLF; "data:" lines (one leading space
// stripped) are joined with LF; a blank line dispatches the event.
type sseStream struct {
	resp *http.Response
	r    *bufio.Reader
}

func (c *client) eventSource(query string) (*sseStream, int) {
	c.t.Helper()
	// The whole stream is bounded by waitLimit, so a missing event fails
	// the test instead of hanging it.
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	c.t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url+query, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	hc := *c.hc
	hc.Timeout = 0 // a stream; reads are bounded by the test's waits
	resp, err := hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		return nil, resp.StatusCode
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		c.t.Fatalf("EventSource content type %q", ct)
	}
	return &sseStream{resp: resp, r: bufio.NewReader(resp.Body)}, resp.StatusCode
}

// readLine reads one line ending at CR, LF or CRLF.
func (s *sseStream) readLine() (string, error) {
	var line []byte
	for {
		b, err := s.r.ReadByte()
		if err != nil {
			return string(line), err
		}
		switch b {
		case '\n':
			return string(line), nil
		case '\r':
			if next, err := s.r.Peek(1); err == nil && next[0] == '\n' {
				s.r.ReadByte()
			}
			return string(line), nil
		}
		line = append(line, b)
	}
}

// next returns the data of the next event, or io.EOF when the stream ends.
func (s *sseStream) next() (string, error) {
	var data []string
	seen := false
	for {
		line, err := s.readLine()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return "", io.EOF
			}
			return "", err
		}
		if line == "" {
			if seen {
				return strings.Join(data, "\n"), nil
			}
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		if field == "data" {
			data = append(data, value)
			seen = true
		}
	}
}
