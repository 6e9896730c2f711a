package auth

import (
	"errors"

	"github.com/bertsync/bertsync/models"
)

// The reasons a credential is refused. Every error that
// [JWT.Authenticate] and [JWT.Verify] return is an *[Error] whose Reason
// is one of these, so callers branch with errors.Is (or count refusals
// by reason) without parsing text.
var (
	// ErrMalformed: the token is not a JWT (segments, base64, JSON), has
	// a registered claim of the wrong type, or is too long.
	ErrMalformed = errors.New("auth: malformed token")
	// ErrAuthorizationHeader: an Authorization header that is not
	// "Bearer <token>". A client that sends the header means to
	// authenticate, so it is refused rather than taken as anonymous.
	ErrAuthorizationHeader = errors.New("auth: malformed Authorization header")
	// ErrAlgNone: an unsigned token (alg "none", in any case), refused
	// whatever the configuration.
	ErrAlgNone = errors.New("auth: unsigned token (alg none) refused")
	// ErrAlgorithm: a signing algorithm that no configured key allows,
	// such as HS256 when only a public key is configured (the algorithm
	// confusion attack) or PS256, which bertsync does not accept.
	ErrAlgorithm = errors.New("auth: signing algorithm not accepted")
	// ErrSignature: the signature does not verify with the configured key.
	ErrSignature = errors.New("auth: invalid token signature")
	// ErrExpired: exp (plus the leeway) is past.
	ErrExpired = errors.New("auth: token expired")
	// ErrNotYetValid: nbf (minus the leeway) is still to come.
	ErrNotYetValid = errors.New("auth: token not valid yet")
	// ErrIssuer: an issuer is configured and iss is missing or differs.
	ErrIssuer = errors.New("auth: wrong token issuer")
	// ErrAudience: an audience is configured and aud is missing or does
	// not name it.
	ErrAudience = errors.New("auth: wrong token audience")
	// ErrNoSubject: sub is missing or empty; bertsync names callers by it.
	ErrNoSubject = errors.New("auth: token has no subject")
)

// Error is a refused credential: where it was found, why it was refused
// and, for the operator, what exactly was wrong. Its text is meant to be
// sent to the client with the 401: it holds no key material.
type Error struct {
	// Source is where the token was found; SourceNone when the token was
	// given to [JWT.Verify] directly.
	Source Source
	// Reason is one of the Err… variables of this package.
	Reason error
	// Detail says more, when there is more to say ("exp is not a
	// number"); it may be empty.
	Detail string
}

var _ error = (*Error)(nil)

func (e *Error) Error() string {
	s := e.Reason.Error()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Source != SourceNone {
		s += " (" + e.Source.String() + ")"
	}
	return s
}

// Unwrap returns the Reason and [models.ErrUnauthorized], so that
// errors.Is(err, auth.ErrExpired) holds and models.CodeOf(err) is
// unauthorized wherever the error travels.
func (e *Error) Unwrap() []error { return []error{e.Reason, models.ErrUnauthorized} }

func refuse(reason error, detail string) *Error {
	return &Error{Reason: reason, Detail: detail}
}
