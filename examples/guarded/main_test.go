package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/bert/erltext"
)

// waitLimit bounds every wait of these tests.
const waitLimit = 20 * time.Second

// server is a running example: the bertsync server's and the issuer's
// addresses, and the key tokens are signed with.
type server struct {
	app, issuer string
	secret      []byte
}

// startServer runs serve on free loopback ports with its own data
// directory and a key of its own. The server is stopped, and must have
// stopped cleanly, when the test ends.
func startServer(t *testing.T) server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv := server{secret: []byte("the example's test key, 32 bytes")}
	addrs := make(chan [2]string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, config{
			addr: "127.0.0.1:0", issuerAddr: "127.0.0.1:0", dataDir: t.TempDir(), secret: srv.secret,
			onListen: func(app, issuer net.Addr) { addrs <- [2]string{app.String(), issuer.String()} },
		})
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
	case a := <-addrs:
		srv.app, srv.issuer = a[0], a[1]
		return srv
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(waitLimit):
		t.Fatal("serve did not start")
	}
	return srv
}

// token signs an HS256 token for sub, as an identity provider would; role
// "" leaves the claim out.
func (s server) token(t *testing.T, sub, role string, expires time.Time) string {
	t.Helper()
	claims := jwt.MapClaims{"iss": issuerName, "sub": sub, "exp": float64(expires.UnixMilli()) / 1000}
	if role != "" {
		claims["role"] = role
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.secret)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// client is a WebSocket connection to the Bullet endpoint that sends
// terms in binary frames, written and read as Erlang text.
type client struct {
	t  *testing.T
	ws *websocket.Conn
}

// dialToken opens a WebSocket with token in the query string, as
// bertsync.js does in a browser; "" connects anonymously.
func dialToken(t *testing.T, addr, token string) (*client, *http.Response, error) {
	t.Helper()
	u := "ws://" + addr + "/bullet"
	if token != "" {
		u += "?token=" + url.QueryEscape(token)
	}
	ws, resp, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { ws.Close() })
	return &client{t: t, ws: ws}, resp, nil
}

func dial(t *testing.T, addr, token string) *client {
	t.Helper()
	c, _, err := dialToken(t, addr, token)
	if err != nil {
		t.Fatal(err)
	}
	return c
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

// The handler sees who called: it stamps the token's sub into "by",
// whatever the client sent, and keeps it through changes.
func TestIdentityReachesHandler(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	hour := time.Now().Add(time.Hour)
	ann := dial(t, s.app, s.token(t, "ann", "player", hour))
	gm := dial(t, s.app, s.token(t, "dm", gmRole, hour))
	ann.check([][2]string{
		{`{sync, create, character, [{id, <<"c1">>}, {name, <<"Ann">>}, {by, <<"dm">>}]}`,
			`{sync,ok,[{id,<<"c1">>},{name,<<"Ann">>},{by,<<"ann">>}]}`},
		{`{sync, patch, character, [{id, <<"c1">>}, {number, 2}, {by, <<"bob">>}]}`,
			`{sync,ok,[{id,<<"c1">>},{name,<<"Ann">>},{number,2},{by,<<"ann">>}]}`},
	})
	gm.check([][2]string{
		// The game master may change anyone's; the maker stays.
		{`{sync, update, character, [{id, <<"c1">>}, {name, <<"Ann the Bold">>}]}`,
			`{sync,ok,[{id,<<"c1">>},{name,<<"Ann the Bold">>},{by,<<"ann">>}]}`},
	})
	// A character made without an id gets an unguessable one.
	ann.send(`{sync, create, character, [{name, <<"Cy">>}]}`)
	got := ann.next()
	if !strings.HasPrefix(got, `{sync,ok,[{id,<<"`) || !strings.HasSuffix(got, `">>},{name,<<"Cy">>},{by,<<"ann">>}]}`) ||
		len(got) != len(`{sync,ok,[{id,<<"">>},{name,<<"Cy">>},{by,<<"ann">>}]}`)+26 {
		t.Errorf("create without id: got %s", got)
	}
}

// The Guard refuses by method and by the token's claims, subscribe and
// broadcast included; what it refuses changes nothing and pushes nothing.
func TestGuardRefuses(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	hour := time.Now().Add(time.Hour)
	anon := dial(t, s.app, "")
	ann := dial(t, s.app, s.token(t, "ann", "player", hour))
	bob := dial(t, s.app, s.token(t, "bob", "", hour)) // no role claim: a player
	gm := dial(t, s.app, s.token(t, "dm", gmRole, hour))
	watcher := dial(t, s.app, s.token(t, "carol", "player", hour))

	anon.check([][2]string{
		{`{sync, read, character, []}`, `{sync,ok,[]}`},
		{`{sync, subscribe, character, []}`, `{sync,error,{unauthorized,<<"sign in to subscribe characters">>}}`},
		{`{sync, create, character, [{name, <<"Eve">>}]}`, `{sync,error,{unauthorized,<<"sign in to create characters">>}}`},
		{`{sync, broadcast, character, [{text, <<"hi">>}]}`, `{sync,error,{unauthorized,<<"sign in to broadcast characters">>}}`},
		// Always allowed, so that a client can always stop listening.
		{`{sync, unsubscribe, character, []}`, `{sync,ok,[{seq,0},{epoch,E}]}`},
	})
	watcher.check([][2]string{{`{sync, subscribe, character, []}`, `{sync,ok,[{seq,0},{epoch,E}]}`}})
	ann.check([][2]string{
		{`{sync, create, character, [{id, <<"c1">>}, {name, <<"Ann">>}]}`,
			`{sync,ok,[{id,<<"c1">>},{name,<<"Ann">>},{by,<<"ann">>}]}`},
		{`{sync, broadcast, character, [{text, <<"hi">>}]}`,
			`{sync,error,{forbidden,<<"only the game master broadcasts to the table">>}}`},
		// The rules name no other type: none.
		{`{sync, create, note, [{text, <<"x">>}]}`, `{sync,error,{forbidden,<<"create of \"note\" is not allowed">>}}`},
	})
	bob.check([][2]string{
		{`{sync, patch, character, [{id, <<"c1">>}, {name, <<"Bob">>}]}`, `{sync,error,{forbidden,<<"character \"c1\" is ann's">>}}`},
		{`{sync, delete, character, [{id, <<"c1">>}]}`, `{sync,error,{forbidden,<<"character \"c1\" is ann's">>}}`},
		{`{sync, read, character, [{id, <<"c1">>}]}`, `{sync,ok,[{id,<<"c1">>},{name,<<"Ann">>},{by,<<"ann">>}]}`},
	})
	gm.check([][2]string{
		// The server sets from to the caller's sub, whatever was sent.
		{`{sync, broadcast, character, [{text, <<"Roll for initiative">>}, {from, <<"ann">>}]}`, `{sync,ok,2}`},
		{`{sync, delete, character, [{id, <<"c1">>}]}`, `{sync,ok,[{id,<<"c1">>},{name,<<"Ann">>},{by,<<"ann">>}]}`},
	})
	for _, want := range []string{
		`{sync,created,character,[{id,<<"c1">>},{name,<<"Ann">>},{by,<<"ann">>}],1}`,
		`{sync,broadcast,character,[{text,<<"Roll for initiative">>},{from,<<"dm">>}],2}`,
		`{sync,deleted,character,[{id,<<"c1">>},{name,<<"Ann">>},{by,<<"ann">>}],3}`,
	} {
		if got := watcher.next(); got != want {
			t.Errorf("push\n got %s\nwant %s", got, want)
		}
	}
	// Nothing more was pushed: the next message is the reply.
	watcher.check([][2]string{{`{sync, unsubscribe, character, []}`, `{sync,ok,[{seq,3},{epoch,E}]}`}})
}

// A token that is present but bad is refused with 401 before the upgrade,
// never taken as anonymous.
func TestBadTokensRefused(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	hour := time.Now().Add(time.Hour)
	other := server{secret: []byte("some other key, also of 32 bytes")}
	wrongIssuer, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": "someone-else", "sub": "ann", "exp": hour.Unix(),
	}).SignedString(s.secret)
	if err != nil {
		t.Fatal(err)
	}
	for name, token := range map[string]string{
		"wrong key":    other.token(t, "ann", gmRole, hour),
		"expired":      s.token(t, "ann", gmRole, time.Now().Add(-time.Minute)),
		"wrong issuer": wrongIssuer,
		"garbage":      "not.a.token",
	} {
		_, resp, err := dialToken(t, s.app, token)
		if err == nil {
			t.Errorf("%s: connected", name)
			continue
		}
		if resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %v, want 401", name, err)
		}
	}
}

// A session ends when its token expires: WebSocket close 4401.
func TestTokenExpiryClosesWebSocket(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ann := dial(t, s.app, s.token(t, "ann", "player", time.Now().Add(2*time.Second)))
	ann.check([][2]string{{`{sync, subscribe, character, []}`, `{sync,ok,[{seq,0},{epoch,E}]}`}})
	_, err := ann.read()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4401 || ce.Text != "token expired" {
		t.Fatalf("after expiry: %v, want close 4401 token expired", err)
	}
}

// The issuer signs tokens the server takes: /token for scripts, /login
// for browsers, sent to the demo app with ?token=.
func TestIssuer(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	resp, err := http.Get("http://" + s.issuer + "/token?user=dm&role=gm")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/token: %s %s", resp.Status, body)
	}
	gm := dial(t, s.app, strings.TrimSpace(string(body)))
	gm.check([][2]string{{`{sync, broadcast, character, [{text, <<"hi">>}]}`, `{sync,ok,1}`}})

	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noRedirect.Get("http://" + s.issuer + "/login?user=ann")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || err != nil || loc.Host != s.app || loc.Path != "/" {
		t.Fatalf("/login: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	ann := dial(t, s.app, loc.Query().Get("token"))
	ann.check([][2]string{
		{`{sync, subscribe, character, []}`, `{sync,ok,[{seq,1},{epoch,E}]}`},
		{`{sync, broadcast, character, [{text, <<"hi">>}]}`,
			`{sync,error,{forbidden,<<"only the game master broadcasts to the table">>}}`},
	})

	for _, q := range []string{"user=", "user=a%20b", "user=ann&role=admin"} {
		resp, err := http.Get("http://" + s.issuer + "/token?" + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("/token?%s: %s, want 400", q, resp.Status)
		}
	}
}

// epochPattern is a stream's epoch in a subscribe reply, random per
// store; epochAsE writes it as E, so that replies compare as text.
var epochPattern = regexp.MustCompile(`\{epoch,<<"[^"]*">>\}`)

func epochAsE(reply string) string { return epochPattern.ReplaceAllString(reply, "{epoch,E}") }
