package actors

import (
	"math/big"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/models"
)

// fuzzLimit is the message limit of FuzzRequestPath: small, so that the
// fuzzer's inputs reach it, and compressed ones pass it, often.
const fuzzLimit = 64 << 10

// fuzzSlack is what serving one message may allocate besides
// allocServeK bytes a byte of the limit, whatever its size: the actor
// messages, a bbolt transaction, the error texts.
const fuzzSlack = 1 << 20

// fuzzSeeds are real requests of every method and form, as BERT-JS,
// Erlang and our client send them, and the hostile ones of issue #8.
func fuzzSeeds(t testing.TB) [][]byte {
	big1 := new(big.Int).Lsh(big.NewInt(1), 100)
	terms := []any{
		request("create", "todo", kv("title", []byte("milk"), "done", false)),
		request("create", "todo", kv("id", []byte("7"), "n", int64(1), "f", 1.5), int64(1)),
		request("read", "todo", kv("id", []byte("7"))),
		request("read", "todo", nil),
		request("read", "todo", kv("limit", int64(2), "offset", int64(1)), []byte("ref")),
		request("update", "todo", kv("id", bert.ByteList("7"), "title", bert.ByteList("eggs"))),
		request("patch", "todo", kv("id", int64(7), "big", big1)),
		request("delete", "todo", kv("id", []byte("7"))),
		request("subscribe", "todo", nil),
		request("subscribe", "todo", kv("since", int64(0), "epoch", []byte("x"))),
		request("unsubscribe", "todo", nil),
		request("broadcast", "todo", kv("cursor", bert.Tuple{int64(1), int64(2)})),
		bert.Tuple{bert.Atom("sync"), bert.Tuple{bert.Atom("read"), bert.Atom("todo"), bert.List{}}},
		bert.Tuple{bert.Atom("sync"), bert.Atom("create"), []byte("todo"), bert.Dict{{Key: bert.Atom("a"), Value: bert.Map{{Key: int64(1), Value: nil}}}}},
		request("create", "todo", bert.List{bert.Tuple{[]byte(strings.Repeat("k", 300)), int64(1)}}),
		request("read", "todo", kv("id", bignum(4096))),
		request("create", "todo", kv("v", bignum(4096))),
		request("frobnicate", "todo", nil),
		bert.Tuple{bert.Atom("sync")},
		bert.List{},
	}
	seeds := make([][]byte, 0, len(terms)+8)
	for _, term := range terms {
		seeds = append(seeds, enc(t, term))
	}
	for _, inner := range [][]byte{
		wRequest("create", wRepeat(wPairAtoms, 3)),
		// Inflating past the limit: refused, or before issue #8 a
		// reply and a push three times the limit.
		wRequest("create", wValueList(wNil, 3*fuzzLimit)),
		wRequest("broadcast", wValueList(wNil, 3*fuzzLimit)),
		wRequest("create", wValueList(wNil, fuzzLimit-100)),
	} {
		seeds = append(seeds, compressed(t, inner, len(inner)))
	}
	seeds = append(seeds,
		plain(wRequest("create", wRepeat(wNil, 1000))),
		[]byte{131},
		[]byte{131, 108, 0xff, 0xff, 0xff, 0xff},
		[]byte("ping"),
	)
	return seeds
}

// bignum returns a positive integer of n bytes.
func bignum(n int) *big.Int {
	b := make([]byte, n)
	for i := range b {
		b[i] = 0xff
	}
	return new(big.Int).SetBytes(b)
}

// FuzzRequestPath drives the whole request path, bytes in and reply out,
// on the document model over a real store: every message gets exactly
// one reply, no reply is over the message limit, and serving a message
// allocates at most allocServeK times the limit (plus fuzzSlack).
//
//	go test -run='^$' -fuzz=FuzzRequestPath -fuzztime=30s ./actors/
func FuzzRequestPath(f *testing.F) {
	sys := newDocsSystem(f, Config{MaxMessageSize: fuzzLimit})
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	var marks atomic.Int64
	f.Fuzz(func(t *testing.T, data []byte) {
		tr := newFakeTransport(256)
		s := sys.NewSession(tr)
		defer func() {
			s.Close()
			<-s.Done()
		}()
		in := append([]byte(nil), data...) // the session owns what it gets
		var reply Frame
		n := allocated(func() { reply, _ = roundTrip(t, s, tr, in) })
		checkReply(t, reply)
		if n > allocServeK*fuzzLimit+fuzzSlack {
			t.Errorf("serving a message of %d bytes allocated %d bytes, want at most %d", len(data), n, allocServeK*fuzzLimit+fuzzSlack)
		}
		// Exactly one reply: the next one answers the next request.
		mark := marks.Add(1)
		next, _ := roundTrip(t, s, tr, enc(t, request("read", "marker", kv("id", []byte("x")), mark)))
		term := checkReply(t, next)
		if ref := term[len(term)-1]; len(term) != 4 || ref != mark {
			t.Fatalf("the reply after the message's is %s, want the marker's, Ref %d: the message got more than one reply", format(term), mark)
		}
	})
}

// replyCodes are the codes of an error reply (DESIGN §2).
var replyCodes = []models.Code{
	models.CodeBadRequest, models.CodeNotFound, models.CodeConflict, models.CodeUnauthorized, models.CodeForbidden,
	models.CodeTooLarge, models.CodeRateLimited, models.CodeUnavailable, models.CodeInternal,
}

// checkReply checks that a reply frame is within the limit and is
// {sync, ok | error, _[, Ref]}, and returns it decoded.
func checkReply(t *testing.T, fr Frame) bert.Tuple {
	t.Helper()
	if len(fr.Data) > fuzzLimit {
		t.Fatalf("reply of %d bytes, over the limit %d", len(fr.Data), fuzzLimit)
	}
	var term any
	if err := bert.Unmarshal(fr.Data, &term); err != nil {
		t.Fatalf("reply does not decode: %v", err)
	}
	tup, ok := term.(bert.Tuple)
	if !ok || (len(tup) != 3 && len(tup) != 4) || tup[0] != atomSync || (tup[1] != atomOK && tup[1] != atomError) {
		t.Fatalf("reply %.200s, want {sync, ok | error, Msg[, Ref]}", format(term))
	}
	if tup[1] == atomError {
		reason, ok := tup[2].(bert.Tuple)
		if !ok || len(reason) != 2 {
			t.Fatalf("error reply %.200s, want {Code, Message}", format(term))
		}
		code, _ := reason[0].(bert.Atom)
		if _, text := reason[1].([]byte); !text || !slices.Contains(replyCodes, models.Code(code)) {
			t.Fatalf("error reply %.200s, want {Code, Message} with a code of docs/protocol.md", format(term))
		}
	}
	return tup
}
