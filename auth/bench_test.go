package auth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/bertsync/bertsync/auth"
)

// BenchmarkAuthenticate measures the cost auth adds to each request: an
// anonymous request (the lookup alone) as the baseline, then a valid
// token per algorithm, and a refused one.
func BenchmarkAuthenticate(b *testing.B) {
	k := keys(b)
	j := newJWT(b, auth.JWTConfig{
		Secret:       k.secret,
		PublicKeyPEM: publicPEM(b, k.p256),
		Issuer:       "idp",
		Audience:     "bertsync",
	})
	c := claims(map[string]any{"iss": "idp", "aud": "bertsync", "roles": []string{"reader"}})
	for _, bc := range []struct {
		name    string
		token   string
		wantErr bool
	}{
		{"anonymous", "", false},
		{"HS256", sign(b, jwt.SigningMethodHS256, k.secret, c), false},
		{"ES256", sign(b, jwt.SigningMethodES256, k.p256, c), false},
		{"HS256-bad-signature", sign(b, jwt.SigningMethodHS256, k.otherSecret, c), true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, "/bullet", nil)
			if bc.token != "" {
				r.Header.Set("Authorization", "Bearer "+bc.token)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.token)))
			for b.Loop() {
				if _, _, err := j.Authenticate(r); (err != nil) != bc.wantErr {
					b.Fatalf("Authenticate: %v", err)
				}
			}
		})
	}
}
