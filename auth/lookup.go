package auth

import (
	"net/http"
	"strings"
)

// Where a token is looked for, in this order (DESIGN §6).
const (
	// QueryParameter is the URL query parameter that carries a token for
	// clients that cannot set headers (WebSocket, EventSource).
	QueryParameter = "token"
	// CookieName is the cookie that carries a token for same-site pages.
	CookieName = "bertsync_token"
)

// MaxTokenLength bounds a token's length in bytes. Longer ones are
// refused as malformed before any decoding, so that a client cannot make
// the server base64- and JSON-decode megabytes of header per request.
// Real JWTs stay well under it; cookies cannot exceed 4 KiB anyway.
const MaxTokenLength = 16 << 10

// Source is where a request's token was found.
type Source int

// The places a token is looked for; SourceNone when there is no token.
const (
	SourceNone Source = iota
	SourceHeader
	SourceQuery
	SourceCookie
)

func (s Source) String() string {
	switch s {
	case SourceHeader:
		return "Authorization header"
	case SourceQuery:
		return "query parameter " + QueryParameter
	case SourceCookie:
		return "cookie " + CookieName
	}
	return "no token"
}

// Lookup finds r's token: the first of the Authorization: Bearer header,
// the token query parameter and the bertsync_token cookie. It returns
// SourceNone and no error when r has none. An Authorization header that
// is present but not a single "Bearer <token>" is an error (reason
// [ErrAuthorizationHeader]), as is more than one token query parameter:
// a request whose credentials are ambiguous is refused, not guessed at.
// An empty query parameter or cookie counts as absent, since pages
// commonly clear a cookie by emptying it.
//
// The token is not verified; a gateway that applies Origin checks only
// to ambient credentials can tell a cookie token by its Source.
func Lookup(r *http.Request) (token string, from Source, err error) {
	if values := r.Header.Values("Authorization"); len(values) > 0 {
		token, err := bearer(values)
		if err != nil {
			err.Source = SourceHeader
			return "", SourceHeader, err
		}
		return token, SourceHeader, nil
	}
	if r.URL != nil && r.URL.RawQuery != "" {
		switch values := r.URL.Query()[QueryParameter]; {
		case len(values) > 1:
			return "", SourceQuery, &Error{Source: SourceQuery, Reason: ErrMalformed, Detail: "more than one token parameter"}
		case len(values) == 1 && values[0] != "":
			return values[0], SourceQuery, nil
		}
	}
	for _, c := range r.CookiesNamed(CookieName) {
		if c.Value != "" {
			return c.Value, SourceCookie, nil
		}
	}
	return "", SourceNone, nil
}

// bearer parses the Authorization header values as RFC 6750 allows: the
// scheme "Bearer" in any case, one or more spaces, and a token with no
// space in it.
func bearer(values []string) (string, *Error) {
	if len(values) > 1 {
		return "", refuse(ErrAuthorizationHeader, "more than one Authorization header")
	}
	scheme, token, _ := strings.Cut(strings.TrimSpace(values[0]), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", refuse(ErrAuthorizationHeader, "scheme is not Bearer")
	}
	token = strings.TrimLeft(token, " ")
	switch {
	case token == "":
		return "", refuse(ErrAuthorizationHeader, "empty bearer token")
	case strings.ContainsAny(token, " \t"):
		return "", refuse(ErrAuthorizationHeader, "bearer token contains a space")
	}
	return token, nil
}
