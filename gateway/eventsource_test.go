package gateway

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// awkwardBytes holds every byte EventSource or UTF-8 could mangle: NUL,
// LF, CR, CRLF, and 0x80..0xFF.
func awkwardBytes(cr bool) []byte {
	b := []byte{0x00, 'a', 0x0A, 0x0A, 'b', 0x00}
	if cr {
		b = append(b, 0x0D, 'c', 0x0D, 0x0A)
	}
	for i := 0x80; i <= 0xFF; i++ {
		b = append(b, byte(i))
	}
	return append(b, 0x0A)
}

// pushSetup subscribes an HTTP client and a binary WebSocket reference
// client to model note and returns a function that creates a note whose
// blob is the given bytes and returns the push bytes the reference
// client got.
func pushSetup(t *testing.T, ts *testServer) (*client, func(blob []byte) []byte) {
	a := ts.httpClient(t)
	a.postTerm(`{sync, subscribe, note, []}`)
	ref := ts.dial(t)
	sendBinary(t, ref, `{sync, subscribe, note, []}`)
	readTerm(t, ref)
	w := ts.dial(t)
	create := func(blob []byte) []byte {
		t.Helper()
		sendBinary(t, w, `{sync, create, note, [{blob, <<`+erlBytes(blob)+`>>}]}`)
		if _, reply := readTerm(t, w); !strings.HasPrefix(reply, "{sync,ok,") {
			t.Fatalf("create: %s", reply)
		}
		mt, push := readWS(t, ref)
		if mt != websocket.BinaryMessage || !bytes.Contains(push, blob) {
			t.Fatalf("reference push: type %d % x", mt, push)
		}
		return push
	}
	return a, create
}

func TestEventSourceBase64(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{})
	a, create := pushSetup(t, ts)
	es, status := a.eventSource("?bertsync=1")
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	for _, cr := range []bool{true, false} {
		want := create(awkwardBytes(cr))
		data, err := es.next()
		if err != nil {
			t.Fatal(err)
		}
		got, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			t.Fatalf("event %q: %v", data, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("event bytes\n% x\nwant\n% x", got, want)
		}
	}
}

func TestEventSourceStockSplitsLines(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{})
	a, create := pushSetup(t, ts)
	es, status := a.eventSource("")
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	want := create(awkwardBytes(false))
	data, err := es.next()
	if err != nil {
		t.Fatal(err)
	}
	// The browser hands onmessage the text; BERT-JS reads it byte per char.
	if got := fromJSBinaryString(t, []byte(data)); !bytes.Equal(got, want) {
		t.Fatalf("event bytes\n% x\nwant\n% x", got, want)
	}
}

func TestEventSourceStockFallsBackOnCR(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{})
	a, create := pushSetup(t, ts)
	es, status := a.eventSource("")
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	first := create(awkwardBytes(false))
	withCR := create(awkwardBytes(true))
	after := create([]byte("after"))

	data, err := es.next()
	if err != nil {
		t.Fatal(err)
	}
	if got := fromJSBinaryString(t, []byte(data)); !bytes.Equal(got, first) {
		t.Fatalf("first event\n% x\nwant\n% x", got, first)
	}
	// The stream ends rather than corrupt the message with the CR.
	if data, err := es.next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after a CR message the stream goes on: %q, %v", data, err)
	}
	// bullet.js reconnects: refused, so it falls back to long-polling.
	if _, status := a.eventSource(""); status != http.StatusNotAcceptable {
		t.Fatalf("stock EventSource after a CR message: %d, want 406", status)
	}
	for i, want := range [][]byte{withCR, after} {
		status, _, body := a.poll()
		if status != http.StatusOK {
			t.Fatalf("poll %d: %d", i, status)
		}
		if got := fromJSBinaryString(t, body); !bytes.Equal(got, want) {
			t.Fatalf("poll %d\n% x\nwant\n% x", i, got, want)
		}
	}
	// Our client's base64 stream is still welcome.
	if _, status := a.eventSource("?bertsync=1"); status != http.StatusOK {
		t.Fatalf("base64 EventSource: %d", status)
	}
}

func TestEventSourceNewSessionAndPost(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{})
	a := ts.httpClient(t)
	// The stream is the first request: it sets the cookie.
	es, status := a.eventSource("?bertsync=1")
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	if len(a.hc.Jar.(*cookieJar).cookies) != 1 {
		t.Fatal("no cookie from the EventSource response")
	}
	// The POST's reply is its response; the broadcast from another
	// client is the stream's.
	if reply := a.postTerm(`{sync, subscribe, chat, []}`); !strings.HasPrefix(reply, "{sync,ok,") {
		t.Fatalf("subscribe: %s", reply)
	}
	b := ts.httpClient(t)
	if reply := b.postTerm(`{sync, broadcast, chat, [{text, <<"hello">>}]}`); !strings.HasPrefix(reply, "{sync,ok,") {
		t.Fatalf("broadcast: %s", reply)
	}
	data, err := es.next()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		t.Fatal(err)
	}
	if push := format(t, raw); !strings.HasPrefix(push, "{sync,broadcast,chat,") || !strings.Contains(push, `<<"hello">>`) {
		t.Fatalf("push %s", push)
	}
}

// Over HTTP/2 a write deadline belongs to the stream: one left armed
// after a flush would reset an idle EventSource stream once it passed.
// The stream must outlive several write timeouts and still get pushes.
func TestEventSourceHTTP2OutlivesWriteTimeouts(t *testing.T) {
	t.Parallel()
	const writeTimeout = 100 * time.Millisecond
	ts := newTLSTestServer(t, Config{WriteTimeout: writeTimeout})
	a := ts.httpClient(t)
	a.postTerm(`{sync, subscribe, note, []}`)
	es, status := a.eventSource("?bertsync=1")
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	if es.resp.ProtoMajor != 2 {
		t.Fatalf("stream over %s, want HTTP/2", es.resp.Proto)
	}
	writer := ts.httpClient(t)
	for round := range 3 {
		// Idle for longer than a write timeout, then a push.
		<-time.After(3 * writeTimeout)
		writer.postTerm(fmt.Sprintf(`{sync, create, note, [{round, %d}]}`, round))
		ev, err := es.next()
		if err != nil {
			t.Fatalf("round %d: the stream failed after %v idle: %v", round, 3*writeTimeout, err)
		}
		data, err := base64.StdEncoding.DecodeString(ev)
		if err != nil {
			t.Fatalf("round %d: event %q: %v", round, ev, err)
		}
		want := fmt.Sprintf("{round,%d}", round)
		if got := format(t, data); !strings.HasPrefix(got, "{sync,created,note,") || !strings.Contains(got, want) {
			t.Fatalf("round %d: push %s, want a created note with %s", round, got, want)
		}
	}
}
