package cluster

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestSessionIDRoundTrip(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	for _, node := range []string{"n", "node-1", strings.Repeat("x", MaxNodeIDLen), "ünï/côdé"} {
		id, err := NewSessionID(key, node)
		if err != nil {
			t.Fatalf("NewSessionID(%q): %v", node, err)
		}
		if strings.ContainsAny(id, "=+/;, ") {
			t.Errorf("id %q is not cookie-safe base64url", id)
		}
		got, err := ParseSessionID(key, id)
		if err != nil || got != node {
			t.Errorf("ParseSessionID = %q, %v; want %q", got, err, node)
		}
	}
	a, _ := NewSessionID(key, "n")
	b, _ := NewSessionID(key, "n")
	if a == b {
		t.Error("two ids are equal: no randomness")
	}
}

func TestSessionIDRefused(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	other := bytes.Repeat([]byte{8}, 32)
	id, err := NewSessionID(key, "node-1")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(id)
	forged := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

	cases := map[string]string{
		"empty":       "",
		"not base64":  "!!!!",
		"unsigned":    "AAAAAAAAAAAAAAAAAAAAAA", // a cookie of the single-node gateway
		"truncated":   id[:len(id)-2],
		"extended":    id + "AA",
		"too long":    strings.Repeat("A", 1000),
		"zero length": forged(append([]byte{0}, raw[1:]...)),
	}
	// Every flipped bit, in the node, the random part and the MAC.
	for i := range raw {
		b := bytes.Clone(raw)
		b[i] ^= 1
		cases["bit flipped in byte "+string(rune('A'+i%26))+string(rune('a'+i/26))] = forged(b)
	}
	// Another node's name under the same random part and MAC.
	swapped := bytes.Clone(raw)
	copy(swapped[1:], "node-2")
	cases["node renamed"] = forged(swapped)
	for name, c := range cases {
		if node, err := ParseSessionID(key, c); !errors.Is(err, ErrInvalidSessionID) {
			t.Errorf("%s: ParseSessionID(%q) = %q, %v; want ErrInvalidSessionID", name, c, node, err)
		}
	}
	if _, err := ParseSessionID(other, id); !errors.Is(err, ErrInvalidSessionID) {
		t.Errorf("another key: err = %v, want ErrInvalidSessionID", err)
	}
}

func TestSessionIDArguments(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	if _, err := NewSessionID(key[:MinKeyLen-1], "n"); err == nil {
		t.Error("short key accepted")
	}
	if _, err := NewSessionID(key, ""); err == nil {
		t.Error("empty node accepted")
	}
	if _, err := NewSessionID(key, strings.Repeat("x", MaxNodeIDLen+1)); err == nil {
		t.Error("long node accepted")
	}
}
