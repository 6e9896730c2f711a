package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/bertsync/bertsync/actors"
	"github.com/bertsync/bertsync/models"
)

// Authenticator finds out who sent an HTTP request (DESIGN §6). The
// gateway asks it on every request of every route: the Bullet transports
// (before any upgrade), REST, uploads and file downloads. auth.JWT is one;
// a program may plug in its own, its own session cookie say.
//
// Authenticate returns the zero Caller for a request that carries no
// credentials (anonymous) and an error for one whose credentials are bad:
// the request is then answered 401 with the error's text, never served
// as anonymous. expires is when the credentials end (zero: never); a
// session opened with them ends then (WebSocket close 4401).
type Authenticator interface {
	Authenticate(r *http.Request) (c models.Caller, expires time.Time, err error)
}

// identity is what the gateway knows of a request's caller.
type identity struct {
	caller  models.Caller
	expires time.Time
}

// authenticate returns the caller of r, or answers 401 and reports false.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (identity, bool) {
	id, err := s.identify(r)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="bertsync"`)
		httpError(w, http.StatusUnauthorized, err.Error())
		return identity{}, false
	}
	return id, true
}

// identify returns the caller of r, or an unauthorized error for bad or
// expired credentials. Without an Authenticator every caller is
// anonymous.
func (s *Server) identify(r *http.Request) (identity, error) {
	if s.cfg.Authenticator == nil {
		return identity{}, nil
	}
	if origin := r.Header.Get("Origin"); origin != "" && s.classifyOrigin(r, origin) == originAny {
		// A page that only "*" admits is any site's: it must not act
		// with the visitor's ambient cookies (bertsync_token or a
		// program's own), only with a token it holds.
		r = r.Clone(r.Context())
		r.Header.Del("Cookie")
	}
	c, expires, err := s.cfg.Authenticator.Authenticate(r)
	if err == nil && !expires.IsZero() && !time.Now().Before(expires) {
		err = fmt.Errorf("%w at %s", errCredentialsExpired, expires.UTC().Format(time.RFC3339))
	}
	if err != nil {
		s.cfg.metrics.AuthFailed(authFailure(err))
		s.log.Debug("gateway: authentication failed", "remote", r.RemoteAddr, "err", err)
		return identity{}, &models.Error{Code: models.CodeUnauthorized, Message: err.Error(), Err: err}
	}
	return identity{caller: c, expires: expires}, nil
}

// errCredentialsExpired refuses credentials an [Authenticator] accepted
// but whose expiry has passed.
var errCredentialsExpired = errors.New("the credentials expired")

// identityKey keys the caller's identity in a request's context, where
// [Server.serveBullet] puts it for the transports.
type identityKey struct{}

func withIdentity(r *http.Request, id identity) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), identityKey{}, id))
}

// identityOf returns the identity withIdentity put in r, or the
// anonymous one.
func identityOf(r *http.Request) identity {
	id, _ := r.Context().Value(identityKey{}).(identity)
	return id
}

// sessionOptions open a session for the identity.
func (id identity) sessionOptions() []actors.SessionOption {
	if id.caller.Anonymous() && id.expires.IsZero() {
		return nil
	}
	return []actors.SessionOption{actors.WithCaller(id.caller, id.expires)}
}
