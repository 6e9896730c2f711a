package auth_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/bertsync/bertsync/auth"
)

func ExampleJWT_Authenticate() {
	secret := []byte("a secret of at least 32 bytes...")
	j, err := auth.NewJWT(auth.JWTConfig{Secret: secret, Audience: "bertsync"})
	if err != nil {
		panic(err)
	}

	// An issuer signs a token for alice, valid for an hour.
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "alice", "aud": "bertsync", "exp": exp.Unix(),
	}).SignedString(secret)
	if err != nil {
		panic(err)
	}

	// A browser's WebSocket carries it in the query string.
	r := httptest.NewRequest(http.MethodGet, "/bullet?token="+token, nil)
	caller, expires, err := j.Authenticate(r)
	fmt.Println(caller.Subject, expires.Equal(exp), err)

	// No token: anonymous.
	caller, _, err = j.Authenticate(httptest.NewRequest(http.MethodGet, "/bullet", nil))
	fmt.Println(caller.Anonymous(), err)

	// A bad token is refused, never anonymous.
	r = httptest.NewRequest(http.MethodGet, "/bullet", nil)
	r.AddCookie(&http.Cookie{Name: auth.CookieName, Value: token + "x"})
	_, _, err = j.Authenticate(r)
	fmt.Println(err)
	// Output:
	// alice true <nil>
	// true <nil>
	// auth: invalid token signature (cookie bertsync_token)
}
