package auth

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/bertsync/bertsync/models"
)

// JWTConfig configures a [JWT]. At least one of Secret and PublicKeyPEM
// must be set; with both, a token of either kind is accepted, each only
// with its own algorithms.
type JWTConfig struct {
	// Secret is the HMAC key of HS256, HS384 and HS512 tokens; nil
	// refuses those algorithms. [ReadSecretFile] reads it as
	// --jwt-secret-file does.
	Secret []byte
	// PublicKeyPEM is one PEM public key (PKIX "PUBLIC KEY", or PKCS #1
	// "RSA PUBLIC KEY"). Its type chooses the algorithms accepted: an RSA
	// key (at least [MinRSABits]) RS256, RS384 and RS512; an ECDSA key
	// ES256 on P-256, ES384 on P-384 or ES512 on P-521; an Ed25519 key
	// EdDSA. Nil refuses them all. [ReadPublicKeyFile] reads it as
	// --jwt-public-key-file does.
	PublicKeyPEM []byte
	// Issuer, when not empty, must equal the iss claim.
	Issuer string
	// Audience, when not empty, must be the aud claim or one of its
	// elements.
	Audience string
	// Leeway is the clock skew tolerated between the token's issuer and
	// this server when checking exp and nbf. Zero tolerates none; it must
	// not be negative.
	Leeway time.Duration
	// Now is the clock exp and nbf are checked against; nil means
	// time.Now. Tests set it.
	Now func() time.Time
}

// JWT authenticates requests by the JSON Web Token they carry, as DESIGN
// §6 specifies. It is immutable once made and safe for concurrent use.
type JWT struct {
	keys     map[string]any // algorithm -> verification key
	parser   *jwt.Parser
	issuer   string
	audience string
	leeway   time.Duration
	now      func() time.Time
}

// NewJWT returns a JWT that accepts the tokens cfg describes, or an error
// when cfg has no key, an empty secret, an unusable public key or a
// negative leeway.
func NewJWT(cfg JWTConfig) (*JWT, error) {
	if cfg.Secret == nil && cfg.PublicKeyPEM == nil {
		return nil, errors.New("auth: JWT needs a secret or a public key")
	}
	if cfg.Leeway < 0 {
		return nil, fmt.Errorf("auth: negative JWT leeway %v", cfg.Leeway)
	}
	j := &JWT{
		keys:     make(map[string]any),
		issuer:   cfg.Issuer,
		audience: cfg.Audience,
		leeway:   cfg.Leeway,
		now:      cfg.Now,
		// Claims are checked by [JWT.claims], not by the library, so that
		// each refusal has exactly one reason and exp 0 or an aud of the
		// wrong type is not silently taken as absent.
		parser: jwt.NewParser(jwt.WithoutClaimsValidation(), jwt.WithStrictDecoding()),
	}
	if j.now == nil {
		j.now = time.Now
	}
	if cfg.Secret != nil {
		if len(cfg.Secret) == 0 {
			return nil, errors.New("auth: empty JWT secret")
		}
		secret := slices.Clone(cfg.Secret)
		for _, alg := range hmacAlgorithms {
			j.keys[alg] = secret
		}
	}
	if cfg.PublicKeyPEM != nil {
		key, algs, err := parsePublicKey(cfg.PublicKeyPEM)
		if err != nil {
			return nil, fmt.Errorf("auth: JWT public key: %w", err)
		}
		for _, alg := range algs {
			j.keys[alg] = key
		}
	}
	return j, nil
}

// Algorithms returns the signing algorithms j accepts, sorted.
func (j *JWT) Algorithms() []string {
	algs := make([]string, 0, len(j.keys))
	for alg := range j.keys {
		algs = append(algs, alg)
	}
	slices.Sort(algs)
	return algs
}

// Authenticate returns the caller of r (see [Lookup] for where the token
// is looked for): the zero Caller and no error when r carries no token;
// an *[Error] when the token or the Authorization header is bad, never
// anonymous; otherwise the token's subject and claims, and when the token
// stops being accepted (zero when it has no exp).
func (j *JWT) Authenticate(r *http.Request) (models.Caller, time.Time, error) {
	token, from, err := Lookup(r)
	if err != nil || from == SourceNone {
		return models.Caller{}, time.Time{}, err
	}
	c, expires, err := j.Verify(token)
	if err != nil {
		if e, ok := errors.AsType[*Error](err); ok {
			e.Source = from
		}
		return models.Caller{}, time.Time{}, err
	}
	return c, expires, nil
}

// Verify checks one token, as [JWT.Authenticate] does for a request's:
// its signature with the key its algorithm is pinned to, then exp, nbf,
// iss, aud and sub. It returns the caller the token names and when the
// token stops being accepted: exp plus the leeway, so that a token just
// accepted is never already past it (zero when the token has no exp). An
// error is an *[Error].
func (j *JWT) Verify(token string) (models.Caller, time.Time, error) {
	if len(token) > MaxTokenLength {
		return models.Caller{}, time.Time{}, refuse(ErrMalformed, fmt.Sprintf("longer than %d bytes", MaxTokenLength))
	}
	claims := jwt.MapClaims{}
	parsed, err := j.parser.ParseWithClaims(token, claims, j.key)
	if err != nil {
		return models.Caller{}, time.Time{}, parseError(parsed, err)
	}
	if _, ok := parsed.Header["crit"]; ok {
		// RFC 7515 §4.1.11: extensions the recipient does not understand
		// must make the token invalid, and we understand none.
		return models.Caller{}, time.Time{}, refuse(ErrMalformed, "crit header not supported")
	}
	expires, err := j.claims(claims)
	if err != nil {
		return models.Caller{}, time.Time{}, err
	}
	sub, _ := claims["sub"].(string)
	return models.Caller{Subject: sub, Claims: map[string]any(claims)}, expires, nil
}

// key is the library's Keyfunc: it pins each algorithm to the one key
// configured for it, which is what defeats algorithm confusion (an HS256
// token "signed" with the public key's bytes finds no HS256 key).
func (j *JWT) key(t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	if strings.EqualFold(alg, "none") {
		return nil, ErrAlgNone
	}
	if k, ok := j.keys[alg]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrAlgorithm, alg)
}

// parseError turns the library's error into an *Error with one reason.
func parseError(t *jwt.Token, err error) *Error {
	switch {
	case errors.Is(err, ErrAlgNone):
		return refuse(ErrAlgNone, "")
	case errors.Is(err, ErrAlgorithm):
		return refuse(ErrAlgorithm, quoteAlg(t.Method.Alg()))
	case errors.Is(err, jwt.ErrTokenMalformed):
		return refuse(ErrMalformed, strings.TrimPrefix(err.Error(), jwt.ErrTokenMalformed.Error()+": "))
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return refuse(ErrSignature, "")
	case errors.Is(err, jwt.ErrTokenUnverifiable) && t != nil:
		// The header parsed but names no algorithm the library knows, or
		// none at all; "NONE" and "None" are still unsigned tokens.
		alg, ok := t.Header["alg"].(string)
		switch {
		case !ok:
			return refuse(ErrMalformed, "no alg header")
		case strings.EqualFold(alg, "none"):
			return refuse(ErrAlgNone, "")
		}
		return refuse(ErrAlgorithm, quoteAlg(alg))
	}
	return refuse(ErrMalformed, err.Error())
}

// quoteAlg quotes a token's alg for an error's text, which goes back to
// the client: short, and with no control characters.
func quoteAlg(alg string) string {
	const maxLen = 32
	if len(alg) > maxLen {
		alg = alg[:maxLen] + "…"
	}
	return strconv.Quote(alg)
}

// claims checks the registered claims and returns the expiry. A claim of
// the wrong type is malformed rather than absent: taking an exp of "soon"
// as no exp would make the token eternal.
func (j *JWT) claims(c jwt.MapClaims) (expires time.Time, err error) {
	now := j.now()
	exp, err := numericDate(c, "exp")
	if err != nil {
		return time.Time{}, err
	}
	if !exp.IsZero() {
		expires = exp.Add(j.leeway)
		if !now.Before(expires) {
			return time.Time{}, refuse(ErrExpired, "")
		}
	}
	nbf, err := numericDate(c, "nbf")
	if err != nil {
		return time.Time{}, err
	}
	if !nbf.IsZero() && now.Before(nbf.Add(-j.leeway)) {
		return time.Time{}, refuse(ErrNotYetValid, "")
	}
	if j.issuer != "" {
		if iss, _ := c["iss"].(string); iss != j.issuer {
			return time.Time{}, refuse(ErrIssuer, "")
		}
	}
	if j.audience != "" {
		ok, err := hasAudience(c, j.audience)
		if err != nil {
			return time.Time{}, err
		}
		if !ok {
			return time.Time{}, refuse(ErrAudience, "")
		}
	}
	switch sub, present := c["sub"]; {
	case !present:
		return time.Time{}, refuse(ErrNoSubject, "")
	case sub == "":
		return time.Time{}, refuse(ErrNoSubject, "empty sub")
	default:
		if _, ok := sub.(string); !ok {
			return time.Time{}, refuse(ErrMalformed, "sub is not a string")
		}
	}
	return expires, nil
}

// numericDate returns claim name as a time (RFC 7519 NumericDate: seconds
// since the epoch, possibly fractional), the zero time when absent.
func numericDate(c jwt.MapClaims, name string) (time.Time, error) {
	v, ok := c[name]
	if !ok {
		return time.Time{}, nil
	}
	f, ok := v.(float64)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1<<53 {
		return time.Time{}, refuse(ErrMalformed, name+" is not a NumericDate")
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}

// hasAudience reports whether the aud claim, a string or an array of
// strings, names aud.
func hasAudience(c jwt.MapClaims, aud string) (bool, error) {
	switch v := c["aud"].(type) {
	case nil:
		return false, nil
	case string:
		return v == aud, nil
	case []any:
		found := false
		for _, a := range v {
			s, ok := a.(string)
			if !ok {
				return false, refuse(ErrMalformed, "aud is not a string or an array of strings")
			}
			found = found || s == aud
		}
		return found, nil
	}
	return false, refuse(ErrMalformed, "aud is not a string or an array of strings")
}
