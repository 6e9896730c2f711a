package models

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"time"
)

// The ids the document model gives new documents (DESIGN §6): unguessable,
// so that knowing one document's id tells nothing of another's, and
// time-ordered, so that they sort as they were made. 48 bits of
// milliseconds since 1970 and 96 random bits, in base32hex with lowercase
// letters, whose order is the bytes' order: 29 characters.
const (
	idTimeBytes   = 6
	idRandomBytes = 12
)

var idEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// newDocumentID returns a fresh id made at now.
func newDocumentID(now time.Time) (string, error) {
	var b [8 + idRandomBytes]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli()))
	id := b[8-idTimeBytes:]
	if _, err := rand.Read(id[idTimeBytes:]); err != nil {
		return "", fmt.Errorf("models: document id: %w", err)
	}
	return idEncoding.EncodeToString(id), nil
}
