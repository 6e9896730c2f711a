package gateway

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// brokenWriter is a response whose client is gone: every write fails.
type brokenWriter struct{ h http.Header }

func (w *brokenWriter) Header() http.Header       { return w.h }
func (w *brokenWriter) WriteHeader(int)           {}
func (w *brokenWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

// pollSessionOf returns the polling session of client a, which has
// posted once.
func (ts *testServer) pollSessionOf(t *testing.T, a *client) (*pollSession, *http.Cookie) {
	t.Helper()
	cookie := a.hc.Jar.(*cookieJar).cookies[0]
	ts.gw.mu.Lock()
	defer ts.gw.mu.Unlock()
	p := ts.gw.polls[cookie.Value+"/"] // stock clients: no channel
	if p == nil {
		t.Fatal("no polling session for the client's cookie")
	}
	return p, cookie
}

// waitQueued waits until p's queue holds n messages.
func waitQueued(t *testing.T, p *pollSession, n int) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for p.queue.Len() != n {
		if time.Now().After(deadline) {
			t.Fatalf("queue holds %d messages, want %d", p.queue.Len(), n)
		}
		<-time.After(time.Millisecond)
	}
}

// A long-poll whose response cannot be written keeps its message for the
// next poll.
func TestPollFailedWriteKeepsMessage(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{})
	a := ts.httpClient(t)
	a.postTerm(`{sync, subscribe, note, []}`)
	p, cookie := ts.pollSessionOf(t, a)
	w := ts.dial(t)
	sendBinary(t, w, `{sync, create, note, [{n, 1}]}`)
	readTerm(t, w)
	waitQueued(t, p, 1)

	req := httptest.NewRequest(http.MethodGet, DefaultPath+"?_=1", nil)
	req.Host = "localhost" // httptest's example.com is not served
	req.AddCookie(cookie)
	ts.gw.ServeHTTP(&brokenWriter{h: http.Header{}}, req)
	if n := p.queue.Len(); n != 1 {
		t.Fatalf("after a failed poll the queue holds %d messages, want 1", n)
	}
	status, _, body := a.poll()
	if got := format(t, fromJSBinaryString(t, body)); status != http.StatusOK ||
		!strings.HasPrefix(got, "{sync,created,note,") || !strings.Contains(got, "{n,1}") {
		t.Fatalf("next poll: %d %s", status, got)
	}
}

// A POST whose response cannot be written leaves its reply for the next
// poll.
func TestPostFailedWriteQueuesReply(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{})
	a := ts.httpClient(t)
	a.postTerm(`{sync, read, note, [], first}`)
	p, cookie := ts.pollSessionOf(t, a)

	req := httptest.NewRequest(http.MethodPost, DefaultPath, bytes.NewReader(jsBinaryString(encode(t, `{sync, read, note, [], lost}`))))
	req.Host = "localhost" // httptest's example.com is not served
	req.AddCookie(cookie)
	ts.gw.ServeHTTP(&brokenWriter{h: http.Header{}}, req)
	if n := p.queue.Len(); n != 1 {
		t.Fatalf("after a failed POST response the queue holds %d messages, want 1", n)
	}
	status, _, body := a.poll()
	if got := format(t, fromJSBinaryString(t, body)); status != http.StatusOK || got != "{sync,ok,[],lost}" {
		t.Fatalf("next poll: %d %s, want the POST's reply", status, got)
	}
}
