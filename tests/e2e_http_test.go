package tests

// The HTTP transports of the Bullet endpoint: POST, long-poll GET and
// EventSource, tied to one session by the session cookie.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bertsync/bertsync/actors"
	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/gateway"
	"github.com/bertsync/bertsync/models"
)

// e2eHTTP is one Bullet session over HTTP: a client with a cookie jar.
type e2eHTTP struct {
	t      testing.TB
	base   string // http://host:port
	client *http.Client
}

func e2eNewHTTP(t testing.TB, s *e2eServer) *e2eHTTP { return e2eNewHTTPAt(t, s.URL()) }

// e2eNewHTTPAt is e2eNewHTTP for the server at base (http://host:port).
func e2eNewHTTPAt(t testing.TB, base string) *e2eHTTP {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &e2eHTTP{t: t, base: base, client: &http.Client{Jar: jar, Timeout: 60 * time.Second}}
}

// do sends one request with the Origin of the page, as a browser would.
func (h *e2eHTTP) do(ctx context.Context, method, url string, body []byte, hdr map[string]string) *http.Response {
	h.t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Origin", h.base)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, url, err)
	}
	return resp
}

// PostRaw POSTs bytes as bullet.js does (a byte-per-char string sent as
// UTF-8 with jQuery's form content type, which must not be form-parsed)
// and returns the status and the decoded body bytes.
func (h *e2eHTTP) PostRaw(b []byte) (int, []byte) {
	h.t.Helper()
	resp := h.do(context.Background(), "POST", h.base+"/bullet", []byte(e2eBytesToChars(b)),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"})
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		h.t.Fatalf("POST body: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, body
	}
	raw, err := e2eCharsToBytes(string(body))
	if err != nil {
		h.t.Fatalf("POST reply: %v", err)
	}
	return resp.StatusCode, raw
}

// Post sends term and returns the reply from the POST's body.
func (h *e2eHTTP) Post(term any) e2eReply {
	h.t.Helper()
	b, err := bert.Marshal(term)
	if err != nil {
		h.t.Fatal(err)
	}
	status, body := h.PostRaw(b)
	if status != http.StatusOK {
		h.t.Fatalf("POST %s: status %d %q, want 200 with the reply", e2eFmt(term), status, body)
	}
	var m any
	if err := bert.Unmarshal(body, &m); err != nil {
		h.t.Fatalf("POST reply % x: %v", body, err)
	}
	r, ok := e2eParseReply(m)
	if !ok {
		h.t.Fatalf("POST %s: body %s is not a reply", e2eFmt(term), e2eFmt(m))
	}
	return r
}

// PostOK requires an ok reply and returns its Msg.
func (h *e2eHTTP) PostOK(term any) any {
	h.t.Helper()
	r := h.Post(term)
	if !r.OK {
		h.t.Fatalf("POST %s: %s", e2eFmt(term), e2eFmt(r.Term))
	}
	return r.Msg
}

// Poll does one long-poll GET (with bullet.js's ?_= cache buster) and
// returns the status and the decoded message.
func (h *e2eHTTP) Poll(timeout time.Duration) (int, any) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	pollURL := fmt.Sprintf("%s/bullet?_=%d", h.base, time.Now().UnixMilli())
	resp := h.do(ctx, "GET", pollURL, nil, nil)
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		h.t.Fatalf("poll body: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	// A message travels in the type of the session's latest request:
	// raw BERT for raw POSTs, a UTF-8 binary string for BERT-JS ones.
	op := byte(wsText)
	if resp.Header.Get("Content-Type") == "application/octet-stream" {
		op = wsBinary
	}
	m, err := e2eDecodeFrame(op, body)
	if err != nil {
		h.t.Fatalf("poll: %v", err)
	}
	return resp.StatusCode, m
}

// e2eES is an open EventSource stream.
type e2eES struct {
	t      testing.TB
	b64    bool
	resp   *http.Response
	cancel context.CancelFunc
	events chan []byte
	errc   chan error
}

// EventSource opens the stream (Accept: text/event-stream). With b64 it
// asks for our client's base64 events (?bertsync=1), else it is stock
// bullet.js: byte-per-char text split into data lines at LF.
func (h *e2eHTTP) EventSource(b64 bool) *e2eES {
	h.t.Helper()
	es, status := h.tryEventSource(b64)
	if es == nil {
		h.t.Fatalf("EventSource: status %d", status)
	}
	return es
}

// tryEventSource opens the stream, or returns nil and the status.
func (h *e2eHTTP) tryEventSource(b64 bool) (*e2eES, int) {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	u := h.base + "/bullet"
	if b64 {
		u += "?bertsync=1"
	}
	resp := h.do(ctx, "GET", u, nil, map[string]string{"Accept": "text/event-stream", "Cache-Control": "no-cache"})
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		return nil, resp.StatusCode
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		cancel()
		h.t.Fatalf("EventSource: Content-Type %q", ct)
	}
	es := &e2eES{t: h.t, b64: b64, resp: resp, cancel: cancel, events: make(chan []byte, 64), errc: make(chan error, 1)}
	h.t.Cleanup(es.Close)
	go es.read()
	return es, resp.StatusCode
}

// read parses the stream per the HTML EventSource rules: data lines of one
// event are joined with LF, a blank line dispatches it.
func (es *e2eES) read() {
	br := bufio.NewReader(es.resp.Body)
	var data []string
	has := false
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			es.errc <- err
			return
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		switch {
		case line == "":
			if has {
				es.events <- []byte(strings.Join(data, "\n"))
			}
			data, has = nil, false
		case strings.HasPrefix(line, ":"):
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			if field == "data" {
				data, has = append(data, value), true
			}
		}
	}
}

// Next returns the next event's message, decoded.
func (es *e2eES) Next() any {
	es.t.Helper()
	select {
	case ev := <-es.events:
		op := byte(wsText)
		if es.b64 {
			raw, err := base64.StdEncoding.DecodeString(string(ev))
			if err != nil {
				es.t.Fatalf("EventSource base64 event %q: %v", ev, err)
			}
			op, ev = wsBinary, raw
		}
		m, err := e2eDecodeFrame(op, ev)
		if err != nil {
			es.t.Fatalf("EventSource event %q: %v", ev, err)
		}
		return m
	case err := <-es.errc:
		es.t.Fatalf("EventSource stream ended: %v", err)
	case <-time.After(e2eTimeout):
		es.t.Fatal("EventSource: no event within timeout")
	}
	return nil
}

func (es *e2eES) Close() {
	es.cancel()
	es.resp.Body.Close()
}

// TestE2EPostAndLongPoll: CRUD over POST, then pushes buffered by the
// session between polls reach the next long-poll GET, in both directions
// with a WebSocket peer. (A poll held while the change is made is
// TestE2EHeldPoll's.)
func TestE2EPostAndLongPoll(t *testing.T) {
	t.Parallel()
	s := e2eStartServer(t, "")
	h := e2eNewHTTP(t, s)
	model := e2eA("mail")

	created := h.PostOK(e2eT{e2eA("sync"), e2eA("create"), model, e2eProps("subject", []byte("hi"))})
	id, _ := e2eGet(created, "id")
	got := h.PostOK(e2eT{e2eA("sync"), e2eA("read"), model, e2eProps("id", id)})
	if v, _ := e2eGet(got, "subject"); e2eText(v) != "hi" {
		t.Fatalf("POST read = %s", e2eFmt(got))
	}
	if r := h.Post(e2eT{e2eA("sync"), e2eA("read"), model, e2eProps("id", []byte("none")), int64(7)}); r.Code != "not_found" || r.Ref != int64(7) {
		t.Fatalf("POST read missing = %s", e2eFmt(r.Term))
	}

	h.PostOK(e2eT{e2eA("sync"), e2eA("subscribe"), model, e2eL{}})
	u, _ := h.client.Jar.(*cookiejar.Jar)
	if len(u.Cookies(e2eMustURL(t, s.URL()+"/bullet"))) == 0 {
		t.Fatal("no session cookie after POST")
	}

	// Two changes over WebSocket while no poll is open: both are buffered
	// and come out one per poll, in order.
	ws := e2eDial(t, s.Addr, false)
	ws.OK(e2eT{e2eA("sync"), e2eA("create"), model, e2eProps("id", []byte("m1"))})
	ws.OK(e2eT{e2eA("sync"), e2eA("create"), model, e2eProps("id", []byte("m2"))})
	var seqs []int64
	for _, want := range []string{"m1", "m2"} {
		status, m := h.Poll(e2eTimeout)
		if status != http.StatusOK {
			t.Fatalf("poll: status %d, want 200 with the push for %s", status, want)
		}
		p, ok := e2eParsePush(m)
		if !ok || p.Event != "created" {
			t.Fatalf("poll got %s, want a created push", e2eFmt(m))
		}
		if v, _ := e2eGet(p.Props, "id"); e2eText(v) != want {
			t.Fatalf("poll got %s, want the push for %s", e2eFmt(m), want)
		}
		seqs = append(seqs, p.Seq)
	}
	if seqs[1] != seqs[0]+1 {
		t.Fatalf("seqs %v", seqs)
	}

	// The other direction: a WebSocket subscriber sees a change made over POST.
	ws.OK(e2eT{e2eA("sync"), e2eA("subscribe"), model, e2eL{}})
	h.PostOK(e2eT{e2eA("sync"), e2eA("patch"), model, e2eProps("id", []byte("m2"), "read", e2eA("yes"))})
	if p := ws.Push(); p.Event != "updated" {
		t.Fatalf("ws push after POST = %s", e2eFmt(p.Term))
	}

	// A POST with a control message and with garbage.
	if status, body := h.PostRaw([]byte("ping")); status != http.StatusOK || string(body) != "pong" {
		t.Fatalf("POST ping: %d %q, want 200 pong", status, body)
	}
	if r := h.postBad([]byte{131, 1, 2, 3}); r.Code != "bad_request" {
		t.Fatalf("POST garbage: %s", e2eFmt(r.Term))
	}
}

// TestE2EHeldPoll: a long poll that the server holds, having nothing for
// it, gets the push of a change made while it waits. The gateway runs in
// this process, so that the test can see from outside it that the poll is
// held before it makes the change: the poll's handler is parked in its
// select (e2eHeldPolls). Otherwise the change could reach the session
// before the poll and be taken from its buffer, which TestE2EPostAndLongPoll
// covers. Not parallel: no other test's poll is held meanwhile.
func TestE2EHeldPoll(t *testing.T) {
	addr := e2eStartInProcess(t)
	h := e2eNewHTTPAt(t, "http://"+addr)
	model := e2eA("held")
	h.PostOK(e2eT{e2eA("sync"), e2eA("subscribe"), model, e2eL{}})
	ws := e2eDial(t, addr, false)
	if n := e2eHeldPolls(); n != 0 {
		t.Fatalf("%d polls held before the test's", n)
	}

	for _, id := range []string{"h1", "h2"} {
		done := make(chan any, 1)
		go func() {
			status, m := h.Poll(e2eTimeout)
			if status != http.StatusOK {
				m = fmt.Sprintf("status %d", status)
			}
			done <- m
		}()
		for limit := time.Now().Add(e2eTimeout); e2eHeldPolls() != 1; time.Sleep(time.Millisecond) {
			if time.Now().After(limit) {
				t.Fatalf("the poll was not held within %v", e2eTimeout)
			}
		}
		select {
		case m := <-done:
			t.Fatalf("a poll with nothing to take returned %v", m)
		default:
		}
		ws.OK(e2eT{e2eA("sync"), e2eA("create"), model, e2eProps("id", []byte(id))})
		var m any
		select {
		case m = <-done:
		case <-time.After(e2eTimeout):
			t.Fatalf("the held poll did not return within %v of the change", e2eTimeout)
		}
		p, ok := e2eParsePush(m)
		if v, _ := e2eGet(p.Props, "id"); !ok || p.Event != "created" || e2eText(v) != id {
			t.Fatalf("held poll got %v (%s), want the push of %s", m, e2eFmt(m), id)
		}
	}
}

// e2eHeldPolls counts the long polls held by the gateways of this
// process: goroutines parked in the select of the poll handler.
func e2eHeldPolls() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	held := 0
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		header, _, _ := strings.Cut(g, "\n")
		if strings.Contains(header, "[select") && strings.Contains(g, "gateway.(*Server).servePoll(") {
			held++
		}
	}
	return held
}

// e2eStartInProcess runs the gateway and actor system of `bertsync
// serve` (the document model, default limits) in this process, on a
// loopback port, until the test ends, and returns its host:port.
func e2eStartInProcess(t testing.TB) string {
	t.Helper()
	store, err := models.OpenStore(t.TempDir() + "/bertsync.db")
	if err != nil {
		t.Fatal(err)
	}
	logs := &e2eLogCapture{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	sys, err := actors.NewSystem(ctx, actors.Config{Documents: models.NewDocuments(store, nil), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	gw, err := gateway.New(sys, gateway.Config{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		go gw.Shutdown(sctx)
		sys.Shutdown(sctx)
		srv.Close()
		store.Close()
		cancel()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return strings.TrimPrefix(srv.URL, "http://")
}

// postBad POSTs bytes that are no valid request and returns the error reply.
func (h *e2eHTTP) postBad(b []byte) e2eReply {
	h.t.Helper()
	status, body := h.PostRaw(b)
	if status != http.StatusOK {
		h.t.Fatalf("POST % x: status %d %q, want 200 with an error reply", b, status, body)
	}
	m, err := e2eDecodeFrame(wsBinary, body)
	if err != nil {
		h.t.Fatal(err)
	}
	r, ok := e2eParseReply(m)
	if !ok || r.OK {
		h.t.Fatalf("POST % x: got %s, want an error reply", b, e2eFmt(m))
	}
	return r
}

// TestE2EEventSource: pushes reach an EventSource stream whose session
// sends its requests over POST, in our client's base64 mode (which carries
// every byte) and in stock bullet.js mode, where a message with a CR byte
// ends the stream, stock streams are refused from then on (406) and the
// message is delivered by long-polling instead.
func TestE2EEventSource(t *testing.T) {
	t.Parallel()
	s := e2eStartServer(t, "")
	for _, b64 := range []bool{true, false} {
		h := e2eNewHTTP(t, s)
		model := e2eA(fmt.Sprintf("news_%v", b64))
		es := h.EventSource(b64)
		h.PostOK(e2eT{e2eA("sync"), e2eA("subscribe"), model, e2eL{}})

		ws := e2eDial(t, s.Addr, true)
		ws.OK(e2eT{e2eA("sync"), e2eA("subscribe"), model, e2eL{}})
		// LF and NUL survive both modes (LF as a line break between data lines).
		body := []byte("line1\nline2\n\nend\x00")
		if b64 {
			body = append(body, "\r\n"...)
		}
		ws.Change(e2eT{e2eA("sync"), e2eA("create"), model, e2eProps("id", []byte("n1"), "body", body)})

		p, ok := e2eParsePush(es.Next())
		if !ok || p.Event != "created" {
			t.Fatalf("b64=%v: EventSource push = %s", b64, e2eFmt(p.Term))
		}
		if v, _ := e2eGet(p.Props, "body"); !bytes.Equal(e2eBytes(v), body) {
			t.Fatalf("b64=%v: EventSource corrupted the body: %q, want %q", b64, v, body)
		}

		// The EventSource client's own change (over POST) reaches the
		// WebSocket subscriber, and its own stream.
		h.PostOK(e2eT{e2eA("sync"), e2eA("update"), model, e2eProps("id", []byte("n1"), "body", []byte("new"))})
		if p := ws.Push(); p.Event != "updated" {
			t.Fatalf("b64=%v: ws push after POST = %s", b64, e2eFmt(p.Term))
		}
		if p, ok := e2eParsePush(es.Next()); !ok || p.Event != "updated" {
			t.Fatalf("b64=%v: EventSource push after own POST = %s", b64, e2eFmt(p.Term))
		}
		if b64 {
			continue
		}

		// Stock mode and a CR byte: the stream ends rather than corrupt it.
		cr := []byte("a\rb")
		ws.Change(e2eT{e2eA("sync"), e2eA("patch"), model, e2eProps("id", []byte("n1"), "body", cr)})
		select {
		case <-es.errc:
		case ev := <-es.events:
			t.Fatalf("stock EventSource sent an event for a message with a CR: %q", ev)
		case <-time.After(e2eTimeout):
			t.Fatal("stock EventSource stream did not end before a message with a CR")
		}
		if again, status := h.tryEventSource(false); again != nil || status != http.StatusNotAcceptable {
			t.Fatalf("stock EventSource after a CR message: status %d, want 406", status)
		}
		status, m := h.Poll(e2eTimeout)
		p, ok = e2eParsePush(m)
		if status != http.StatusOK || !ok || p.Event != "updated" {
			t.Fatalf("long-poll after the stream ended: %d %s", status, e2eFmt(m))
		}
		if v, _ := e2eGet(p.Props, "body"); !bytes.Equal(e2eBytes(v), cr) {
			t.Fatalf("long-poll body %q, want %q", v, cr)
		}
	}
}

func e2eMustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestE2EEndpointEdges: other methods get 405 with Allow, a foreign
// Origin is refused 403 with its reason unless --allow-origin lists it,
// and --path moves the endpoint.
func TestE2EEndpointEdges(t *testing.T) {
	t.Parallel()
	s := e2eStartServer(t, "", "--allow-origin", "https://app.example.com", "--path", "/sock")
	h := e2eNewHTTP(t, s)
	resp := h.do(context.Background(), "PUT", s.URL()+"/sock", []byte("x"), nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(resp.Header.Get("Allow"), "POST") {
		t.Fatalf("PUT: %s, Allow %q; want 405 with Allow", resp.Status, resp.Header.Get("Allow"))
	}

	_, err := e2eDialWS(s.Addr, "/sock", http.Header{"Origin": {"https://evil.example.net"}})
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("foreign origin: %v, want a 403", err)
	}
	ws, err := e2eDialWS(s.Addr, "/sock", http.Header{"Origin": {"https://app.example.com"}})
	if err != nil {
		t.Fatalf("allowed origin: %v", err)
	}
	c := &e2eConn{t: t, ws: ws}
	defer ws.Close()
	c.OK(e2eT{e2eA("sync"), e2eA("read"), e2eA("edge"), e2eL{}})

	if _, err := e2eDialWS(s.Addr, "/bullet", nil); err == nil {
		t.Fatal("the default path still answers although --path moved the endpoint")
	}
}

// TestE2ERESTAndBullet: a change over REST JSON is pushed to a WebSocket
// subscriber, and a change over a WebSocket is seen by the next REST read,
// in both directions with the same document.
func TestE2ERESTAndBullet(t *testing.T) {
	t.Parallel()
	s := e2eStartServer(t, "")
	h := e2eNewHTTP(t, s)
	ws := e2eDial(t, s.Addr, true)
	model := e2eA("rested")
	ws.OK(e2eT{e2eA("sync"), e2eA("subscribe"), model, e2eL{}})

	resp := h.do(context.Background(), "POST", s.URL()+"/api/rested", []byte(`{"id":"r1","name":"Ann","level":3}`),
		map[string]string{"Content-Type": "application/json"})
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("REST create: %s %s", resp.Status, body)
	}
	p := ws.Push()
	if p.Event != "created" || p.Model != "rested" {
		t.Fatalf("push after REST create: %s", e2eFmt(p.Term))
	}
	if v, _ := e2eGet(p.Props, "name"); e2eText(v) != "Ann" {
		t.Fatalf("push props after REST create: %s", e2eFmt(p.Props))
	}
	if v, _ := e2eGet(p.Props, "level"); v != int64(3) {
		t.Fatalf("JSON number 3 arrived as %s", e2eFmt(v))
	}

	ws.Change(e2eT{e2eA("sync"), e2eA("patch"), model, e2eProps("id", []byte("r1"), "level", int64(4))})
	resp = h.do(context.Background(), "GET", s.URL()+"/api/rested/r1", nil, nil)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"level":4`) || !strings.Contains(string(body), `"name":"Ann"`) {
		t.Fatalf("REST read after a WebSocket patch: %s %s", resp.Status, body)
	}
}
