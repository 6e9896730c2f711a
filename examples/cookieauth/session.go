package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bertsync/bertsync/gateway"
	"github.com/bertsync/bertsync/models"
)

// cookieName is the program's session cookie.
const cookieName = "session"

// sessions signs and checks the session cookie. Its value is
// user.expiry.mac: the user name, the expiry in Unix seconds and the
// HMAC-SHA256 of the two under key, so that a client can neither forge a
// cookie nor stretch one's life. User names have no dot, which keeps the
// split unambiguous.
type sessions struct {
	key []byte
	now func() time.Time
}

var _ gateway.Authenticator = (*sessions)(nil)

// errBadCookie is why a session cookie was refused: the gateway answers
// 401 with the text rather than take the client as anonymous.
var errBadCookie = errors.New("session cookie")

// Authenticate is the gateway.Authenticator: the user of the session
// cookie, and when the session ends (the gateway ends a WebSocket opened
// with it then, close 4401); the anonymous caller when there is no
// cookie; an error for a cookie that is forged, garbled or expired.
func (s *sessions) Authenticate(r *http.Request) (models.Caller, time.Time, error) {
	c, err := r.Cookie(cookieName)
	if err != nil || c.Value == "" {
		return models.Caller{}, time.Time{}, nil
	}
	user, expires, err := s.verify(c.Value)
	if err != nil {
		return models.Caller{}, time.Time{}, err
	}
	// Subject is what the owner rules compare; Claims is free for what
	// the handlers should know of the caller (here, nothing more).
	return models.Caller{Subject: user}, expires, nil
}

// sign returns the cookie value of user's session, which ends at expires.
func (s *sessions) sign(user string, expires time.Time) string {
	payload := user + "." + strconv.FormatInt(expires.Unix(), 10)
	return payload + "." + base64.RawURLEncoding.EncodeToString(s.mac(payload))
}

func (s *sessions) mac(payload string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// verify returns the user and expiry of a cookie value sign made.
func (s *sessions) verify(value string) (user string, expires time.Time, err error) {
	payload, sig, ok := cutLast(value, ".")
	if !ok {
		return "", time.Time{}, fmt.Errorf("%w: malformed", errBadCookie)
	}
	mac, err := base64.RawURLEncoding.DecodeString(sig)
	// hmac.Equal takes the same time whatever the bytes: no timing leak
	// of how much of a forged signature was right.
	if err != nil || !hmac.Equal(mac, s.mac(payload)) {
		return "", time.Time{}, fmt.Errorf("%w: bad signature", errBadCookie)
	}
	user, exp, _ := strings.Cut(payload, ".")
	sec, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || !validUser(user) {
		return "", time.Time{}, fmt.Errorf("%w: malformed", errBadCookie)
	}
	expires = time.Unix(sec, 0)
	if !s.now().Before(expires) {
		return "", time.Time{}, fmt.Errorf("%w: expired; sign in again", errBadCookie)
	}
	return user, expires, nil
}

func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// validUser reports whether s is a user name this program gives out: 1
// to 64 letters, digits, - or _.
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
