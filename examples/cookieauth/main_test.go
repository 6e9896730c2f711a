package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/bert/erltext"
)

// waitLimit bounds every wait of these tests.
const waitLimit = 20 * time.Second

// testKey signs the session cookies of the test servers.
var testKey = []byte("the example's test key, 32 bytes")

// startServer runs serve on a free loopback port with its own data
// directory and returns the address. The server is stopped, and must
// have stopped cleanly, when the test ends.
func startServer(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, config{addr: "127.0.0.1:0", dataDir: t.TempDir(), key: testKey,
			onListen: func(a net.Addr) { addrc <- a.String() }})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(waitLimit):
			t.Errorf("serve did not stop")
		}
	})
	select {
	case addr := <-addrc:
		return addr
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(waitLimit):
		t.Fatal("serve did not start")
	}
	return ""
}

// browser is one user's cookie jar and HTTP client.
type browser struct {
	t    *testing.T
	addr string
	jar  http.CookieJar
	http *http.Client
}

func newBrowser(t *testing.T, addr string) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, addr: addr, jar: jar, http: &http.Client{Jar: jar, Timeout: waitLimit}}
}

// login posts the sign-in form as a page of the server would, and
// follows the redirect to the demo app.
func (b *browser) login(user string) {
	b.t.Helper()
	resp := b.postForm("/login", url.Values{"user": {user}}, "http://"+b.addr)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/" {
		b.t.Fatalf("login as %s: %s at %s", user, resp.Status, resp.Request.URL)
	}
}

func (b *browser) postForm(path string, form url.Values, origin string) *http.Response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+b.addr+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// dial opens a WebSocket that carries the browser's cookies.
func (b *browser) dial() *client {
	b.t.Helper()
	c, resp, err := dialWith(b.t, b.addr, &websocket.Dialer{Jar: b.jar, HandshakeTimeout: waitLimit}, nil)
	if err != nil {
		b.t.Fatalf("dial: %v (%v)", err, resp)
	}
	return c
}

// client is a WebSocket connection to the Bullet endpoint that sends
// terms in binary frames, written and read as Erlang text.
type client struct {
	t  *testing.T
	ws *websocket.Conn
}

func dialWith(t *testing.T, addr string, d *websocket.Dialer, h http.Header) (*client, *http.Response, error) {
	t.Helper()
	ws, resp, err := d.Dial("ws://"+addr+"/bullet", h)
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { ws.Close() })
	return &client{t: t, ws: ws}, resp, nil
}

// send sends the term written in Erlang text.
func (c *client) send(text string) {
	c.t.Helper()
	term, err := erltext.Parse(text)
	if err != nil {
		c.t.Fatalf("parse %s: %v", text, err)
	}
	data, err := bert.Marshal(term)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.ws.WriteMessage(websocket.BinaryMessage, data); err != nil {
		c.t.Fatal(err)
	}
}

// read reads the next reply or push as Erlang text.
func (c *client) read() (string, error) {
	c.ws.SetReadDeadline(time.Now().Add(waitLimit))
	_, data, err := c.ws.ReadMessage()
	if err != nil {
		return "", err
	}
	var term any
	if err := bert.Unmarshal(data, &term); err != nil {
		return "", err
	}
	return erltext.Format(term)
}

func (c *client) next() string {
	c.t.Helper()
	text, err := c.read()
	if err != nil {
		c.t.Fatal(err)
	}
	return text
}

// check sends each request in turn and compares its reply.
func (c *client) check(calls [][2]string) {
	c.t.Helper()
	for _, call := range calls {
		c.send(call[0])
		if got := epochAsE(c.next()); got != call[1] {
			c.t.Errorf("%s\n got %s\nwant %s", call[0], got, call[1])
		}
	}
}

// create creates a note and returns its id, checking that the server
// made the caller its owner whatever the client sent.
func (c *client) create(text, owner string) string {
	c.t.Helper()
	c.send(`{sync, create, note, [{text, <<"` + text + `">>}, {owner, <<"mallory">>}]}`)
	got := c.next()
	id, rest, ok := strings.Cut(strings.TrimPrefix(got, `{sync,ok,[{id,<<"`), `">>}`)
	if !ok || rest != `,{text,<<"`+text+`">>},{owner,<<"`+owner+`">>}]}` {
		c.t.Fatalf("create %s: got %s, want it owned by %s", text, got, owner)
	}
	return id
}

// After signing in, a WebSocket with the cookie syncs as that user, and
// the owner rules keep the users' documents apart, on REST too.
func TestUsersApart(t *testing.T) {
	t.Parallel()
	addr := startServer(t)
	annB, bobB := newBrowser(t, addr), newBrowser(t, addr)
	annB.login("ann")
	bobB.login("bob")
	ann, annTab, bob := annB.dial(), annB.dial(), bobB.dial()

	ann.check([][2]string{{`{sync, subscribe, note, []}`, `{sync,ok,[{seq,0},{epoch,E},{filtered,{bert,true}}]}`}})
	annID := annTab.create("milk", "ann")
	bobID := bob.create("eggs", "bob")
	// Ann's subscription hears her own change, made in another tab, and
	// nothing of Bob's.
	if got, want := ann.next(), `{sync,created,note,[{id,<<"`+annID+`">>},{text,<<"milk">>},{owner,<<"ann">>}],1}`; got != want {
		t.Errorf("ann's push\n got %s\nwant %s", got, want)
	}
	ann.check([][2]string{
		{`{sync, read, note, []}`, `{sync,ok,[[{id,<<"` + annID + `">>},{text,<<"milk">>},{owner,<<"ann">>}]]}`},
		// Another owner's document is not found, as if it did not exist.
		{`{sync, read, note, [{id, <<"` + bobID + `">>}]}`, `{sync,error,{not_found,<<"no note with id \"` + bobID + `\"">>}}`},
		{`{sync, delete, note, [{id, <<"` + bobID + `">>}]}`, `{sync,error,{not_found,<<"no note with id \"` + bobID + `\"">>}}`},
		// The next message is this reply, not a push of Bob's note.
		{`{sync, unsubscribe, note, []}`, `{sync,ok,[{seq,2},{epoch,E}]}`},
	})

	// REST reads the same cookie: Bob lists his notes alone.
	resp, err := bobB.http.Get("http://" + addr + "/api/note")
	if err != nil {
		t.Fatal(err)
	}
	var notes []map[string]any
	err = json.NewDecoder(resp.Body).Decode(&notes)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || len(notes) != 1 || notes[0]["id"] != bobID || notes[0]["owner"] != "bob" {
		t.Fatalf("GET /api/note as bob: %s %v %v", resp.Status, notes, err)
	}
}

// Without the cookie the caller is anonymous, and the rules need a user.
func TestNoCookieUnauthorized(t *testing.T) {
	t.Parallel()
	addr := startServer(t)
	c, _, err := dialWith(t, addr, websocket.DefaultDialer, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.check([][2]string{
		{`{sync, create, note, [{text, <<"x">>}]}`, `{sync,error,{unauthorized,<<"create of \"note\" needs an authenticated caller">>}}`},
		{`{sync, read, note, []}`, `{sync,error,{unauthorized,<<"read of \"note\" needs an authenticated caller">>}}`},
		{`{sync, subscribe, note, []}`, `{sync,error,{unauthorized,<<"subscribe of \"note\" needs an authenticated caller">>}}`},
	})
	resp, err := http.Post("http://"+addr+"/api/note", "application/json", strings.NewReader(`{"text":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous POST /api/note: %s, want 401", resp.Status)
	}
}

// A cookie that is forged or expired is refused with 401 before the
// upgrade, not taken as anonymous; one that expires while its WebSocket
// is open ends it with close 4401.
func TestBadCookies(t *testing.T) {
	t.Parallel()
	addr := startServer(t)
	ours := &sessions{key: testKey, now: time.Now}
	theirs := &sessions{key: []byte("another key"), now: time.Now}
	hour := time.Now().Add(time.Hour)
	good := ours.sign("ann", hour)
	for name, value := range map[string]string{
		"forged":         theirs.sign("ann", hour),
		"other user":     strings.Replace(good, "ann.", "bob.", 1),
		"stretched life": strings.Replace(good, ".", ".9", 1),
		"expired":        ours.sign("ann", time.Now().Add(-time.Second)),
		"garbage":        "x",
	} {
		h := http.Header{"Cookie": {cookieName + "=" + value}}
		_, resp, err := dialWith(t, addr, websocket.DefaultDialer, h)
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s cookie: %v, want 401", name, err)
		}
	}

	// The expiry is in whole seconds: this one is at least 2 s away.
	h := http.Header{"Cookie": {cookieName + "=" + ours.sign("ann", time.Now().Add(3*time.Second))}}
	c, _, err := dialWith(t, addr, websocket.DefaultDialer, h)
	if err != nil {
		t.Fatal(err)
	}
	c.check([][2]string{{`{sync, subscribe, note, []}`, `{sync,ok,[{seq,0},{epoch,E},{filtered,{bert,true}}]}`}})
	_, err = c.read()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4401 {
		t.Fatalf("after the session's expiry: %v, want close 4401", err)
	}
}

// The sign-in form refuses bad names and posts from other sites; signing
// out makes the browser anonymous again.
func TestLoginLogout(t *testing.T) {
	t.Parallel()
	addr := startServer(t)
	b := newBrowser(t, addr)
	if resp := b.postForm("/login", url.Values{"user": {"a.b"}}, ""); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("login as a.b: %s, want 400", resp.Status)
	}
	if resp := b.postForm("/login", url.Values{"user": {"ann"}}, "http://evil.example"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("login from another site: %s, want 403", resp.Status)
	}
	u, _ := url.Parse("http://" + addr + "/")
	if len(b.jar.Cookies(u)) != 0 {
		t.Fatalf("refused logins set cookies: %v", b.jar.Cookies(u))
	}
	b.login("ann")
	b.dial().check([][2]string{{`{sync, read, note, []}`, `{sync,ok,[]}`}})
	b.postForm("/logout", nil, "http://"+addr)
	b.dial().check([][2]string{
		{`{sync, read, note, []}`, `{sync,error,{unauthorized,<<"read of \"note\" needs an authenticated caller">>}}`},
	})
}

// epochPattern is a stream's epoch in a subscribe reply, random per
// store; epochAsE writes it as E, so that replies compare as text.
var epochPattern = regexp.MustCompile(`\{epoch,<<"[^"]*">>\}`)

func epochAsE(reply string) string { return epochPattern.ReplaceAllString(reply, "{epoch,E}") }
