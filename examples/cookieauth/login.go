package main

import (
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// sessionTTL is how long a sign-in lasts.
const sessionTTL = 12 * time.Hour

// loginPage is the sign-in form. It holds no data of the request.
const loginPage = `<!doctype html>
<meta charset="utf-8">
<title>Sign in</title>
<h1>Sign in</h1>
<p>An example: any name is accepted, with no password.
<form method="post" action="/login">
  <label>User name <input name="user" required pattern="[A-Za-z0-9_\-]{1,64}"></label>
  <button>Sign in</button>
</form>
<form method="post" action="/logout"><button>Sign out</button></form>
`

func (s *sessions) loginForm(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, loginPage)
}

// login sets the session cookie of the user the form names and sends the
// browser to the demo app.
func (s *sessions) login(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		http.Error(w, "sign-in from another site refused", http.StatusForbidden)
		return
	}
	user := r.PostFormValue("user")
	if !validUser(user) {
		http.Error(w, fmt.Sprintf("user %q: want 1 to 64 letters, digits, - or _", user), http.StatusBadRequest)
		return
	}
	expires := s.now().Add(sessionTTL)
	http.SetCookie(w, &http.Cookie{
		Name:    cookieName,
		Value:   s.sign(user, expires),
		Path:    "/",
		Expires: expires,
		MaxAge:  int(sessionTTL / time.Second),
		// Out of reach of the page's scripts, and not sent with requests
		// other sites start (Lax still sends it when the user follows a
		// link here). The gateway's Origin check is what refuses
		// cross-site WebSockets; SameSite is the second lock.
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
		Secure:   r.TLS != nil,
	})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logout clears the cookie. A WebSocket opened with it keeps its user
// until the session's expiry: this program keeps no sessions server-side
// to end them sooner.
func (s *sessions) logout(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		http.Error(w, "sign-out from another site refused", http.StatusForbidden)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// sameOrigin refuses form posts that another site's page started (login
// CSRF: signing the visitor in as the attacker). These routes are the
// program's, beside the gateway, so they need their own check. Browsers
// send Origin with every POST; a request without it is not from a
// browser's cross-site form.
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}
