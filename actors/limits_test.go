package actors

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/models"
)

// The bounds of issue #8 on the request path: what decoding one message
// may cost, and the size of what the server sends back.

// The bytes that decoding one message, and serving it, may allocate per
// byte of the message limit, whatever the message's shape. Decoding is
// bounded by the codec (at most about 20 bytes a byte: bert's
// TestDecodeMemoryBound) and the props (32 bytes a property of at least 6
// bytes). Serving a create of many small properties, the worst shape,
// takes about 64: the decode, the document's terms (three: the reply
// check, the record, the reply) and four encodings of it (the reply
// check, the record, the push and the reply), each with its buffer's
// growth.
const (
	allocDecodeK = 32 * allocScale
	allocServeK  = 96 * allocScale
)

// Raw wire pieces, to build hostile terms no encoder would make.
var (
	wNil       = []byte{106}
	wEmptyTup  = []byte{104, 0}
	wAtomA     = []byte{100, 0, 1, 'a'}
	wPairAtoms = []byte{104, 2, 100, 0, 1, 'a', 106} // {a, []}
)

func wList(n int) []byte { return binary.BigEndian.AppendUint32([]byte{108}, uint32(n)) }

func wAtom(s string) []byte { return append([]byte{100, 0, byte(len(s))}, s...) }

// wRequest is {sync, Method, m, Props} with props's wire bytes.
func wRequest(method string, props []byte) []byte {
	b := []byte{104, 4}
	b = append(b, wAtom("sync")...)
	b = append(b, wAtom(method)...)
	b = append(b, wAtom("m")...)
	return append(b, props...)
}

// wRepeat is a list of n copies of el.
func wRepeat(el []byte, n int) []byte {
	b := wList(n)
	b = append(b, bytes.Repeat(el, n)...)
	return append(b, wNil...)
}

// wValueList is [{a, [El, El, ...]}], n copies of el.
func wValueList(el []byte, n int) []byte {
	b := append(wList(1), 104, 2)
	b = append(b, wAtomA...)
	b = append(b, wRepeat(el, n)...)
	return append(b, wNil...)
}

// fillTo returns how many elements of elSize bytes a list may hold for
// the request around it to stay within size bytes.
func fillTo(size, overhead, elSize int) int { return (size - overhead - 64) / elSize }

// plain is a whole uncompressed message.
func plain(inner []byte) []byte { return append([]byte{131}, inner...) }

// compressed is inner as a compressed term (tag 80) declaring size bytes
// inflated.
func compressed(t testing.TB, inner []byte, declared int) []byte {
	t.Helper()
	var z bytes.Buffer
	w, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	w.Write(inner)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b := binary.BigEndian.AppendUint32([]byte{131, 80}, uint32(declared))
	return append(b, z.Bytes()...)
}

// hostileMessages are messages of at most limit bytes, or inflating to
// at most limit bytes, shaped to pack the most values into the fewest
// bytes; and the bomb, 16 KB inflating to a 16.7M-element list.
func hostileMessages(t testing.TB, limit int) map[string][]byte {
	props := func(pairs int) []byte { return wRepeat(wPairAtoms, pairs) }
	valueList := wValueList
	n1 := fillTo(limit, 0, 1)
	// [{<<"k00001">>, []}, ...]: a valid create of many keys.
	distinct := func(n int) []byte {
		b := wList(n)
		for i := range n {
			b = append(b, 104, 2, 109, 0, 0, 0, 7)
			b = fmt.Appendf(b, "k%06d", i)
			b = append(b, wNil...)
		}
		return append(b, wNil...)
	}
	msgs := map[string][]byte{
		"proplist of {a, []}":         plain(wRequest("create", props(fillTo(limit, 0, len(wPairAtoms))))),
		"value list of []":            plain(wRequest("create", valueList(wNil, n1))),
		"value list of {}":            plain(wRequest("create", valueList(wEmptyTup, fillTo(limit, 0, 2)))),
		"broadcast of []":             plain(wRequest("broadcast", valueList(wNil, n1))),
		"props list of []":            plain(wRequest("create", wRepeat(wNil, n1))),
		"proplist of distinct keys":   plain(wRequest("create", distinct(fillTo(limit, 0, 15)))),
		"compressed proplist":         nil,
		"compressed value list of []": nil,
		"bomb: 16.7M-element list":    nil,
		"bomb declaring the limit":    nil,
	}
	inner := wRequest("create", props(fillTo(limit, 0, len(wPairAtoms))))
	msgs["compressed proplist"] = compressed(t, inner, len(inner))
	inner = wRequest("create", valueList(wNil, n1))
	msgs["compressed value list of []"] = compressed(t, inner, len(inner))
	bomb := wRequest("create", valueList(wNil, 16_700_000))
	msgs["bomb: 16.7M-element list"] = compressed(t, bomb, len(bomb))
	// A header that lies: it declares the limit, the data inflates to
	// 16 MB.
	msgs["bomb declaring the limit"] = compressed(t, bomb, limit)
	for name, m := range msgs {
		if len(m) > limit {
			t.Fatalf("%s: message of %d bytes, over the limit %d", name, len(m), limit)
		}
	}
	return msgs
}

// allocated returns the bytes the process allocated while fn ran.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Decoding any message within the limit allocates at most allocDecodeK times
// the limit: the inflated size is bounded by the limit too (issue #8: a
// 16 KB compressed term inflated to a 16.7M-element list, 400 MiB).
func TestDecodeMemoryBound(t *testing.T) {
	const limit = 1 << 20
	sys := newTestSystem(t, Config{MaxMessageSize: limit}, map[string]models.Handler{"m": echo})
	a := &sessionActor{s: &Session{sys: sys}}
	for name, msg := range hostileMessages(t, limit) {
		var err error
		n := allocated(func() { _, _, _, err = a.decode(msg) })
		t.Logf("%s: %d bytes in, %d allocated (%.1f per byte of the limit), err %v", name, len(msg), n, float64(n)/limit, err)
		if n > allocDecodeK*limit {
			t.Errorf("%s: decoding allocated %d bytes, want at most %d (%d times the limit)", name, n, allocDecodeK*limit, allocDecodeK)
		}
		if strings.HasPrefix(name, "bomb") && err == nil {
			t.Errorf("%s: decoded, want it refused", name)
		}
	}
}

// newDocsSystem is a system whose every type is the document model, on
// a store in a temporary directory.
func newDocsSystem(t testing.TB, cfg Config) *System {
	t.Helper()
	store, err := models.OpenStore(filepath.Join(t.TempDir(), "bertsync.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	cfg.Documents = models.NewDocuments(store, nil)
	return newTestSystem(t, cfg, nil)
}

// roundTrip delivers data and returns the reply frame, undecoded (so
// that a test measuring the server's allocations does not count its
// own); the pushes before it are returned too.
func roundTrip(t testing.TB, s *Session, tr *fakeTransport, data []byte) (reply Frame, pushes []Frame) {
	t.Helper()
	s.Deliver(Frame{Data: data})
	timeout := time.After(waitLimit)
	for {
		select {
		case fr := <-tr.frames:
			if fr.Reply {
				return fr, pushes
			}
			pushes = append(pushes, fr)
		case <-timeout:
			t.Fatalf("no reply within %v", waitLimit)
		}
	}
}

// Serving any message within the limit, from the frame to the reply and
// the commit of a create, allocates at most allocServeK times the limit, and
// every reply is within the limit.
func TestRequestMemoryBound(t *testing.T) {
	const limit = 1 << 20
	sys := newDocsSystem(t, Config{MaxMessageSize: limit})
	tr := newFakeTransport(16)
	s := sys.NewSession(tr)
	defer s.Close()
	roundTrip(t, s, tr, enc(t, request("read", "m", nil))) // start the model actor
	for name, msg := range hostileMessages(t, limit) {
		var reply Frame
		n := allocated(func() { reply, _ = roundTrip(t, s, tr, msg) })
		var term any
		bert.Unmarshal(reply.Data, &term)
		t.Logf("%s: %d allocated (%.1f per byte of the limit), reply %d bytes %.60s", name, n, float64(n)/limit, len(reply.Data), format(term))
		if n > allocServeK*limit {
			t.Errorf("%s: serving it allocated %d bytes, want at most %d (%d times the limit)", name, n, allocServeK*limit, allocServeK)
		}
		if len(reply.Data) > limit {
			t.Errorf("%s: reply of %d bytes, over the limit", name, len(reply.Data))
		}
	}
}

// A broadcast over the limit is refused to its sender and reaches no
// subscriber (issue #8: it went out as a 16 MiB frame to every one).
func TestBroadcastOverLimitRefused(t *testing.T) {
	const limit = 64 << 10
	sys := newTestSystem(t, Config{MaxMessageSize: limit}, map[string]models.Handler{"m": echo})
	subT, sendT := newFakeTransport(16), newFakeTransport(16)
	sub, sender := sys.NewSession(subT), sys.NewSession(sendT)
	defer sub.Close()
	defer sender.Close()
	send(t, sub, request("subscribe", "m", nil))
	wantOK(t, first(t, subT))

	// Within the limit as a request; BERT-JS floats (31 bytes, against
	// 9 of NEW_FLOAT_EXT) make the push three times larger.
	floats := make([]byte, 0, limit)
	n := (limit - 200) / 9
	floats = append(floats, wList(1)...)
	floats = append(floats, 104, 2)
	floats = append(floats, wAtom("f")...)
	floats = append(floats, wList(n)...)
	for range n {
		floats = binary.BigEndian.AppendUint64(append(floats, 70), 0x3ff8000000000000) // 1.5
	}
	floats = append(floats, 106, 106)
	big := plain(wRequest("broadcast", floats))
	if len(big) > limit {
		t.Fatalf("request of %d bytes", len(big))
	}
	sender.Deliver(Frame{Data: big})
	tup, fr := sendT.next(t)
	if msg := wantError(t, tup, models.CodeTooLarge); !strings.Contains(msg, "exceeds the message limit") {
		t.Errorf("error %q", msg)
	}
	if len(fr.Data) > limit {
		t.Errorf("error reply of %d bytes", len(fr.Data))
	}
	// The next broadcast is the subscriber's next frame, with Seq 1: the
	// refused one was no event.
	send(t, sender, request("broadcast", "m", kv("x", int64(1))))
	wantOK(t, first(t, sendT))
	p, pf := subT.next(t)
	wantPush(t, p, "broadcast", "m", 1)
	if len(pf.Data) > limit {
		t.Errorf("push of %d bytes", len(pf.Data))
	}
}

// first returns the next frame of tr, decoded.
func first(t testing.TB, tr *fakeTransport) bert.Tuple {
	t.Helper()
	tup, _ := tr.next(t)
	return tup
}

// A reply over the limit is a too_large error, never a giant frame.
func TestReplyOverLimit(t *testing.T) {
	const limit = 16 << 10
	huge := models.HandlerFunc(func(_ context.Context, req models.Request) (any, error) {
		if req.Method == models.Update {
			return nil, models.Errorf(models.CodeConflict, "%s", strings.Repeat("é", limit))
		}
		return models.Props{{Key: "blob", Value: make([]byte, 2*limit)}}, nil
	})
	sys := newTestSystem(t, Config{MaxMessageSize: limit}, map[string]models.Handler{"m": huge})
	tr := newFakeTransport(16)
	s := sys.NewSession(tr)
	defer s.Close()

	send(t, s, request("read", "m", kv("id", []byte("1")), int64(7)))
	tup, fr := tr.next(t)
	if msg := wantError(t, tup, models.CodeTooLarge, int64(7)); !strings.Contains(msg, "exceeds the message limit of 16384 bytes") {
		t.Errorf("error %q", msg)
	}
	if len(fr.Data) > limit {
		t.Errorf("reply of %d bytes", len(fr.Data))
	}
	// A handler's error message too long for a reply is cut to fit.
	send(t, s, request("update", "m", kv("id", []byte("1"))))
	tup, fr = tr.next(t)
	wantError(t, tup, models.CodeConflict)
	if len(fr.Data) > limit {
		t.Errorf("error reply of %d bytes", len(fr.Data))
	}
	// The REST and Go path gets the term; its size is the transport's
	// to judge.
	if _, err := sys.Call(context.Background(), models.Request{Method: models.Read, Model: "m", ID: "1"}); err != nil {
		t.Errorf("Call: %v", err)
	}
}

// Handlers learn how large a reply can be: the message limit less the
// reply's envelope and Ref, and for a change less the push's too.
func TestRequestMaxReplySize(t *testing.T) {
	const limit = 64 << 10
	got := make(chan int, 8)
	rec := models.HandlerFunc(func(_ context.Context, req models.Request) (any, error) {
		got <- req.MaxReplySize
		return models.Props{}, nil
	})
	sys := newTestSystem(t, Config{MaxMessageSize: limit}, map[string]models.Handler{"model": rec})
	tr := newFakeTransport(16)
	s := sys.NewSession(tr)
	defer s.Close()

	ref := []byte("a ref of 20 bytes...")
	for _, tt := range []struct {
		req  bert.Tuple
		want int
	}{
		{request("read", "model", nil), limit - replyEnvelope},
		{request("read", "model", nil, ref), limit - replyEnvelope - (5 + len(ref))},
		{request("create", "model", nil), limit - pushEnvelope - len("model")},
	} {
		send(t, s, tt.req)
		first(t, tr)
		if n := <-got; n != tt.want {
			t.Errorf("%s: MaxReplySize %d, want %d", format(tt.req), n, tt.want)
		}
	}
	if _, err := sys.Call(context.Background(), models.Request{Method: models.Read, Model: "model"}); err != nil {
		t.Fatal(err)
	}
	if n := <-got; n != limit-replyEnvelope {
		t.Errorf("Call: MaxReplySize %d, want %d", n, limit-replyEnvelope)
	}
	// The envelopes are what they say.
	data := enc(t, bert.Tuple{atomSync, atomOK, bert.List{}})
	if len(data)-1 != replyEnvelope {
		t.Errorf("{sync, ok, []} is %d bytes, replyEnvelope %d", len(data), replyEnvelope)
	}
	data = enc(t, bert.Tuple{atomSync, bert.Atom("created"), bert.Atom("model"), bert.List{}, int64(1) << 62})
	if len(data)-1 != pushEnvelope+len("model") {
		t.Errorf("a push with [] is %d bytes, pushEnvelope %d", len(data), pushEnvelope)
	}
}

// On the document model over a session: nothing is committed that
// cannot be answered, a collection read is trimmed to the limit, and
// paging with offset until an empty page reads everything.
func TestDocumentsWithinLimit(t *testing.T) {
	const limit = 8 << 10
	sys := newDocsSystem(t, Config{MaxMessageSize: limit})
	tr := newFakeTransport(64)
	s := sys.NewSession(tr)
	defer s.Close()

	// Issue #8: a 300-byte key was committed, and every read of the
	// collection answered internal from then on.
	send(t, s, request("create", "c", bert.List{bert.Tuple{[]byte(strings.Repeat("k", 300)), int64(1)}}))
	wantError(t, first(t, tr), models.CodeBadRequest)
	// A document whose reply would not fit is not committed.
	send(t, s, request("create", "c", kv("id", []byte("big"), "blob", make([]byte, limit))))
	wantError(t, first(t, tr), models.CodeTooLarge)
	send(t, s, request("read", "c", kv("id", []byte("big"))))
	wantError(t, first(t, tr), models.CodeNotFound)

	const n = 20
	for i := range n {
		send(t, s, request("create", "c", kv("i", int64(i), "blob", make([]byte, 1500))))
		wantOK(t, first(t, tr))
	}
	var read int
	for pages := 0; ; pages++ {
		if pages > n {
			t.Fatalf("no empty page after %d pages", pages)
		}
		send(t, s, request("read", "c", kv("offset", int64(read))))
		tup, fr := tr.next(t)
		if len(fr.Data) > limit {
			t.Fatalf("page of %d bytes, over the limit %d", len(fr.Data), limit)
		}
		page := wantOK(t, tup).(bert.List)
		if len(page) == 0 {
			break
		}
		for j, doc := range page {
			if i := prop(t, doc, "i"); i != int64(read+j) {
				t.Fatalf("document %d has i %v", read+j, i)
			}
		}
		read += len(page)
	}
	if read != n {
		t.Errorf("paged read got %d documents, want %d", read, n)
	}
}
