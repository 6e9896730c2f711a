package auth_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/bertsync/bertsync/auth"
)

// TestSources checks each place a token is looked for, their order, and
// what makes a request anonymous or refused.
func TestSources(t *testing.T) {
	t.Parallel()
	k := keys(t)
	tok := func(sub string) string {
		return sign(t, jwt.SigningMethodHS256, k.secret, claims(map[string]any{"sub": sub}))
	}
	bad := sign(t, jwt.SigningMethodHS256, k.otherSecret, claims(nil))
	type req struct {
		header []string // Authorization values
		query  string   // raw query
		cookie []string // bertsync_token values
	}
	for _, tc := range []struct {
		name     string
		req      req
		wantSub  string // "" with wantErr nil: anonymous
		wantFrom auth.Source
		wantErr  error
	}{
		{"nothing", req{}, "", auth.SourceNone, nil},
		{"other query parameters", req{query: "_=123&x=y"}, "", auth.SourceNone, nil},
		{"header", req{header: []string{"Bearer " + tok("h")}}, "h", auth.SourceHeader, nil},
		{"header lower-case scheme", req{header: []string{"bearer " + tok("h")}}, "h", auth.SourceHeader, nil},
		{"header extra spaces", req{header: []string{"Bearer   " + tok("h") + " "}}, "h", auth.SourceHeader, nil},
		{"query", req{query: "_=1&token=" + tok("q")}, "q", auth.SourceQuery, nil},
		{"cookie", req{cookie: []string{tok("c")}}, "c", auth.SourceCookie, nil},
		{"header before query and cookie", req{header: []string{"Bearer " + tok("h")}, query: "token=" + tok("q"), cookie: []string{tok("c")}}, "h", auth.SourceHeader, nil},
		{"query before cookie", req{query: "token=" + tok("q"), cookie: []string{tok("c")}}, "q", auth.SourceQuery, nil},
		{"empty query falls to cookie", req{query: "token=", cookie: []string{tok("c")}}, "c", auth.SourceCookie, nil},
		{"empty query alone is anonymous", req{query: "token="}, "", auth.SourceNone, nil},
		{"empty cookie is anonymous", req{cookie: []string{""}}, "", auth.SourceNone, nil},
		{"first non-empty cookie", req{cookie: []string{"", tok("c2")}}, "c2", auth.SourceCookie, nil},
		{"bad header is not overridden by a good query", req{header: []string{"Bearer " + bad}, query: "token=" + tok("q")}, "", auth.SourceHeader, auth.ErrSignature},
		{"bad query is not overridden by a good cookie", req{query: "token=" + bad, cookie: []string{tok("c")}}, "", auth.SourceQuery, auth.ErrSignature},
		{"bad cookie", req{cookie: []string{bad}}, "", auth.SourceCookie, auth.ErrSignature},
		{"garbage cookie", req{cookie: []string{"abc"}}, "", auth.SourceCookie, auth.ErrMalformed},
		{"two token parameters", req{query: "token=" + tok("a") + "&token=" + tok("b")}, "", auth.SourceQuery, auth.ErrMalformed},
		{"Basic scheme", req{header: []string{"Basic YWxpY2U6cHc="}}, "", auth.SourceHeader, auth.ErrAuthorizationHeader},
		{"scheme only", req{header: []string{"Bearer"}}, "", auth.SourceHeader, auth.ErrAuthorizationHeader},
		{"empty token", req{header: []string{"Bearer "}}, "", auth.SourceHeader, auth.ErrAuthorizationHeader},
		{"empty header", req{header: []string{""}}, "", auth.SourceHeader, auth.ErrAuthorizationHeader},
		{"token without scheme", req{header: []string{tok("h")}}, "", auth.SourceHeader, auth.ErrAuthorizationHeader},
		{"two tokens", req{header: []string{"Bearer " + tok("a") + " " + tok("b")}}, "", auth.SourceHeader, auth.ErrAuthorizationHeader},
		{"two headers", req{header: []string{"Bearer " + tok("a"), "Bearer " + tok("b")}}, "", auth.SourceHeader, auth.ErrAuthorizationHeader},
		{"bad header with a good cookie", req{header: []string{"Basic x"}, cookie: []string{tok("c")}}, "", auth.SourceHeader, auth.ErrAuthorizationHeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/bullet", nil)
			r.URL.RawQuery = tc.req.query
			for _, v := range tc.req.header {
				r.Header.Add("Authorization", v)
			}
			r.AddCookie(&http.Cookie{Name: "session", Value: "unrelated"})
			for _, v := range tc.req.cookie {
				r.AddCookie(&http.Cookie{Name: auth.CookieName, Value: v})
			}
			j := newJWT(t, auth.JWTConfig{Secret: k.secret})
			c, exp, err := j.Authenticate(r)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Authenticate: err = %v, want %v", err, tc.wantErr)
			}
			if c.Subject != tc.wantSub {
				t.Errorf("Subject = %q, want %q", c.Subject, tc.wantSub)
			}
			if tc.wantSub == "" && (c.Claims != nil || !exp.IsZero()) {
				t.Errorf("anonymous or refused, yet Claims %v, expires %v", c.Claims, exp)
			}
			if err != nil {
				e, ok := errors.AsType[*auth.Error](err)
				if !ok || e.Source != tc.wantFrom {
					t.Errorf("err %v: Source %v, want %v", err, e.Source, tc.wantFrom)
				}
			}
			_, from, _ := auth.Lookup(r)
			if from != tc.wantFrom {
				t.Errorf("Lookup: from %v, want %v", from, tc.wantFrom)
			}
		})
	}
}

// TestQueryEscaped checks a token survives the percent-encoding a client
// may apply to the query parameter.
func TestQueryEscaped(t *testing.T) {
	t.Parallel()
	k := keys(t)
	token := sign(t, jwt.SigningMethodHS256, k.secret, claims(nil))
	r := httptest.NewRequest(http.MethodGet, "/bullet?"+url.Values{"token": {token}}.Encode(), nil)
	got, from, err := auth.Lookup(r)
	if err != nil || from != auth.SourceQuery || got != token {
		t.Fatalf("Lookup = %q, %v, %v; want the token from the query", got, from, err)
	}
}

func TestErrorText(t *testing.T) {
	t.Parallel()
	k := keys(t)
	j := newJWT(t, auth.JWTConfig{PublicKeyPEM: publicPEM(t, k.p256)})
	r := httptest.NewRequest(http.MethodGet, "/bullet?token="+sign(t, jwt.SigningMethodHS256, k.secret, claims(nil)), nil)
	_, _, err := j.Authenticate(r)
	const want = `auth: signing algorithm not accepted: "HS256" (query parameter token)`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}
