package auth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// MinRSABits is the smallest RSA public key accepted. Shorter keys can
// be factored by a determined attacker, who could then sign any token.
const MinRSABits = 2048

// hmacAlgorithms are those a secret allows (DESIGN §6).
var hmacAlgorithms = []string{"HS256", "HS384", "HS512"}

// ReadSecretFile reads the HMAC secret of --jwt-secret-file: the bytes
// of the file less one trailing newline ("\n" or "\r\n"), which editors
// and echo add and which a secret is rarely meant to end with. Only one
// is trimmed, so a secret that does end with a newline can still be
// written with two. A missing, unreadable or (after the trim) empty file
// is an error naming the file.
func ReadSecretFile(name string) ([]byte, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("auth: JWT secret file: %w", err)
	}
	if t, ok := bytes.CutSuffix(b, []byte("\r\n")); ok {
		b = t
	} else {
		b, _ = bytes.CutSuffix(b, []byte("\n"))
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("auth: JWT secret file %s is empty", name)
	}
	return b, nil
}

// ReadPublicKeyFile reads the PEM public key of --jwt-public-key-file and
// checks it as [NewJWT] will, so that a bad file is reported with its
// name when the server starts.
func ReadPublicKeyFile(name string) ([]byte, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("auth: JWT public key file: %w", err)
	}
	if _, _, err := parsePublicKey(b); err != nil {
		return nil, fmt.Errorf("auth: JWT public key file %s: %w", name, err)
	}
	return b, nil
}

// parsePublicKey decodes the one PEM block of b, a PKIX "PUBLIC KEY" or a
// PKCS #1 "RSA PUBLIC KEY", and returns the key with the algorithms it
// allows. Each key allows only the algorithms of its own kind and size:
// accepting, say, ES512 with a P-256 key or PS256 with an RSA key that
// was issued for RS256 would widen what a token may claim about itself.
func parsePublicKey(b []byte) (key any, algs []string, err error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil, errors.New("empty")
	}
	block, rest := pem.Decode(b)
	if block == nil {
		return nil, nil, errors.New("no PEM block found")
	}
	if next, _ := pem.Decode(rest); next != nil {
		return nil, nil, errors.New("more than one PEM block; give exactly one public key")
	}
	switch block.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
		return nil, nil, fmt.Errorf("PEM block is a %s; give the public key, which is all the server needs", block.Type)
	default:
		return nil, nil, fmt.Errorf("PEM block is a %q, want \"PUBLIC KEY\"", block.Type)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("parse %s: %w", block.Type, err)
	}
	switch k := key.(type) {
	case *rsa.PublicKey:
		if bits := k.N.BitLen(); bits < MinRSABits {
			return nil, nil, fmt.Errorf("RSA key of %d bits, want at least %d", bits, MinRSABits)
		}
		return k, []string{"RS256", "RS384", "RS512"}, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return k, []string{"ES256"}, nil
		case elliptic.P384():
			return k, []string{"ES384"}, nil
		case elliptic.P521():
			return k, []string{"ES512"}, nil
		}
		return nil, nil, fmt.Errorf("ECDSA key on curve %s, want P-256, P-384 or P-521", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return k, []string{"EdDSA"}, nil
	}
	return nil, nil, fmt.Errorf("unsupported public key type %T", key)
}
