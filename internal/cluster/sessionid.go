package cluster

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// A session id is base64url (no padding) of
//
//	len(node) (1 byte) | node | 16 random bytes | MAC (16 bytes)
//
// where MAC is HMAC-SHA256 under the shared key of everything before it,
// prefixed with sessionDomain, truncated to 128 bits. The random part
// makes ids unguessable as before; the MAC makes the node name
// trustworthy, so that a router never sends a request to a node the
// client chose.

const (
	// MaxNodeIDLen is the longest node id, in bytes: one length byte in
	// a session id.
	MaxNodeIDLen = 255
	// MinKeyLen is the shortest session key accepted, in bytes.
	MinKeyLen = 16

	randomLen = 16
	macLen    = 16
	// sessionDomain keeps these MACs apart from any other use of the key.
	sessionDomain = "bertsync session id\x00"
	// keyBytes is the size of a key SessionKey makes.
	keyBytes = 32
)

// ErrInvalidSessionID is the error, wrapped with its reason, of a session
// id that is malformed or whose MAC does not check: forged, altered, or
// signed with another key.
var ErrInvalidSessionID = errors.New("cluster: invalid session id")

// NewSessionID returns a new signed session id naming node.
func NewSessionID(key []byte, node string) (string, error) {
	if len(key) < MinKeyLen {
		return "", fmt.Errorf("cluster: session key of %d bytes, want at least %d", len(key), MinKeyLen)
	}
	if err := checkNodeID(node); err != nil {
		return "", err
	}
	b := make([]byte, 0, 1+len(node)+randomLen+macLen)
	b = append(b, byte(len(node)))
	b = append(b, node...)
	b = b[:len(b)+randomLen]
	if _, err := rand.Read(b[len(b)-randomLen:]); err != nil {
		return "", fmt.Errorf("cluster: session id: %w", err)
	}
	b = append(b, sessionMAC(key, b)...)
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// ParseSessionID checks id's MAC under key and returns the node it
// names. Its errors wrap [ErrInvalidSessionID].
func ParseSessionID(key []byte, id string) (node string, err error) {
	if len(key) < MinKeyLen {
		return "", fmt.Errorf("cluster: session key of %d bytes, want at least %d", len(key), MinKeyLen)
	}
	// The longest id: no need to decode more than that.
	if base64.RawURLEncoding.DecodedLen(len(id)) > 1+MaxNodeIDLen+randomLen+macLen {
		return "", fmt.Errorf("%w: too long", ErrInvalidSessionID)
	}
	b, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil {
		return "", fmt.Errorf("%w: not base64url", ErrInvalidSessionID)
	}
	if len(b) < 1 || int(b[0]) == 0 || len(b) != 1+int(b[0])+randomLen+macLen {
		return "", fmt.Errorf("%w: wrong length", ErrInvalidSessionID)
	}
	body, mac := b[:len(b)-macLen], b[len(b)-macLen:]
	if !hmac.Equal(mac, sessionMAC(key, body)) {
		return "", fmt.Errorf("%w: bad signature", ErrInvalidSessionID)
	}
	return string(body[1 : 1+int(b[0])]), nil
}

func sessionMAC(key, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(sessionDomain))
	h.Write(body)
	return h.Sum(nil)[:macLen]
}

// SessionKey returns the session key all nodes of the database share,
// the hex value of meta's 'session_key'. The schema's migration makes
// it; should it be missing, SessionKey makes one, and when nodes race to
// do so the first insert wins and every node reads back the same key.
func SessionKey(ctx context.Context, pool *pgxpool.Pool) ([]byte, error) {
	var fresh [keyBytes]byte
	if _, err := rand.Read(fresh[:]); err != nil {
		return nil, fmt.Errorf("cluster: session key: %w", err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO meta (key, value) VALUES ('session_key', $1) ON CONFLICT (key) DO NOTHING`,
		hex.EncodeToString(fresh[:])); err != nil {
		return nil, fmt.Errorf("cluster: making the session key: %w", err)
	}
	var v string
	if err := pool.QueryRow(ctx, `SELECT value FROM meta WHERE key = 'session_key'`).Scan(&v); err != nil {
		return nil, fmt.Errorf("cluster: reading the session key: %w", err)
	}
	key, err := hex.DecodeString(v)
	if err != nil || len(key) < MinKeyLen {
		return nil, fmt.Errorf("cluster: meta's session_key must be at least %d bytes as hex, it is %d characters", MinKeyLen, len(v))
	}
	return key, nil
}

// checkNodeID reports a node id that cannot be one.
func checkNodeID(id string) error {
	if id == "" || len(id) > MaxNodeIDLen {
		return fmt.Errorf("cluster: node id %q must be 1 to %d bytes", id, MaxNodeIDLen)
	}
	return nil
}
