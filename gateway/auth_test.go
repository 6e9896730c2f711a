package gateway

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bertsync/bertsync/actors"
	"github.com/bertsync/bertsync/models"
)

// cookieAuth accepts the cookie bertsync_token=user:<name> and the
// Bearer header user:<name>; anything else present is bad.
type cookieAuth struct{ expires time.Time }

func (a cookieAuth) Authenticate(r *http.Request) (models.Caller, time.Time, error) {
	v := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if v == "" {
		if c, err := r.Cookie("bertsync_token"); err == nil {
			v = c.Value
		}
	}
	if v == "" {
		return models.Caller{}, time.Time{}, nil
	}
	name, ok := strings.CutPrefix(v, "user:")
	if !ok || name == "" {
		return models.Caller{}, time.Time{}, errors.New("bad token")
	}
	return models.Caller{Subject: name}, a.expires, nil
}

func newAuthServer(t *testing.T, cfg Config, rules string) *testServer {
	t.Helper()
	r, err := models.ParseRules([]byte(rules))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Authenticator == nil {
		cfg.Authenticator = cookieAuth{}
	}
	return newTestServerActors(t, cfg, actors.Config{Rules: r})
}

func TestBadCredentialsGet401BeforeUpgrade(t *testing.T) {
	t.Parallel()
	ts := newAuthServer(t, Config{}, `{"*": {"read": "authenticated"}}`)
	h := http.Header{"Authorization": {"Bearer nonsense"}}
	_, resp, err := websocket.DefaultDialer.Dial(ts.wsURL(), h)
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("WebSocket with a bad token: %v %v, want 401", err, resp)
	}
	if resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatal("401 without WWW-Authenticate")
	}
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		req, _ := http.NewRequest(method, ts.bulletURL(), strings.NewReader("ping"))
		req.Header.Set("Authorization", "Bearer nonsense")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s with a bad token: %d, want 401", method, resp.StatusCode)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/api/note", nil)
	req.Header.Set("Authorization", "Bearer nonsense")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("REST with a bad token: %d, want 401", resp.StatusCode)
	}
}

func TestWebsocketCallerAndExpiry(t *testing.T) {
	t.Parallel()
	ts := newAuthServer(t, Config{Authenticator: cookieAuth{expires: time.Now().Add(time.Second)}},
		`{"*": {"create": "authenticated", "read": "owner"}}`)
	c, _, err := websocket.DefaultDialer.Dial(ts.wsURL(), http.Header{"Authorization": {"Bearer user:ann"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sendBinary(t, c, `{sync, create, note, [{text, <<"x">>}]}`)
	if _, reply := readTerm(t, c); !strings.Contains(reply, `{owner,<<"ann">>}`) {
		t.Fatalf("create as ann: %s", reply)
	}
	// The session ends when the credentials do: close 4401.
	c.SetReadDeadline(time.Now().Add(waitLimit))
	for {
		if _, _, err = c.ReadMessage(); err != nil {
			break
		}
	}
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != closeTokenExpired || ce.Text != "token expired" {
		t.Fatalf("end of the session: %v, want close 4401 token expired", err)
	}
}

// A page that only "*" admits cannot act with the visitor's cookie.
func TestStarOriginGetsNoAmbientCookie(t *testing.T) {
	t.Parallel()
	ts := newAuthServer(t, Config{AllowedOrigins: []string{"*"}}, `{"*": {"create": "authenticated"}}`)
	h := http.Header{"Origin": {"https://evil.example"}, "Cookie": {"bertsync_token=user:ann"}}
	c, _, err := websocket.DefaultDialer.Dial(ts.wsURL(), h)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sendBinary(t, c, `{sync, create, note, []}`)
	if _, reply := readTerm(t, c); !strings.HasPrefix(reply, "{sync,error,{unauthorized,") {
		t.Fatalf("create from a foreign page with the visitor's cookie: %s", reply)
	}
	// The server's own pages do use it.
	own, _, err := websocket.DefaultDialer.Dial(ts.wsURL(), http.Header{"Cookie": {"bertsync_token=user:ann"}})
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	sendBinary(t, own, `{sync, create, note, []}`)
	if _, reply := readTerm(t, own); !strings.HasPrefix(reply, "{sync,ok,") {
		t.Fatalf("create with the cookie from no foreign page: %s", reply)
	}
}

// A polling session belongs to its caller: other credentials get a
// session of their own.
func TestPollingSessionPerCaller(t *testing.T) {
	t.Parallel()
	ts := newAuthServer(t, Config{}, `{"*": {"create": "authenticated", "read": "owner"}}`)
	post := func(cookie, auth, body string) (string, string) {
		req := httptest.NewRequest(http.MethodPost, DefaultPath, strings.NewReader(string(jsBinaryString(encode(t, body)))))
		req.Host = "localhost"
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: cookieName, Value: cookie})
		}
		req.Header.Set("Authorization", auth)
		w := httptest.NewRecorder()
		ts.gw.ServeHTTP(w, req)
		session := ""
		for _, c := range w.Result().Cookies() {
			if c.Name == cookieName {
				session = c.Value
			}
		}
		return session, format(t, fromJSBinaryString(t, w.Body.Bytes()))
	}
	annSession, reply := post("", "Bearer user:ann", `{sync, create, note, [{text, <<"a">>}]}`)
	if annSession == "" || !strings.HasPrefix(reply, "{sync,ok,") {
		t.Fatalf("ann's create: %q %s", annSession, reply)
	}
	bobSession, reply := post(annSession, "Bearer user:bob", `{sync, read, note, []}`)
	if bobSession == "" || bobSession == annSession {
		t.Fatalf("bob with ann's session cookie got session %q", bobSession)
	}
	if reply != "{sync,ok,[]}" {
		t.Fatalf("bob's read through ann's cookie: %s", reply)
	}
}
