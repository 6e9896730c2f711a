package tests

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"testing"

	"github.com/bertsync/bertsync/bert"
)

// e2eBadInput is one malformed message and the error codes it may get.
type e2eBadInput struct {
	name  string
	raw   []byte   // BERT bytes as sent (mapped to chars on a text connection)
	codes []string // acceptable error codes
}

func e2eBadInputs(t *testing.T) []e2eBadInput {
	enc := func(v any) []byte {
		b, err := bert.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	valid := enc(e2eT{e2eA("sync"), e2eA("create"), e2eA("bad"), e2eProps("name", []byte("truncate me"))})

	var deep []byte
	deep = append(deep, 131)
	for range 100000 {
		deep = append(deep, 104, 1) // {{{{…}}}}
	}
	deep = append(deep, 106)

	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(enc(e2eA("x"))[1:])
	zw.Close()
	zbomb := append([]byte{131, 80, 0xFF, 0xFF, 0xFF, 0xFF}, z.Bytes()...)

	// 64 MiB of zeros compress to ~64 KiB: a decompression bomb that is
	// honest about its size.
	var zb bytes.Buffer
	zw = zlib.NewWriter(&zb)
	big := make([]byte, 64<<20)
	big[0] = 109 // BINARY_EXT
	binary.BigEndian.PutUint32(big[1:], uint32(len(big)-5))
	zw.Write(big)
	zw.Close()
	zhonest := binary.BigEndian.AppendUint32([]byte{131, 80}, uint32(len(big)))
	zhonest = append(zhonest, zb.Bytes()...)

	pid := []byte{131, 88, 100, 0, 13, 'n', 'o', 'n', 'o', 'd', 'e', '@', 'n', 'o', 'h', 'o', 's', 't', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}

	badReq := []string{"bad_request"}
	bomb := []string{"bad_request", "too_large"}
	return []e2eBadInput{
		{"garbage", []byte{1, 2, 3, 4, 5}, badReq},
		{"magic only", []byte{131}, badReq},
		{"empty tuple tag", []byte{131, 104}, badReq},
		{"truncated term", valid[:len(valid)-4], badReq},
		{"trailing bytes", append(append([]byte{}, valid...), 1, 2), badReq},
		{"unknown tag", []byte{131, 200, 0}, badReq},
		{"list claiming 2^32-1 elements", []byte{131, 108, 0xFF, 0xFF, 0xFF, 0xFF}, bomb},
		{"binary claiming 4 GiB", []byte{131, 109, 0xFF, 0xFF, 0xFF, 0xFF, 0}, bomb},
		{"tuple claiming 2^32-1 elements", []byte{131, 105, 0xFF, 0xFF, 0xFF, 0xFF, 97, 1}, bomb},
		{"string claiming 65535 bytes", []byte{131, 107, 0xFF, 0xFF, 'a'}, bomb},
		{"bignum claiming 4 GiB", []byte{131, 111, 0xFF, 0xFF, 0xFF, 0xFF, 0, 1}, bomb},
		{"zlib lying about its size", zbomb, bomb},
		{"zlib bomb of 64 MiB", zhonest, bomb},
		{"100000 nested tuples", deep, bomb},
		{"pid", pid, badReq},
		{"not a sync tuple", enc(e2eT{e2eA("hello"), e2eA("world")}), badReq},
		{"bare atom", enc(e2eA("sync")), badReq},
		{"unknown method", enc(e2eT{e2eA("sync"), e2eA("frobnicate"), e2eA("bad"), e2eL{}}), badReq},
		{"props not a list", enc(e2eT{e2eA("sync"), e2eA("read"), e2eA("bad"), int64(42)}), badReq},
		{"model is a number", enc(e2eT{e2eA("sync"), e2eA("read"), int64(1), e2eL{}}), badReq},
		{"nested form with 2 elements", enc(e2eT{e2eA("sync"), e2eT{e2eA("read"), e2eA("bad")}}), badReq},
		{"sync tuple of 7", enc(e2eT{e2eA("sync"), e2eA("read"), e2eA("bad"), e2eL{}, int64(1), int64(2), int64(3)}), badReq},
	}
}

// TestE2EBadInput sends every malformed message on one connection per
// frame type: each gets {sync, error, {Code, Msg}} with the right code and
// a message, and the connection goes on serving requests.
func TestE2EBadInput(t *testing.T) {
	t.Parallel()
	s := e2eStartServer(t, "")
	inputs := e2eBadInputs(t)
	for _, text := range []bool{false, true} {
		c := e2eDial(t, s.Addr, text)
		for _, in := range inputs {
			c.SendRaw(in.raw)
			r := c.Reply()
			if r.OK {
				t.Fatalf("text=%v %s: got %s, want an error", text, in.name, e2eFmt(r.Term))
			}
			if !e2eOneOf(r.Code, in.codes) {
				t.Errorf("text=%v %s: code %s (%q), want one of %v", text, in.name, r.Code, r.Reason, in.codes)
			}
			if text {
				t.Logf("%-32s → %s %q", in.name, r.Code, r.Reason)
			}
			if r.Reason == "" {
				t.Errorf("text=%v %s: empty error message", text, in.name)
			}
			// The connection lives on.
			got := c.OK(e2eT{e2eA("sync"), e2eA("create"), e2eA("alive"), e2eL{}})
			if _, ok := e2eGet(got, "id"); !ok {
				t.Fatalf("after %s: %s", in.name, e2eFmt(got))
			}
		}

		// An error about a request that could be read carries its Ref.
		r := c.Call(e2eT{e2eA("sync"), e2eA("frobnicate"), e2eA("bad"), e2eL{}, int64(99)})
		if r.OK || r.Code != "bad_request" || r.Ref != int64(99) {
			t.Errorf("text=%v unknown method with ref: %s, want {sync, error, {bad_request, _}, 99}", text, e2eFmt(r.Term))
		}
	}
}

// TestE2EBadTextFrames sends text frames that are not BERT-JS strings.
func TestE2EBadTextFrames(t *testing.T) {
	t.Parallel()
	s := e2eStartServer(t, "")
	c := e2eDial(t, s.Addr, true)
	for _, in := range []struct {
		name string
		text string
	}{
		{"plain text", "hello server"},
		{"code point above U+00FF", "\u0083\u0068\u0100"},
		{"empty", ""},
		{"almost ping", "pingx"},
	} {
		if err := c.ws.WriteMessage(wsText, []byte(in.text)); err != nil {
			t.Fatal(err)
		}
		op, data, err := c.ws.ReadMessage(e2eTimeout)
		if err != nil {
			t.Fatalf("%s: %v", in.name, err)
		}
		m, err := e2eDecodeFrame(op, data)
		if err != nil {
			t.Fatalf("%s: reply %q: %v", in.name, data, err)
		}
		r, ok := e2eParseReply(m)
		if !ok || r.OK || r.Code != "bad_request" {
			t.Fatalf("%s: got %s, want {sync, error, {bad_request, _}}", in.name, e2eFmt(m))
		}
		c.Quiet()
	}
}

// TestE2EUnknownModel: with --models, a type outside the list is not_found
// and the listed ones work.
func TestE2EUnknownModel(t *testing.T) {
	t.Parallel()
	s := e2eStartServer(t, "", "--models", "character,quest")
	c := e2eDial(t, s.Addr, false)
	c.OK(e2eT{e2eA("sync"), e2eA("create"), e2eA("quest"), e2eL{}})
	if code := c.Err(e2eT{e2eA("sync"), e2eA("create"), e2eA("dragon"), e2eL{}}); code != "not_found" {
		t.Fatalf("unknown model: %s, want not_found", code)
	}
	if code := c.Err(e2eT{e2eA("sync"), e2eA("read"), e2eA("dragon"), e2eL{}}); code != "not_found" {
		t.Fatalf("unknown model read: %s, want not_found", code)
	}
	c.OK(e2eT{e2eA("sync"), e2eA("read"), e2eA("character"), e2eL{}})
}

func e2eOneOf(s string, set []string) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}

// TestE2EOversized sends messages over the server's default limit of
// 1 MiB (gateway.DefaultMaxMessageSize) as binary frames, as text frames
// (whose UTF-8 may take two bytes per byte), fragmented and over POST: each
// gets {sync, error, {too_large, _}} and the connection goes on.
func TestE2EOversized(t *testing.T) {
	t.Parallel()
	s := e2eStartServer(t, "")
	const limit = 1 << 20
	big := func(n int, fill byte) []byte {
		b, err := bert.Marshal(e2eT{e2eA("sync"), e2eA("create"), e2eA("huge"), e2eProps("blob", bytes.Repeat([]byte{fill}, n))})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// Just under the limit works, in both frame types.
	for _, text := range []bool{false, true} {
		c := e2eDial(t, s.Addr, text)
		c.SendRaw(big(limit-200, 0xE9))
		if r := c.Reply(); !r.OK {
			t.Fatalf("text=%v: a message just under the limit: %s", text, e2eFmt(r.Term))
		}
		for _, n := range []int{limit + 1, 3 * limit} {
			for _, fill := range []byte{'a', 0xE9} { // one and two UTF-8 bytes per byte as text
				c.SendRaw(big(n, fill))
				r := c.Reply()
				if r.OK || r.Code != "too_large" {
					t.Fatalf("text=%v size %d fill %#x: %s, want too_large", text, n, fill, e2eFmt(r.Term))
				}
				c.Quiet()
			}
		}
		// Fragmented: the limit is on the message, not the frame.
		op, payload := byte(wsBinary), big(2*limit, 'x')
		if text {
			op, payload = wsText, []byte(e2eBytesToChars(payload))
		}
		if err := c.ws.WriteFragmented(op, payload, 64, false); err != nil {
			t.Fatal(err)
		}
		if r := c.Reply(); r.OK || r.Code != "too_large" {
			t.Fatalf("fragmented oversized message: %s", e2eFmt(r.Term))
		}
		c.OK(e2eT{e2eA("sync"), e2eA("read"), e2eA("huge"), e2eL{}})
	}
	h := e2eNewHTTP(t, s)
	if r := h.postBad(big(limit+1, 'a')); r.Code != "too_large" {
		t.Fatalf("POST oversized: %s", e2eFmt(r.Term))
	}
	h.PostOK(e2eT{e2eA("sync"), e2eA("read"), e2eA("huge"), e2eL{}})
}
