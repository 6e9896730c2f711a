package gateway

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bertsync/bertsync/actors"
)

func TestPostAndLongPollShareSession(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{PollTimeout: 50 * time.Millisecond})
	a := ts.httpClient(t)
	if reply := a.postTerm(`{sync, subscribe, note, [], sub}`); !strings.HasPrefix(reply, "{sync,ok,") || !strings.HasSuffix(reply, ",sub}") {
		t.Fatalf("subscribe: %s", reply)
	}
	if len(a.hc.Jar.(*cookieJar).cookies) != 1 {
		t.Fatal("no session cookie")
	}
	c := a.hc.Jar.(*cookieJar).cookies[0]
	if c.Name != cookieName || !c.HttpOnly || c.Path != DefaultPath || c.SameSite != http.SameSiteLaxMode {
		t.Fatalf("cookie %+v", c)
	}

	// Two changes from a WebSocket client while nobody polls: both are
	// kept for the polls, in order.
	w := ts.dial(t)
	for _, id := range []string{"n1", "n2"} {
		sendBinary(t, w, `{sync, create, note, [{id, <<"`+id+`">>}]}`)
		if _, reply := readTerm(t, w); !strings.HasPrefix(reply, "{sync,ok,") {
			t.Fatalf("create: %s", reply)
		}
	}
	for _, id := range []string{"n1", "n2"} {
		status, ctype, body := a.poll()
		if status != http.StatusOK || ctype != "text/plain; charset=utf-8" {
			t.Fatalf("poll: %d %s %q", status, ctype, body)
		}
		push := format(t, fromJSBinaryString(t, body))
		if !strings.HasPrefix(push, "{sync,created,note,") || !strings.Contains(push, `<<"`+id+`">>`) {
			t.Fatalf("poll: %s, want the creation of %s", push, id)
		}
	}
	// Nothing left: 204 after the poll timeout.
	if status, _, body := a.poll(); status != http.StatusNoContent || len(body) != 0 {
		t.Fatalf("empty poll: %d %q", status, body)
	}
	// A POST's reply is its own response, never a poll's.
	if reply := a.postTerm(`{sync, read, note, [{id, <<"n1">>}], r1}`); !strings.HasSuffix(reply, ",r1}") {
		t.Fatalf("read: %s", reply)
	}
	if status, _, body := a.poll(); status != http.StatusNoContent {
		t.Fatalf("poll after POST: %d %q", status, body)
	}
}

func TestPollTimeout(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{PollTimeout: 20 * time.Millisecond})
	a := ts.httpClient(t)
	if status, _, _ := a.poll(); status != http.StatusNoContent {
		t.Fatalf("poll: %d, want 204", status)
	}
}

func TestPostRawBERT(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{})
	a := ts.httpClient(t)
	status, ctype, body := a.post(encode(t, `{sync, create, doc, [{id, <<"x">>}], 7}`))
	if status != http.StatusOK || ctype != "application/octet-stream" {
		t.Fatalf("POST: %d %s %q", status, ctype, body)
	}
	if reply := format(t, body); !strings.HasPrefix(reply, "{sync,ok,") || !strings.HasSuffix(reply, ",7}") {
		t.Fatalf("reply %s", reply)
	}
}

func TestPostBadBodies(t *testing.T) {
	t.Parallel()
	ts := newTestServerActors(t, Config{}, actors.Config{MaxMessageSize: 1000})
	a := ts.httpClient(t)
	cases := []struct {
		name string
		body []byte
		want string
	}{
		{"empty", nil, "{sync,error,{bad_request,"},
		{"form", []byte("a=1&b=2"), "{sync,error,{bad_request,"},
		{"char above U+00FF", []byte("\u0083\u0100"), "{sync,error,{bad_request,"},
		{"truncated text term", jsBinaryString(encode(t, `{sync, read, doc, []}`)[:8]), "{sync,error,{bad_request,"},
		{"garbage after magic", []byte{131, 1, 2}, "{sync,error,{bad_request,"},
		{"too large raw", append([]byte{131}, make([]byte, 1500)...), "{sync,error,{too_large,"},
		{"too large text", jsBinaryString(append([]byte{131}, bytes.Repeat([]byte{0xFF}, 1100)...)), "{sync,error,{too_large,"},
		{"too large on the wire", bytes.Repeat([]byte{131}, 5000), "{sync,error,{too_large,"},
	}
	for _, tc := range cases {
		status, ctype, body := a.post(tc.body)
		if status != http.StatusOK {
			t.Errorf("%s: status %d %q", tc.name, status, body)
			continue
		}
		if ctype == "text/plain; charset=utf-8" {
			body = fromJSBinaryString(t, body)
		}
		if reply := format(t, body); !strings.HasPrefix(reply, tc.want) {
			t.Errorf("%s: %s, want %s…", tc.name, reply, tc.want)
		}
	}
	if status, _, body := a.post([]byte("ping")); status != http.StatusOK || string(body) != "pong" {
		t.Errorf("ping: %d %q", status, body)
	}
	// The session lives on.
	if reply := a.postTerm(`{sync, create, doc, [], ok}`); !strings.HasPrefix(reply, "{sync,ok,") {
		t.Fatalf("after bad bodies: %s", reply)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{})
	for _, m := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodHead, http.MethodOptions} {
		req, _ := http.NewRequest(m, ts.bulletURL(), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, POST" {
			t.Errorf("%s: %d Allow %q", m, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
}

func TestUnknownCookieStartsSession(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{PollTimeout: 10 * time.Millisecond})
	a := ts.httpClient(t)
	jar := a.hc.Jar.(*cookieJar)
	jar.cookies = []*http.Cookie{{Name: cookieName, Value: "no-such-session"}}
	a.poll()
	if len(jar.cookies) != 1 || jar.cookies[0].Value == "no-such-session" {
		t.Fatalf("cookies %v: want a new session", jar.cookies)
	}
	id := jar.cookies[0].Value
	a.poll()
	if jar.cookies[0].Value != id {
		t.Fatal("a known session got a new cookie")
	}
}

func TestPollOriginRejected(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{})
	req, _ := http.NewRequest(http.MethodPost, ts.bulletURL(), strings.NewReader("ping"))
	req.Header.Set("Origin", "https://evil.example.com")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("status %d, want 403", resp.StatusCode)
	}
}

func TestPollSlowConsumerEndsSession(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{MaxQueue: 2, PollTimeout: 10 * time.Millisecond})
	a := ts.httpClient(t)
	a.postTerm(`{sync, subscribe, note, []}`)
	id := a.hc.Jar.(*cookieJar).cookies[0].Value
	ts.gw.mu.Lock()
	p := ts.gw.polls[id+"/"] // stock clients: no channel
	ts.gw.mu.Unlock()
	w := ts.dial(t)
	for range 3 {
		sendBinary(t, w, `{sync, create, note, []}`)
		readTerm(t, w)
	}
	select {
	case <-p.ended:
	case <-time.After(waitLimit):
		t.Fatal("the session did not end with its buffer full")
	}
	a.poll()
	if got := a.hc.Jar.(*cookieJar).cookies[0].Value; got == id {
		t.Fatal("the ended session's cookie still works")
	}
}

func TestPollSessionIdleTimeout(t *testing.T) {
	t.Parallel()
	ts := newTestServerActors(t, Config{PollTimeout: 10 * time.Millisecond},
		actors.Config{SessionIdleTimeout: 50 * time.Millisecond})
	a := ts.httpClient(t)
	a.poll()
	id := a.hc.Jar.(*cookieJar).cookies[0].Value
	ts.gw.mu.Lock()
	p := ts.gw.polls[id+"/"] // stock clients: no channel
	ts.gw.mu.Unlock()
	select {
	case <-p.ended:
	case <-time.After(waitLimit):
		t.Fatal("an idle polling session did not end")
	}
	if p.reason != actors.IdleTimeout {
		t.Fatalf("reason %v", p.reason)
	}
	a.poll()
	if got := a.hc.Jar.(*cookieJar).cookies[0].Value; got == id {
		t.Fatal("the expired session's cookie still works")
	}
}

func TestPostReplyAndOwnPush(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{PollTimeout: 10 * time.Millisecond})
	a := ts.httpClient(t)
	a.postTerm(`{sync, subscribe, note, []}`)
	// The client hears of its own change: the reply is the POST's, the
	// push the poll's, whichever the session sends first.
	for i := range 5 {
		reply := a.postTerm(`{sync, create, note, [{n, ` + itoa(i) + `}]}`)
		if !strings.HasPrefix(reply, "{sync,ok,") {
			t.Fatalf("create %d: %s", i, reply)
		}
	}
	for i := range 5 {
		status, _, body := a.poll()
		if status != http.StatusOK {
			t.Fatalf("poll %d: %d", i, status)
		}
		if push := format(t, fromJSBinaryString(t, body)); !strings.HasPrefix(push, "{sync,created,note,") {
			t.Fatalf("poll %d: %s", i, push)
		}
	}
}

func TestCORSPreflight(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{AllowedOrigins: []string{"https://app.example.com"}})
	req, _ := http.NewRequest(http.MethodOptions, ts.bulletURL(), nil)
	req.Header.Set("Origin", "https://app.example.com")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "x-socket-transport")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := resp.Header
	if resp.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		h.Get("Access-Control-Allow-Credentials") != "true" || h.Get("Access-Control-Allow-Headers") != "x-socket-transport" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, h)
	}
	req.Header.Set("Origin", "https://evil.example.com")
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign preflight: %d", resp.StatusCode)
	}
}

func TestPollChannelsShareCookieNotSession(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{PollTimeout: time.Second})
	tab1 := ts.httpClient(t)
	tab1.url += "?" + channelParam + "=tab-1"
	tab1.postTerm(`{sync, subscribe, note, []}`)
	// A second tab of the same browser: same cookie jar, its own channel.
	tab2 := &client{t: t, hc: tab1.hc, url: ts.bulletURL() + "?" + channelParam + "=tab-2"}
	tab2.postTerm(`{sync, subscribe, note, []}`)
	jar := tab1.hc.Jar.(*cookieJar)
	if len(jar.cookies) != 1 {
		t.Fatalf("cookies %v, want the one of the first tab", jar.cookies)
	}
	browser := jar.cookies[0].Value
	ts.gw.mu.Lock()
	s1, s2 := ts.gw.polls[browser+"/tab-1"], ts.gw.polls[browser+"/tab-2"]
	ts.gw.mu.Unlock()
	if s1 == nil || s2 == nil || s1 == s2 {
		t.Fatalf("sessions %p and %p, want two", s1, s2)
	}

	w := ts.dial(t)
	sendBinary(t, w, `{sync, create, note, [{id, <<"n1">>}]}`)
	readTerm(t, w)
	for _, tab := range []*client{tab1, tab2} {
		status, _, body := tab.poll()
		if status != http.StatusOK {
			t.Fatalf("poll of %s: %d %q", tab.url, status, body)
		}
		if got := format(t, fromJSBinaryString(t, body)); !strings.HasPrefix(got, "{sync,created,note,") {
			t.Fatalf("poll of %s: %s, want the created push", tab.url, got)
		}
	}
}

func TestPollChannelRefusals(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{PollTimeout: 10 * time.Millisecond})
	bad := ts.httpClient(t)
	bad.url += "?" + channelParam + "=" + url.QueryEscape("not a channel")
	if status, _, body := bad.poll(); status != http.StatusBadRequest || !strings.Contains(string(body), channelParam) {
		t.Fatalf("bad channel: %d %q, want 400 naming the parameter", status, body)
	}

	// A cookie the server never issued is not adopted for a new channel.
	made := ts.httpClient(t)
	made.url += "?" + channelParam + "=x"
	made.hc.Jar.(*cookieJar).cookies = []*http.Cookie{{Name: cookieName, Value: "chosen-by-someone-else"}}
	made.poll()
	if got := made.hc.Jar.(*cookieJar).cookies[0].Value; got == "chosen-by-someone-else" {
		t.Fatal("an unknown cookie was adopted")
	}
}
