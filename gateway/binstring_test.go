package gateway

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"
)

func TestBinaryStringRoundTrip(t *testing.T) {
	t.Parallel()
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	text := appendBinaryString(nil, all)
	if !bytes.Equal(text, jsBinaryString(all)) {
		t.Fatalf("encoding differs from the browser's:\n% x\n% x", text, jsBinaryString(all))
	}
	if binaryStringLen(all) != len(text) {
		t.Fatalf("binaryStringLen %d, want %d", binaryStringLen(all), len(text))
	}
	back, err := decodeBinaryString(text)
	if err != nil || !bytes.Equal(back, all) {
		t.Fatalf("decode: %v\n% x", err, back)
	}
}

func TestBinaryStringErrors(t *testing.T) {
	t.Parallel()
	for _, in := range [][]byte{
		[]byte("\u0083\u0100"),
		[]byte("\u0083\u20ac"),
		{0xC2, 0x83, 0xC3},       // truncated sequence
		{0xC2, 0x83, 0xFF},       // not UTF-8
		{0xC2, 0x83, 0xC0, 0x80}, // overlong NUL
	} {
		if _, err := decodeBinaryString(in); !errors.Is(err, errNotBinaryString) {
			t.Errorf("% x: %v, want errNotBinaryString", in, err)
		}
	}
	if !isBinaryString([]byte("\u0083x")) || isBinaryString([]byte{131}) || isBinaryString([]byte("ping")) {
		t.Error("isBinaryString")
	}
}

func TestEventEncodings(t *testing.T) {
	t.Parallel()
	msg := []byte{131, 0, '\n', 'a', '\n', '\n', 0xFF}
	got, ok := appendEventStock(nil, msg)
	want := "data: \u0083\x00\ndata: a\ndata: \ndata: \u00ff\n\n"
	if !ok || string(got) != want {
		t.Fatalf("stock: %q, want %q", got, want)
	}
	if out, ok := appendEventStock([]byte("x"), []byte{131, '\r'}); ok || string(out) != "x" {
		t.Fatalf("stock with CR: %q %v", out, ok)
	}
	b64 := appendEventBase64(nil, []byte{131, '\r', '\n'})
	if string(b64) != "data: "+base64.StdEncoding.EncodeToString([]byte{131, '\r', '\n'})+"\n\n" {
		t.Fatalf("base64: %q", b64)
	}
}

func TestPushTextsConvertOncePerPush(t *testing.T) {
	var c pushTexts
	a := []byte{131, 100, 0, 1, 0xE9}
	b := append([]byte(nil), a...) // equal bytes, another push
	ta := c.text(a)
	if !bytes.Equal(ta, appendBinaryString(nil, a)) {
		t.Fatalf("text(a) = % x", ta)
	}
	if again := c.text(a); &again[0] != &ta[0] {
		t.Fatal("the same push was converted twice")
	}
	if tb := c.text(b); &tb[0] == &ta[0] {
		t.Fatal("another push with equal bytes shared the first one's conversion")
	}
	// Once more pushes than slots went by, a is converted anew, equal.
	for range pushTextSlots {
		c.text([]byte{131, 97, 1})
	}
	if late := c.text(a); !bytes.Equal(late, ta) || &late[0] == &ta[0] {
		t.Fatal("an evicted push did not convert anew to the same text")
	}
}
