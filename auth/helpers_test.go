package auth_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/bertsync/bertsync/auth"
)

// testNow is the fixed clock of every test: tokens are stamped relative
// to it, so no test depends on the wall clock.
var testNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func clock() time.Time { return testNow }

// testKeys are generated once per test binary: RSA generation is slow
// under -race, and every test only reads them.
type testKeys struct {
	secret, otherSecret []byte
	rsa, otherRSA       *rsa.PrivateKey
	p256, otherP256     *ecdsa.PrivateKey
	p384, p521          *ecdsa.PrivateKey
	ed, otherEd         ed25519.PrivateKey
}

var keysOnce = sync.OnceValues(func() (*testKeys, error) {
	k := &testKeys{
		secret:      []byte("0123456789abcdef0123456789abcdef"),
		otherSecret: []byte("fedcba9876543210fedcba9876543210"),
	}
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, err
	}
	if k.otherRSA, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, err
	}
	for _, c := range []struct {
		dst   **ecdsa.PrivateKey
		curve elliptic.Curve
	}{{&k.p256, elliptic.P256()}, {&k.otherP256, elliptic.P256()}, {&k.p384, elliptic.P384()}, {&k.p521, elliptic.P521()}} {
		if *c.dst, err = ecdsa.GenerateKey(c.curve, rand.Reader); err != nil {
			return nil, err
		}
	}
	if _, k.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		return nil, err
	}
	if _, k.otherEd, err = ed25519.GenerateKey(rand.Reader); err != nil {
		return nil, err
	}
	return k, nil
})

func keys(tb testing.TB) *testKeys {
	tb.Helper()
	k, err := keysOnce()
	if err != nil {
		tb.Fatalf("generate keys: %v", err)
	}
	return k
}

// publicPEM returns the PKIX PEM of priv's public key.
func publicPEM(tb testing.TB, priv crypto.Signer) []byte {
	tb.Helper()
	der, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		tb.Fatalf("marshal public key: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// claims are valid claims for the test clock, with overrides: a nil
// value deletes the claim.
func claims(over map[string]any) jwt.MapClaims {
	c := jwt.MapClaims{
		"sub": "alice",
		"exp": testNow.Add(time.Hour).Unix(),
		"iat": testNow.Unix(),
	}
	for k, v := range over {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// sign signs c with method and key, as an issuer would.
func sign(tb testing.TB, method jwt.SigningMethod, key any, c jwt.MapClaims) string {
	tb.Helper()
	s, err := jwt.NewWithClaims(method, c).SignedString(key)
	if err != nil {
		tb.Fatalf("sign %s: %v", method.Alg(), err)
	}
	return s
}

func newJWT(tb testing.TB, cfg auth.JWTConfig) *auth.JWT {
	tb.Helper()
	if cfg.Now == nil {
		cfg.Now = clock
	}
	j, err := auth.NewJWT(cfg)
	if err != nil {
		tb.Fatalf("NewJWT: %v", err)
	}
	return j
}

func bearerRequest(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/bullet", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

func writeFile(tb testing.TB, content string) string {
	tb.Helper()
	name := filepath.Join(tb.TempDir(), "f")
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
	return name
}
