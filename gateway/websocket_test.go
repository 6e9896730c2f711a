package gateway

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bertsync/bertsync/actors"
	"github.com/bertsync/bertsync/bert"
)

func TestWebsocketBinaryAndTextFrames(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{})
	c := ts.dial(t)

	sendBinary(t, c, `{sync, create, doc, [{id, <<"a">>}, {title, <<"binary">>}], 1}`)
	mt, reply := readTerm(t, c)
	if mt != websocket.BinaryMessage || !strings.HasPrefix(reply, "{sync,ok,") || !strings.Contains(reply, `<<"binary">>`) || !strings.HasSuffix(reply, ",1}") {
		t.Fatalf("binary request: frame type %d, reply %s", mt, reply)
	}
	// A BERT-JS text frame: the reply comes back as text.
	sendText(t, c, `{sync, read, doc, [{id, "a"}], 2}`)
	mt, reply = readTerm(t, c)
	if mt != websocket.TextMessage || !strings.Contains(reply, `<<"binary">>`) || !strings.HasSuffix(reply, ",2}") {
		t.Fatalf("text request: frame type %d, reply %s", mt, reply)
	}
	// The second seed's nested form.
	sendBinary(t, c, `{sync, {read, doc, [{id, <<"a">>}]}}`)
	if mt, reply = readTerm(t, c); mt != websocket.BinaryMessage || !strings.HasPrefix(reply, "{sync,ok,") {
		t.Fatalf("nested request: frame type %d, reply %s", mt, reply)
	}
}

func TestWebsocketTextFrameBytes(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{})
	c := ts.dial(t)
	// Every byte value in a binary, sent and read back as text frames.
	var all bytes.Buffer
	for i := range 256 {
		all.WriteByte(byte(i))
	}
	blob := all.Bytes()
	sendText(t, c, `{sync, create, doc, [{id, <<"bytes">>}, {blob, <<`+erlBytes(blob)+`>>}]}`)
	mt, data := readWS(t, c)
	if mt != websocket.TextMessage {
		t.Fatalf("frame type %d", mt)
	}
	raw := fromJSBinaryString(t, data)
	if !bytes.Contains(raw, blob) {
		t.Fatalf("reply does not hold the 256 bytes: % x", raw)
	}
}

// erlBytes writes b as the comma-separated byte list of a binary literal.
func erlBytes(b []byte) string {
	var sb strings.Builder
	for i, c := range b {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(itoa(int(c)))
	}
	return sb.String()
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestWebsocketPingPong(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{})
	c := ts.dial(t)
	if err := c.WriteMessage(websocket.TextMessage, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	if mt, data := readWS(t, c); mt != websocket.TextMessage || string(data) != "pong" {
		t.Fatalf("got %d %q, want text pong", mt, data)
	}
}

func TestWebsocketServerPings(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{PingInterval: 20 * time.Millisecond, PongTimeout: time.Minute})
	c := ts.dial(t)
	pinged := make(chan struct{}, 1)
	c.SetPingHandler(func(string) error {
		select {
		case pinged <- struct{}{}:
		default:
		}
		return nil
	})
	// Reading runs the ping handler; no message comes.
	go func() {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}()
	select {
	case <-pinged:
	case <-time.After(waitLimit):
		t.Fatal("no ping from the server")
	}
}

func TestWebsocketBadInput(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{})
	c := ts.dial(t)
	cases := []struct {
		name string
		mt   int
		data []byte
		want string
	}{
		{"plain text", websocket.TextMessage, []byte("hello"), "{sync,error,{bad_request,"},
		{"char above U+00FF", websocket.TextMessage, []byte("\u0083h\u0100"), "{sync,error,{bad_request,"},
		{"garbage binary", websocket.BinaryMessage, []byte{1, 2, 3}, "{sync,error,{bad_request,"},
		{"truncated term", websocket.BinaryMessage, encode(t, `{sync, read, doc, []}`)[:9], "{sync,error,{bad_request,"},
		{"length bomb", websocket.BinaryMessage, []byte{131, 109, 0xFF, 0xFF, 0xFF, 0xFF, 1}, "{sync,error,{"},
		{"unknown method", websocket.BinaryMessage, encode(t, `{sync, fly, doc, []}`), "{sync,error,{bad_request,"},
	}
	for _, tc := range cases {
		if err := c.WriteMessage(tc.mt, tc.data); err != nil {
			t.Fatal(err)
		}
		mt, reply := readTerm(t, c)
		t.Logf("%s: %s", tc.name, reply)
		if mt != tc.mt || !strings.HasPrefix(reply, tc.want) {
			t.Errorf("%s: got frame type %d %s, want type %d %s…", tc.name, mt, reply, tc.mt, tc.want)
		}
	}
	// The connection lives on.
	sendBinary(t, c, `{sync, create, doc, [{title, <<"still here">>}]}`)
	if _, reply := readTerm(t, c); !strings.HasPrefix(reply, "{sync,ok,") {
		t.Fatalf("after bad input: %s", reply)
	}
}

func TestWebsocketTooLarge(t *testing.T) {
	t.Parallel()
	ts := newTestServerActors(t, Config{}, actors.Config{MaxMessageSize: 1000})
	c := ts.dial(t)
	big := encode(t, `{sync, create, doc, [{blob, <<`+erlBytes(bytes.Repeat([]byte{0xE9}, 1500))+`>>}], big}`)

	// Replies stay in request order around the oversized frames.
	sendBinary(t, c, `{sync, create, doc, [{n, 1}], first}`)
	if err := c.WriteMessage(websocket.BinaryMessage, big); err != nil {
		t.Fatal(err)
	}
	// As text: 1,500 bytes of 0xE9 are 3,000 bytes of UTF-8.
	if err := c.WriteMessage(websocket.TextMessage, jsBinaryString(big)); err != nil {
		t.Fatal(err)
	}
	// Far beyond the wire limit, read and discarded.
	if err := c.WriteMessage(websocket.BinaryMessage, bytes.Repeat([]byte{131}, 30000)); err != nil {
		t.Fatal(err)
	}
	sendBinary(t, c, `{sync, create, doc, [{n, 2}], last}`)

	want := []struct {
		mt     int
		prefix string
		suffix string
	}{
		{websocket.BinaryMessage, "{sync,ok,", ",first}"},
		{websocket.BinaryMessage, "{sync,error,{too_large,", "}"},
		{websocket.TextMessage, "{sync,error,{too_large,", "}"},
		{websocket.BinaryMessage, "{sync,error,{too_large,", "}"},
		{websocket.BinaryMessage, "{sync,ok,", ",last}"},
	}
	for i, w := range want {
		mt, reply := readTerm(t, c)
		if mt != w.mt || !strings.HasPrefix(reply, w.prefix) || !strings.HasSuffix(reply, w.suffix) {
			t.Fatalf("reply %d: frame type %d %s, want type %d %s…%s", i, mt, reply, w.mt, w.prefix, w.suffix)
		}
	}
}

func TestWebsocketHugeFrameCloses(t *testing.T) {
	t.Parallel()
	ts := newTestServerActors(t, Config{}, actors.Config{MaxMessageSize: 100})
	c := ts.dial(t)
	// Beyond discardFactor times the wire limit: the server stops reading.
	if err := c.WriteMessage(websocket.BinaryMessage, make([]byte, discardFactor*200+1)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(waitLimit))
	_, _, err := c.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Fatalf("got %v, want close 1009", err)
	}
}

func TestWebsocketOrigin(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{AllowedOrigins: []string{"https://app.example.com", "other.example.org:8443"}})
	host := strings.TrimPrefix(ts.URL, "http://")
	cases := []struct {
		origin string
		ok     bool
	}{
		{"", true},
		{"http://" + host, true},
		{"https://app.example.com", true},
		{"http://other.example.org:8443", true},
		{"https://evil.example.com", false},
		{"http://app.example.com", false},
		{"null", false},
	}
	for _, tc := range cases {
		h := http.Header{}
		if tc.origin != "" {
			h.Set("Origin", tc.origin)
		}
		c, resp, err := websocket.DefaultDialer.Dial(ts.wsURL(), h)
		if tc.ok {
			if err != nil {
				t.Errorf("origin %q: %v", tc.origin, err)
				continue
			}
			c.Close()
			continue
		}
		if err == nil {
			c.Close()
			t.Errorf("origin %q accepted", tc.origin)
			continue
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("origin %q: %v, want 403", tc.origin, err)
		}
	}

	// Any origin with "*".
	ts2 := newTestServer(t, Config{AllowedOrigins: []string{"*"}})
	h := http.Header{"Origin": {"https://evil.example.com"}}
	c, _, err := websocket.DefaultDialer.Dial(ts2.wsURL(), h)
	if err != nil {
		t.Fatalf("with *: %v", err)
	}
	c.Close()
}

func TestWebsocketPushAcrossConnections(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{})
	sub, writer := ts.dial(t), ts.dial(t)
	sendText(t, sub, `{sync, subscribe, note, []}`)
	if _, reply := readTerm(t, sub); !strings.HasPrefix(reply, "{sync,ok,") {
		t.Fatalf("subscribe: %s", reply)
	}
	sendBinary(t, writer, `{sync, create, note, [{id, <<"n1">>}, {text, <<"hi">>}]}`)
	if _, reply := readTerm(t, writer); !strings.HasPrefix(reply, "{sync,ok,") {
		t.Fatalf("create: %s", reply)
	}
	// The push comes in the subscriber's latest frame type: text.
	mt, push := readTerm(t, sub)
	if mt != websocket.TextMessage || !strings.HasPrefix(push, "{sync,created,note,") || !strings.Contains(push, `<<"hi">>`) {
		t.Fatalf("push: frame type %d %s", mt, push)
	}
}

func TestWebsocketCloseOnShutdown(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{})
	c := ts.dial(t)
	sendBinary(t, c, `{sync, create, doc, []}`)
	readTerm(t, c)
	errc := make(chan error, 1)
	go func() { errc <- ts.gw.Shutdown(t.Context()) }()
	ts.sysDown = true
	if err := ts.sys.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(waitLimit))
	_, _, err := c.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("got %v, want close 1001", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("gateway shutdown: %v", err)
	}
	// New requests are refused.
	resp, err := http.Get(ts.bulletURL())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("after shutdown: %d, want 503", resp.StatusCode)
	}
}

// A subscriber that reads nothing is cut off when its queue passes either
// bound, in messages or in bytes, and the sender goes on.
func TestWebsocketSlowConsumerCut(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		cfg  Config
	}{
		{"messages", Config{MaxQueue: 4}},
		// No bound in messages: only the bytes can cut it.
		{"bytes", Config{MaxQueue: -1, MaxQueueSize: 256 << 10}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			testSlowConsumerCut(t, tt.cfg)
		})
	}
}

func testSlowConsumerCut(t *testing.T, cfg Config) {
	cfg.MaxMessageRate = -1 // the sender sends as fast as it can
	ts := newTestServer(t, cfg)
	sub := ts.dial(t)
	sendBinary(t, sub, `{sync, subscribe, big, []}`)
	readTerm(t, sub)
	var subConn *wsConn
	ts.gw.mu.Lock()
	for c := range ts.gw.conns {
		subConn = c
	}
	ts.gw.mu.Unlock()
	sender := ts.dial(t)
	// The subscriber reads nothing more. Broadcasts of 64 KiB soon fill
	// the socket buffers, then its queue.
	msg, err := bert.Marshal(bert.Tuple{bert.Atom("sync"), bert.Atom("broadcast"), bert.Atom("big"),
		bert.List{bert.Tuple{bert.Atom("blob"), make([]byte, 64<<10)}}})
	if err != nil {
		t.Fatal(err)
	}
	cut := false
	for i := 0; i < 2000 && !cut; i++ {
		if err := sender.WriteMessage(websocket.BinaryMessage, msg); err != nil {
			t.Fatal(err)
		}
		if _, reply := readTerm(t, sender); !strings.HasPrefix(reply, "{sync,ok,") {
			t.Fatalf("broadcast: %s", reply)
		}
		select {
		case <-subConn.closing:
			cut = true
		default:
		}
	}
	if !cut {
		t.Fatal("the subscriber that does not read was never cut off")
	}
	if subConn.reason != actors.SlowConsumer {
		t.Fatalf("subscriber closed as %v", subConn.reason)
	}
	// Reading now, the subscriber gets part of what was written, then the
	// end: 1008 if the close frame fit in the socket buffer, else a
	// dropped connection; never a timeout.
	sub.SetReadDeadline(time.Now().Add(waitLimit))
	for {
		_, _, err := sub.ReadMessage()
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("subscriber still connected: %v", err)
		}
		t.Logf("subscriber: %v", err)
		break
	}
	// The sender was never slowed down for good.
	sendBinary(t, sender, `{sync, create, doc, []}`)
	if _, reply := readTerm(t, sender); !strings.HasPrefix(reply, "{sync,ok,") {
		t.Fatalf("sender after the cut: %s", reply)
	}
}
