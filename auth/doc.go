// Package auth authenticates HTTP requests by the JSON Web Token they
// carry (DESIGN §6). [NewJWT] makes a [JWT] from a [JWTConfig]: an HMAC
// secret, a PEM public key, or both, and optionally the issuer and
// audience tokens must name. [JWT.Authenticate] gives the gateway the
// [models.Caller] of each request and when its credentials end, and is
// safe for concurrent use.
//
// # Where the token is looked for
//
// On every request, the first of these that is present wins:
//
//  1. the Authorization header, "Bearer <token>";
//  2. the token query parameter, because browsers cannot set headers on
//     a WebSocket or an EventSource, and bullet.js long-polls the same URL;
//  3. the bertsync_token cookie, for pages served by the same site.
//
// A request with none of them is anonymous: the zero Caller and no error.
// An empty query parameter or cookie counts as absent; an Authorization
// header that is not a single "Bearer <token>" does not (a client that
// sends one means to authenticate), nor does a repeated token parameter.
//
// # What is refused
//
// A token that is present but bad is an error, never anonymity: a client
// whose token has just expired must learn so (the gateway answers 401
// before any upgrade) rather than quietly lose its rights. Every error
// is an *[Error] whose Reason is one of the Err… variables, so the
// gateway and its metrics branch with errors.Is:
//
//   - [ErrAlgNone]: an unsigned token, whatever the configuration.
//   - [ErrAlgorithm]: an algorithm no configured key allows. Each
//     algorithm is pinned to one key: a secret allows HS256, HS384 and
//     HS512; an RSA key RS256, RS384 and RS512; an ECDSA key the one ES
//     algorithm of its curve; an Ed25519 key EdDSA. This is what stops the
//     algorithm confusion attack, where an attacker signs an HS256 token
//     with the (public) RSA key's bytes as the HMAC secret and a verifier
//     that lets the token choose its algorithm accepts it.
//   - [ErrSignature], [ErrMalformed].
//   - [ErrExpired], [ErrNotYetValid]: exp and nbf, with [JWTConfig.Leeway]
//     for clock skew. exp is optional; without it the credentials never
//     end.
//   - [ErrIssuer], [ErrAudience]: when configured, iss must match and aud
//     must name the audience; a token without them is refused.
//   - [ErrNoSubject]: the caller is named by sub, so it must be a
//     non-empty string.
//   - [ErrAuthorizationHeader]: see above.
//
// A registered claim of the wrong type is malformed, not absent: an exp
// of "tomorrow" must not make a token eternal.
//
// # Cookies and CSRF
//
// A token in the Authorization header or the query parameter is sent
// only by code that holds it. A cookie is ambient: the browser attaches
// it to every request to the server, including a WebSocket handshake or
// a form POST started by another site's page. So with cookie tokens the
// gateway's Origin and Host checks are what keep other sites from acting
// as the user (cross-site request forgery and cross-site WebSocket
// hijacking); [Lookup] reports where a token was found for a caller that
// needs to tell. Query tokens have their own cost: URLs end up in access
// logs and proxies, so tokens given that way should be short-lived.
//
// # Claims
//
// [models.Caller].Claims holds every claim of the token as encoding/json
// decodes it into a map: numbers are float64, arrays []any. Handlers
// must not modify it.
package auth
