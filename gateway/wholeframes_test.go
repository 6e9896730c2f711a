package gateway

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bertsync/bertsync/actors"
	"github.com/bertsync/bertsync/internal/wstest"
	"github.com/bertsync/bertsync/models"
)

// clientFrame is one frame as a client sends it: masked, with the
// shortest length encoding unless long is set.
func clientFrame(opcode byte, final bool, payload []byte, long bool) []byte {
	f := wstest.Frame{Opcode: opcode, Fin: final, Payload: payload, Mask: [4]byte{0x12, 0x34, 0x56, 0x78}, LongLength: long}
	return f.Append(nil)
}

func TestWholeMessages(t *testing.T) {
	text := clientFrame(websocket.TextMessage, true, []byte("ping"), false)
	bin := clientFrame(websocket.BinaryMessage, true, make([]byte, 300), false)
	ping := clientFrame(websocket.PingMessage, true, []byte("p"), false)
	cases := []struct {
		name     string
		p        []byte
		messages int
		whole    bool
	}{
		{"one text message", text, 1, true},
		{"a 16-bit length", bin, 1, true},
		{"a 64-bit length", clientFrame(websocket.BinaryMessage, true, []byte("x"), true), 1, true},
		{"three messages and a ping", slices.Concat(text, ping, bin, text), 3, true},
		{"a ping alone", ping, 0, true},
		{"a header cut short", text[:1], 0, false},
		{"a 16-bit length cut short", bin[:3], 0, false},
		{"a 64-bit length cut short", clientFrame(websocket.BinaryMessage, true, nil, true)[:9], 0, false},
		{"a mask cut short", text[:4], 0, false},
		{"a payload cut short", bin[:len(bin)-1], 0, false},
		{"a message then part of one", slices.Concat(text, bin[:10]), 0, false},
		{"a first fragment", clientFrame(websocket.TextMessage, false, []byte("pi"), false), 0, false},
		{"a continuation", clientFrame(0, true, []byte("ng"), false), 0, false},
		{"a length past any buffer", append([]byte{0x82, 0x80 | 127, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, make([]byte, 8)...), 0, false},
	}
	for _, tc := range cases {
		messages, whole := wholeMessages(tc.p)
		if messages != tc.messages || whole != tc.whole {
			t.Errorf("%s: %d messages, whole %v; want %d, %v", tc.name, messages, whole, tc.messages, tc.whole)
		}
	}
}

// TestWebsocketFramesInOneWrite sends runs of frames in one write each,
// which the reader reads inside its wait on the socket when they are
// whole messages, and through gorilla otherwise: every message is
// answered, in order, and the connection goes on.
func TestWebsocketFramesInOneWrite(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{})
	c := ts.dial(t)
	raw := c.UnderlyingConn()
	create := func(id string, ref int) []byte {
		return clientFrame(websocket.BinaryMessage, true, encode(t, `{sync, create, doc, [{id, <<"`+id+`">>}], `+itoa(ref)+`}`), false)
	}
	pingText := clientFrame(websocket.TextMessage, true, []byte("ping"), false)
	steps := []struct {
		name  string
		write []byte
		want  []string // each reply: "pong", or how a {sync, ok, …} ends
	}{
		// The gateway answers "ping" itself, ahead of the replies
		// queued after it is read.
		{"three messages", slices.Concat(pingText, create("a", 1), create("b", 2)), []string{"pong", ",1}", ",2}"}},
		{"a ping frame between messages", slices.Concat(create("c", 3), clientFrame(websocket.PingMessage, true, []byte("hi"), false), create("d", 4)), []string{",3}", ",4}"}},
		{"a ping frame after the last message", slices.Concat(create("e", 5), clientFrame(websocket.PingMessage, true, nil, false)), []string{",5}"}},
		{"a message after that", create("f", 6), []string{",6}"}},
		{"a message in two fragments", slices.Concat(clientFrame(websocket.TextMessage, false, []byte("pi"), false), clientFrame(0, true, []byte("ng"), false)), []string{"pong"}},
		// Counted short (see wsNetConn): read on outside the wait.
		{"a 64-bit length", clientFrame(websocket.TextMessage, true, []byte("ping"), true), []string{"pong"}},
		{"a message and part of the next", slices.Concat(create("g", 7), create("h", 8)[:5]), []string{",7}"}},
		{"the rest of it", create("h", 8)[5:], []string{",8}"}},
	}
	for _, st := range steps {
		raw.SetWriteDeadline(time.Now().Add(waitLimit))
		if _, err := raw.Write(st.write); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		for _, want := range st.want {
			c.SetReadDeadline(time.Now().Add(waitLimit))
			_, data, err := c.ReadMessage()
			if err != nil {
				t.Fatalf("%s: waiting for %s: %v", st.name, want, err)
			}
			if want == "pong" {
				if string(data) != "pong" {
					t.Fatalf("%s: got %q, want pong", st.name, data)
				}
				continue
			}
			reply := format(t, data)
			if !strings.HasPrefix(reply, "{sync,ok,") || !strings.HasSuffix(reply, want) {
				t.Fatalf("%s: got %s, want {sync, ok, …} ending %s", st.name, reply, want)
			}
		}
	}
	// A close frame right after a message, in one write: the reply comes
	// before the server's close frame.
	raw.Write(slices.Concat(create("i", 9), clientFrame(websocket.CloseMessage, true, []byte{0x03, 0xe8}, false)))
	c.SetReadDeadline(time.Now().Add(waitLimit))
	_, data, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("before the close: %v, want the reply to the message", err)
	}
	if reply := format(t, data); !strings.HasSuffix(reply, ",9}") {
		t.Fatalf("before the close: got %s, want the reply to the message", reply)
	}
	_, _, err = c.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("after the close frame: %v, want close 1000", err)
	}
}

// After the client's close frame, a reply that does not come holds the
// connection for closeGracePeriod at most: then the server closes.
func TestWebsocketCloseWaitsForRepliesBounded(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	defer close(release)
	reg := models.NewRegistry()
	stuck := models.HandlerFunc(func(ctx context.Context, _ models.Request) (any, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, ctx.Err()
	})
	if err := reg.Register("stuck", stuck); err != nil {
		t.Fatal(err)
	}
	ts := newTestServerActors(t, Config{}, actors.Config{Registry: reg})
	c := ts.dial(t)
	c.SetWriteDeadline(time.Now().Add(waitLimit))
	if err := c.WriteMessage(websocket.BinaryMessage, encode(t, `{sync, read, stuck, []}`)); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(waitLimit)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(closeGracePeriod + waitLimit))
	_, data, err := c.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("after the close frame, with a reply stuck: %q, %v; want close 1000", data, err)
	}
}
