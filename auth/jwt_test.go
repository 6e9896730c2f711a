package auth_test

import (
	"encoding/base64"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/bertsync/bertsync/auth"
	"github.com/bertsync/bertsync/models"
)

// The gateway's Authenticator interface, which auth must not import.
var _ interface {
	Authenticate(r *http.Request) (c models.Caller, expires time.Time, err error)
} = (*auth.JWT)(nil)

// TestAlgorithms signs a token with every algorithm and key kind and
// checks each configuration accepts exactly those of its key: right
// algorithm and key accepted, same kind with another key a bad
// signature, any other algorithm refused before the signature is
// looked at.
func TestAlgorithms(t *testing.T) {
	t.Parallel()
	k := keys(t)
	rsaPEM, p256PEM := publicPEM(t, k.rsa), publicPEM(t, k.p256)
	configs := map[string]auth.JWTConfig{
		"secret":     {Secret: k.secret},
		"rsa":        {PublicKeyPEM: rsaPEM},
		"p256":       {PublicKeyPEM: p256PEM},
		"p384":       {PublicKeyPEM: publicPEM(t, k.p384)},
		"p521":       {PublicKeyPEM: publicPEM(t, k.p521)},
		"ed25519":    {PublicKeyPEM: publicPEM(t, k.ed)},
		"secret+rsa": {Secret: k.secret, PublicKeyPEM: rsaPEM},
	}
	tokens := map[string]string{
		"HS256":          sign(t, jwt.SigningMethodHS256, k.secret, claims(nil)),
		"HS384":          sign(t, jwt.SigningMethodHS384, k.secret, claims(nil)),
		"HS512":          sign(t, jwt.SigningMethodHS512, k.secret, claims(nil)),
		"HS256 other":    sign(t, jwt.SigningMethodHS256, k.otherSecret, claims(nil)),
		"HS256 rsa PEM":  sign(t, jwt.SigningMethodHS256, rsaPEM, claims(nil)),
		"HS256 p256 PEM": sign(t, jwt.SigningMethodHS256, p256PEM, claims(nil)),
		"RS256":          sign(t, jwt.SigningMethodRS256, k.rsa, claims(nil)),
		"RS384":          sign(t, jwt.SigningMethodRS384, k.rsa, claims(nil)),
		"RS512":          sign(t, jwt.SigningMethodRS512, k.rsa, claims(nil)),
		"RS256 other":    sign(t, jwt.SigningMethodRS256, k.otherRSA, claims(nil)),
		"PS256":          sign(t, jwt.SigningMethodPS256, k.rsa, claims(nil)),
		"ES256":          sign(t, jwt.SigningMethodES256, k.p256, claims(nil)),
		"ES256 other":    sign(t, jwt.SigningMethodES256, k.otherP256, claims(nil)),
		"ES384":          sign(t, jwt.SigningMethodES384, k.p384, claims(nil)),
		"ES512":          sign(t, jwt.SigningMethodES512, k.p521, claims(nil)),
		"EdDSA":          sign(t, jwt.SigningMethodEdDSA, k.ed, claims(nil)),
		"EdDSA other":    sign(t, jwt.SigningMethodEdDSA, k.otherEd, claims(nil)),
		"HS256 ed PEM":   sign(t, jwt.SigningMethodHS256, publicPEM(t, k.ed), claims(nil)),
	}
	// want lists, per configuration, the tokens not refused with
	// ErrAlgorithm: nil means accepted.
	want := map[string]map[string]error{
		"secret": {
			"HS256": nil, "HS384": nil, "HS512": nil,
			"HS256 other": auth.ErrSignature, "HS256 rsa PEM": auth.ErrSignature,
			"HS256 p256 PEM": auth.ErrSignature, "HS256 ed PEM": auth.ErrSignature,
		},
		"rsa": {
			"RS256": nil, "RS384": nil, "RS512": nil,
			"RS256 other": auth.ErrSignature,
		},
		"p256":    {"ES256": nil, "ES256 other": auth.ErrSignature},
		"p384":    {"ES384": nil},
		"p521":    {"ES512": nil},
		"ed25519": {"EdDSA": nil, "EdDSA other": auth.ErrSignature},
		"secret+rsa": {
			"HS256": nil, "HS384": nil, "HS512": nil,
			"HS256 other": auth.ErrSignature, "HS256 rsa PEM": auth.ErrSignature,
			"HS256 p256 PEM": auth.ErrSignature, "HS256 ed PEM": auth.ErrSignature,
			"RS256": nil, "RS384": nil, "RS512": nil,
			"RS256 other": auth.ErrSignature,
		},
	}
	for cname, cfg := range configs {
		j := newJWT(t, cfg)
		for tname, token := range tokens {
			wantErr, listed := want[cname][tname]
			if !listed {
				wantErr = auth.ErrAlgorithm
			}
			c, exp, err := j.Authenticate(bearerRequest(token))
			if !errors.Is(err, wantErr) || (wantErr == nil) != (err == nil) {
				t.Errorf("config %s, token %s: err = %v, want %v", cname, tname, err, wantErr)
				continue
			}
			if err != nil {
				if c.Subject != "" || c.Claims != nil || !exp.IsZero() {
					t.Errorf("config %s, token %s: refused but got caller %+v, expires %v", cname, tname, c, exp)
				}
				continue
			}
			if c.Subject != "alice" || !exp.Equal(testNow.Add(time.Hour)) {
				t.Errorf("config %s, token %s: caller %q expires %v, want alice at %v", cname, tname, c.Subject, exp, testNow.Add(time.Hour))
			}
		}
	}
}

func TestAlgorithmsList(t *testing.T) {
	t.Parallel()
	k := keys(t)
	for _, tc := range []struct {
		cfg  auth.JWTConfig
		want []string
	}{
		{auth.JWTConfig{Secret: k.secret}, []string{"HS256", "HS384", "HS512"}},
		{auth.JWTConfig{PublicKeyPEM: publicPEM(t, k.rsa)}, []string{"RS256", "RS384", "RS512"}},
		{auth.JWTConfig{PublicKeyPEM: publicPEM(t, k.p256)}, []string{"ES256"}},
		{auth.JWTConfig{PublicKeyPEM: publicPEM(t, k.p384)}, []string{"ES384"}},
		{auth.JWTConfig{PublicKeyPEM: publicPEM(t, k.p521)}, []string{"ES512"}},
		{auth.JWTConfig{PublicKeyPEM: publicPEM(t, k.ed)}, []string{"EdDSA"}},
		{auth.JWTConfig{Secret: k.secret, PublicKeyPEM: publicPEM(t, k.ed)}, []string{"EdDSA", "HS256", "HS384", "HS512"}},
	} {
		if got := newJWT(t, tc.cfg).Algorithms(); !slices.Equal(got, tc.want) {
			t.Errorf("Algorithms() = %v, want %v", got, tc.want)
		}
	}
}

// unsigned builds a token by hand with the given header, as an attacker
// would: the library refuses to sign alg none without an unsafe key.
func unsigned(header, payload, sig string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(header)) + "." + enc([]byte(payload)) + "." + sig
}

// tamper replaces the payload of a signed token with one naming
// another subject, keeping header and signature.
func tamper(token string) string {
	parts := strings.Split(token, ".")
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"mallory"}`))
	return strings.Join(parts, ".")
}

func TestRefused(t *testing.T) {
	t.Parallel()
	k := keys(t)
	payload := `{"sub":"alice"}`
	hs := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodHS256, k.secret, c) }
	withHeader := func(key string, v any) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(nil))
		tok.Header[key] = v
		s, err := tok.SignedString(k.secret)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, tc := range []struct {
		name  string
		token string
		want  error
	}{
		{"alg none signed by library", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil)), auth.ErrAlgNone},
		{"alg none by hand", unsigned(`{"alg":"none","typ":"JWT"}`, payload, ""), auth.ErrAlgNone},
		{"alg NONE", unsigned(`{"alg":"NONE"}`, payload, ""), auth.ErrAlgNone},
		{"alg None with signature", unsigned(`{"alg":"None"}`, payload, "c2ln"), auth.ErrAlgNone},
		{"unknown alg", unsigned(`{"alg":"XX999"}`, payload, "c2ln"), auth.ErrAlgorithm},
		{"no alg", unsigned(`{"typ":"JWT"}`, payload, "c2ln"), auth.ErrMalformed},
		{"alg not a string", unsigned(`{"alg":256}`, payload, "c2ln"), auth.ErrMalformed},
		{"garbage", "not-a-token", auth.ErrMalformed},
		{"two segments", "eyJhbGciOiJIUzI1NiJ9.e30", auth.ErrMalformed},
		{"header not base64", "!!!." + strings.SplitN(hs(claims(nil)), ".", 2)[1], auth.ErrMalformed},
		{"header not JSON", unsigned(`{alg`, payload, "c2ln"), auth.ErrMalformed},
		{"payload not an object", unsigned(`{"alg":"HS256"}`, `[1]`, "c2ln"), auth.ErrMalformed},
		{"payload tampered", tamper(hs(claims(nil))), auth.ErrSignature},
		{"signature of another token", strings.Join([]string{
			strings.Join(strings.Split(hs(claims(nil)), ".")[:2], "."),
			strings.Split(hs(claims(map[string]any{"sub": "bob"})), ".")[2]}, "."), auth.ErrSignature},
		{"crit header", withHeader("crit", []string{"exp"}), auth.ErrMalformed},
		{"too long", hs(claims(map[string]any{"pad": strings.Repeat("x", auth.MaxTokenLength)})), auth.ErrMalformed},
		{"expired", hs(claims(map[string]any{"exp": testNow.Add(-time.Second).Unix()})), auth.ErrExpired},
		{"expires now", hs(claims(map[string]any{"exp": testNow.Unix()})), auth.ErrExpired},
		{"exp 0", hs(claims(map[string]any{"exp": 0})), auth.ErrExpired},
		{"exp a string", hs(claims(map[string]any{"exp": "tomorrow"})), auth.ErrMalformed},
		{"nbf future", hs(claims(map[string]any{"nbf": testNow.Add(time.Second).Unix()})), auth.ErrNotYetValid},
		{"nbf a string", hs(claims(map[string]any{"nbf": "now"})), auth.ErrMalformed},
		{"no sub", hs(claims(map[string]any{"sub": nil})), auth.ErrNoSubject},
		{"empty sub", hs(claims(map[string]any{"sub": ""})), auth.ErrNoSubject},
		{"sub a number", hs(claims(map[string]any{"sub": 42})), auth.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			j := newJWT(t, auth.JWTConfig{Secret: k.secret})
			c, exp, err := j.Verify(tc.token)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify: err = %v, want %v", err, tc.want)
			}
			if !reflect.DeepEqual(c, models.Caller{}) || !exp.IsZero() {
				t.Errorf("refused token gave caller %+v, expires %v", c, exp)
			}
			e, ok := errors.AsType[*auth.Error](err)
			if !ok || e.Reason != tc.want {
				t.Errorf("err %v: not an *auth.Error with Reason %v", err, tc.want)
			}
			if !errors.Is(err, models.ErrUnauthorized) || models.CodeOf(err) != models.CodeUnauthorized {
				t.Errorf("err %v: code %v, want unauthorized", err, models.CodeOf(err))
			}
			if strings.Contains(err.Error(), string(k.secret)) {
				t.Errorf("err %q leaks the secret", err)
			}
		})
	}
}

// TestClaims checks exp, nbf, iss, aud and the leeway, and what a valid
// token gives.
func TestClaims(t *testing.T) {
	t.Parallel()
	k := keys(t)
	for _, tc := range []struct {
		name        string
		cfg         auth.JWTConfig
		claims      jwt.MapClaims
		want        error
		wantExpires time.Time
	}{
		{"valid", auth.JWTConfig{}, claims(nil), nil, testNow.Add(time.Hour)},
		{"no exp never expires", auth.JWTConfig{}, claims(map[string]any{"exp": nil}), nil, time.Time{}},
		{"fractional exp", auth.JWTConfig{}, claims(map[string]any{"exp": float64(testNow.Unix()) + 0.5}), nil, testNow.Add(500 * time.Millisecond)},
		{"expired within leeway", auth.JWTConfig{Leeway: time.Minute}, claims(map[string]any{"exp": testNow.Add(-30 * time.Second).Unix()}), nil, testNow.Add(30 * time.Second)},
		{"expired past leeway", auth.JWTConfig{Leeway: time.Minute}, claims(map[string]any{"exp": testNow.Add(-time.Minute).Unix()}), auth.ErrExpired, time.Time{}},
		{"nbf now", auth.JWTConfig{}, claims(map[string]any{"nbf": testNow.Unix()}), nil, testNow.Add(time.Hour)},
		{"nbf past", auth.JWTConfig{}, claims(map[string]any{"nbf": testNow.Add(-time.Hour).Unix()}), nil, testNow.Add(time.Hour)},
		{"nbf within leeway", auth.JWTConfig{Leeway: time.Minute}, claims(map[string]any{"nbf": testNow.Add(time.Minute).Unix()}), nil, testNow.Add(time.Hour + time.Minute)},
		{"nbf past leeway", auth.JWTConfig{Leeway: time.Minute}, claims(map[string]any{"nbf": testNow.Add(time.Minute + time.Second).Unix()}), auth.ErrNotYetValid, time.Time{}},
		{"iss ignored when not configured", auth.JWTConfig{}, claims(map[string]any{"iss": "anyone"}), nil, testNow.Add(time.Hour)},
		{"iss match", auth.JWTConfig{Issuer: "https://idp.example"}, claims(map[string]any{"iss": "https://idp.example"}), nil, testNow.Add(time.Hour)},
		{"iss mismatch", auth.JWTConfig{Issuer: "https://idp.example"}, claims(map[string]any{"iss": "https://evil.example"}), auth.ErrIssuer, time.Time{}},
		{"iss missing", auth.JWTConfig{Issuer: "https://idp.example"}, claims(nil), auth.ErrIssuer, time.Time{}},
		{"iss not a string", auth.JWTConfig{Issuer: "1"}, claims(map[string]any{"iss": 1}), auth.ErrIssuer, time.Time{}},
		{"aud ignored when not configured", auth.JWTConfig{}, claims(map[string]any{"aud": "other"}), nil, testNow.Add(time.Hour)},
		{"aud match", auth.JWTConfig{Audience: "bertsync"}, claims(map[string]any{"aud": "bertsync"}), nil, testNow.Add(time.Hour)},
		{"aud in array", auth.JWTConfig{Audience: "bertsync"}, claims(map[string]any{"aud": []string{"other", "bertsync"}}), nil, testNow.Add(time.Hour)},
		{"aud mismatch", auth.JWTConfig{Audience: "bertsync"}, claims(map[string]any{"aud": "other"}), auth.ErrAudience, time.Time{}},
		{"aud not in array", auth.JWTConfig{Audience: "bertsync"}, claims(map[string]any{"aud": []string{"a", "b"}}), auth.ErrAudience, time.Time{}},
		{"aud missing", auth.JWTConfig{Audience: "bertsync"}, claims(nil), auth.ErrAudience, time.Time{}},
		{"aud a number", auth.JWTConfig{Audience: "bertsync"}, claims(map[string]any{"aud": 7}), auth.ErrMalformed, time.Time{}},
		{"aud array of numbers", auth.JWTConfig{Audience: "bertsync"}, claims(map[string]any{"aud": []int{7}}), auth.ErrMalformed, time.Time{}},
		{"iss and aud match", auth.JWTConfig{Issuer: "idp", Audience: "bertsync"}, claims(map[string]any{"iss": "idp", "aud": []string{"bertsync"}}), nil, testNow.Add(time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.cfg.Secret = k.secret
			j := newJWT(t, tc.cfg)
			c, exp, err := j.Authenticate(bearerRequest(sign(t, jwt.SigningMethodHS256, k.secret, tc.claims)))
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !exp.Equal(tc.wantExpires) {
				t.Errorf("expires = %v, want %v", exp, tc.wantExpires)
			}
			if err != nil {
				return
			}
			if c.Subject != "alice" || c.Anonymous() {
				t.Errorf("Subject = %q, want alice", c.Subject)
			}
			// Every claim comes through, as encoding/json decodes it.
			if len(c.Claims) != len(tc.claims) || c.Claims["sub"] != "alice" {
				t.Errorf("Claims = %v, want all of %v", c.Claims, tc.claims)
			}
		})
	}
}

func TestClaimsCustom(t *testing.T) {
	t.Parallel()
	k := keys(t)
	j := newJWT(t, auth.JWTConfig{Secret: k.secret})
	c, _, err := j.Verify(sign(t, jwt.SigningMethodHS256, k.secret, claims(map[string]any{
		"roles": []string{"admin"}, "n": 3, "org": map[string]any{"id": "x"},
	})))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"sub": "alice", "exp": float64(testNow.Add(time.Hour).Unix()), "iat": float64(testNow.Unix()),
		"roles": []any{"admin"}, "n": float64(3), "org": map[string]any{"id": "x"},
	}
	if !reflect.DeepEqual(c.Claims, want) {
		t.Errorf("Claims = %#v, want %#v", c.Claims, want)
	}
}

// TestNowDefault checks that a nil Now is the wall clock.
func TestNowDefault(t *testing.T) {
	t.Parallel()
	k := keys(t)
	j, err := auth.NewJWT(auth.JWTConfig{Secret: k.secret})
	if err != nil {
		t.Fatal(err)
	}
	past := sign(t, jwt.SigningMethodHS256, k.secret, jwt.MapClaims{"sub": "a", "exp": time.Now().Add(-time.Minute).Unix()})
	if _, _, err := j.Verify(past); !errors.Is(err, auth.ErrExpired) {
		t.Errorf("token expired a minute ago: err = %v, want ErrExpired", err)
	}
	future := sign(t, jwt.SigningMethodHS256, k.secret, jwt.MapClaims{"sub": "a", "exp": time.Now().Add(time.Hour).Unix()})
	if _, _, err := j.Verify(future); err != nil {
		t.Errorf("token valid for an hour: %v", err)
	}
}

func TestNewJWTErrors(t *testing.T) {
	t.Parallel()
	k := keys(t)
	for _, tc := range []struct {
		name string
		cfg  auth.JWTConfig
		want string
	}{
		{"no key", auth.JWTConfig{Issuer: "x"}, "needs a secret or a public key"},
		{"empty secret", auth.JWTConfig{Secret: []byte{}}, "empty JWT secret"},
		{"negative leeway", auth.JWTConfig{Secret: k.secret, Leeway: -time.Second}, "negative"},
		{"bad PEM", auth.JWTConfig{Secret: k.secret, PublicKeyPEM: []byte("hello")}, "no PEM block"},
	} {
		_, err := auth.NewJWT(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

// TestSecretCopied checks that a JWT keeps its own copy of the secret: a
// caller reusing its buffer must not change what is accepted.
func TestSecretCopied(t *testing.T) {
	t.Parallel()
	k := keys(t)
	secret := slices.Clone(k.secret)
	j := newJWT(t, auth.JWTConfig{Secret: secret})
	clear(secret)
	if _, _, err := j.Verify(sign(t, jwt.SigningMethodHS256, k.secret, claims(nil))); err != nil {
		t.Errorf("after the caller cleared its buffer: %v", err)
	}
}

// TestConcurrent runs Authenticate from many goroutines, so that -race
// sees any state shared between requests.
func TestConcurrent(t *testing.T) {
	t.Parallel()
	k := keys(t)
	j := newJWT(t, auth.JWTConfig{Secret: k.secret, PublicKeyPEM: publicPEM(t, k.p256)})
	tokens := []string{
		sign(t, jwt.SigningMethodHS256, k.secret, claims(nil)),
		sign(t, jwt.SigningMethodES256, k.p256, claims(nil)),
		sign(t, jwt.SigningMethodHS256, k.otherSecret, claims(nil)),
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8*len(tokens))
	for range 8 {
		for i, tok := range tokens {
			wg.Go(func() {
				_, _, err := j.Authenticate(bearerRequest(tok))
				if (i == 2) != (err != nil) {
					errs <- err
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Authenticate: unexpected result %v", err)
	}
}
