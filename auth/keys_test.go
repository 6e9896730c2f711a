package auth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/bertsync/bertsync/auth"
)

func TestReadSecretFile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		content string
		want    string
		wantErr string
	}{
		{"s3cret", "s3cret", ""},
		{"s3cret\n", "s3cret", ""},
		{"s3cret\r\n", "s3cret", ""},
		{"s3cret\n\n", "s3cret\n", ""},
		{"s3cret\r\n\r\n", "s3cret\r\n", ""},
		{"s3cret\r", "s3cret\r", ""},
		{" s3cret \n", " s3cret ", ""},
		{"\x00\xff\n", "\x00\xff", ""},
		{"", "", "is empty"},
		{"\n", "", "is empty"},
		{"\r\n", "", "is empty"},
	} {
		name := writeFile(t, tc.content)
		got, err := auth.ReadSecretFile(name)
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), name) {
				t.Errorf("ReadSecretFile(%q) err = %v, want one naming the file and saying %q", tc.content, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("ReadSecretFile(%q): %v", tc.content, err)
		case string(got) != tc.want:
			t.Errorf("ReadSecretFile(%q) = %q, want %q", tc.content, got, tc.want)
		}
	}
	missing := filepath.Join(t.TempDir(), "missing")
	if _, err := auth.ReadSecretFile(missing); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: err = %v, want fs.ErrNotExist naming it", err)
	}
	if _, err := auth.ReadSecretFile(t.TempDir()); err == nil {
		t.Error("a directory: no error")
	}
}

// TestSecretFileToken checks the whole --jwt-secret-file path: a token
// signed with the secret verifies against the file holding it with a
// newline, and one signed with the newline does not.
func TestSecretFileToken(t *testing.T) {
	t.Parallel()
	secret, err := auth.ReadSecretFile(writeFile(t, "my secret\n"))
	if err != nil {
		t.Fatal(err)
	}
	j := newJWT(t, auth.JWTConfig{Secret: secret})
	if _, _, err := j.Verify(sign(t, jwt.SigningMethodHS256, []byte("my secret"), claims(nil))); err != nil {
		t.Errorf("token signed with the trimmed secret: %v", err)
	}
	if _, _, err := j.Verify(sign(t, jwt.SigningMethodHS256, []byte("my secret\n"), claims(nil))); !errors.Is(err, auth.ErrSignature) {
		t.Errorf("token signed with the newline: err = %v, want ErrSignature", err)
	}
}

func TestReadPublicKeyFile(t *testing.T) {
	t.Parallel()
	k := keys(t)
	rsaPEM := string(publicPEM(t, k.rsa))
	pkcs1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey)}))
	p8, err := x509.MarshalPKCS8PrivateKey(k.p256)
	if err != nil {
		t.Fatal(err)
	}
	privatePEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}))
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		content string
		wantErr string // "" accepted
	}{
		{"rsa PKIX", rsaPEM, ""},
		{"rsa PKCS1", pkcs1, ""},
		{"p256", string(publicPEM(t, k.p256)), ""},
		{"p384", string(publicPEM(t, k.p384)), ""},
		{"p521", string(publicPEM(t, k.p521)), ""},
		{"ed25519", string(publicPEM(t, k.ed)), ""},
		{"text around the block", "my key:\n" + rsaPEM + "\n\n", ""},
		{"empty", "", "empty"},
		{"blank", " \n\n", "empty"},
		{"not PEM", "ssh-ed25519 AAAAC3Nza", "no PEM block"},
		{"truncated PEM", rsaPEM[:len(rsaPEM)/2], "no PEM block"},
		{"two keys", rsaPEM + string(publicPEM(t, k.p256)), "more than one PEM block"},
		{"private key", privatePEM, "give the public key"},
		{"certificate", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", `"CERTIFICATE"`},
		{"corrupt DER", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "parse PUBLIC KEY"},
		{"rsa 1024", string(publicPEM(t, small)), "1024 bits"},
		{"p224", string(publicPEM(t, p224)), "P-224"},
	} {
		name := writeFile(t, tc.content)
		b, err := auth.ReadPublicKeyFile(name)
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
				continue
			}
			if _, err := auth.NewJWT(auth.JWTConfig{PublicKeyPEM: b}); err != nil {
				t.Errorf("%s: NewJWT with the file's bytes: %v", tc.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err = %v, want one naming the file and saying %q", tc.name, err, tc.wantErr)
		}
		if _, err := auth.NewJWT(auth.JWTConfig{PublicKeyPEM: []byte(tc.content)}); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: NewJWT err = %v, want %q", tc.name, err, tc.wantErr)
		}
	}
	missing := filepath.Join(t.TempDir(), "missing.pem")
	if _, err := auth.ReadPublicKeyFile(missing); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: err = %v, want fs.ErrNotExist naming it", err)
	}
}

// TestPKCS1Verifies checks a PKCS #1 key verifies RS256 like a PKIX one.
func TestPKCS1Verifies(t *testing.T) {
	t.Parallel()
	k := keys(t)
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey)})
	j := newJWT(t, auth.JWTConfig{PublicKeyPEM: pkcs1})
	if _, _, err := j.Verify(sign(t, jwt.SigningMethodRS256, k.rsa, claims(nil))); err != nil {
		t.Error(err)
	}
}
