package main

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// issuerName is the iss claim of the tokens the issuer signs, which the
// server requires (as bertsync serve --jwt-issuer does).
const issuerName = "bertsync-example-guarded"

// tokenTTL is how long a token is good for. Short, because the demo app
// gets its token in the page's URL, which proxies and servers may log.
const tokenTTL = 15 * time.Minute

// issuer stands in for an identity provider, so that the example runs on
// its own. It believes any user name it is given: there is no password
// and no user store. What it shows is the shape of the exchange, a token
// signed with the key the server checks, with the caller's name in sub
// and a role claim for the handler to read.
type issuer struct {
	secret []byte
	// app is the bertsync server's URL, where /login sends the browser.
	app string
	now func() time.Time
}

// routes returns the issuer's HTTP handler: a sign-in page at /, /login
// (the page's form: to the demo app with a token) and /token (the bare
// token, for scripts).
func (is *issuer) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", is.page)
	mux.HandleFunc("GET /login", is.login)
	mux.HandleFunc("GET /token", is.token)
	return mux
}

// signinPage is the form of /. It holds no data of the request.
const signinPage = `<!doctype html>
<meta charset="utf-8">
<title>Sign in (example identity provider)</title>
<h1>Sign in</h1>
<p>A stand-in for a real identity provider: any name is accepted, with no password.
<form action="/login">
  <label>User name <input name="user" required pattern="[A-Za-z0-9_\-]{1,64}"></label>
  <label>Role <select name="role"><option>player</option><option>gm</option></select></label>
  <button>Sign in</button>
</form>
`

func (is *issuer) page(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, signinPage)
}

// login sends the browser to the demo app with a token in ?token=, which
// the app reads and takes out of the address bar.
func (is *issuer) login(w http.ResponseWriter, r *http.Request) {
	token, err := is.sign(r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, is.app+"/?token="+url.QueryEscape(token), http.StatusSeeOther)
}

// token answers the token as text: GET /token?user=ann&role=gm.
func (is *issuer) token(w http.ResponseWriter, r *http.Request) {
	token, err := is.sign(r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprintln(w, token)
}

// sign returns an HS256 token for the user and role of q: sub is the
// user, role "player" (the default) or "gm", and it expires after
// tokenTTL.
func (is *issuer) sign(q url.Values) (string, error) {
	user, role := q.Get("user"), q.Get("role")
	if !validUser(user) {
		return "", fmt.Errorf("user %q: want 1 to 64 letters, digits, - or _", user)
	}
	switch role {
	case "":
		role = "player"
	case "player", gmRole:
	default:
		return "", fmt.Errorf("role %q: want player or %s", role, gmRole)
	}
	now := is.now()
	return jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss":  issuerName,
		"sub":  user,
		"role": role,
		"iat":  now.Unix(),
		"exp":  now.Add(tokenTTL).Unix(),
	}).SignedString(is.secret)
}

func validUser(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}
