package main

import (
	"bytes"
	"fmt"
	"time"

	"github.com/gorilla/websocket"
)

// centrifugeProtocol speaks centrifuge's client protocol (version 2) in
// JSON text frames, its default: a connect command, then a subscribe or
// publish command; a publication reaches each subscriber as
// {"push":{"channel":…,"pub":{"data":…}}}. Replies carry the command's id.
// The server pings with an empty object, which the client answers with
// one.
type centrifugeProtocol struct{}

// centrifugeChannel is the channel the bench subscribes to.
const centrifugeChannel = "fan"

func (centrifugeProtocol) path() string { return "/connection/websocket" }

func (p centrifugeProtocol) subscribe(c *websocket.Conn) error {
	if err := p.join(c); err != nil {
		return err
	}
	return centrifugeCall(c, 2, fmt.Appendf(nil, `{"id":2,"subscribe":{"channel":%q}}`, centrifugeChannel))
}

func (centrifugeProtocol) join(c *websocket.Conn) error {
	return centrifugeCall(c, 1, []byte(`{"id":1,"connect":{"name":"bench"}}`))
}

func (centrifugeProtocol) publish(c *websocket.Conn, r int, payload []byte) error {
	id := 10 + r
	return centrifugeCall(c, id, fmt.Appendf(nil, `{"id":%d,"publish":{"channel":%q,"data":{"p":%q}}}`, id, centrifugeChannel, payload))
}

// centrifugePing is the server's ping and the client's pong.
var centrifugePing = []byte("{}")

func (centrifugeProtocol) answer(msg []byte) []byte {
	for line := range bytes.SplitSeq(msg, []byte("\n")) {
		if bytes.Equal(line, centrifugePing) {
			return centrifugePing
		}
	}
	return nil
}

func (centrifugeProtocol) overhead() int {
	return len(fmt.Sprintf(`{"push":{"channel":%q,"pub":{"data":{"p":""}}}}`, centrifugeChannel))
}

// centrifugeCall sends cmd and waits for the reply with id, which must not
// be an error. Replies may share a frame, one per line.
func centrifugeCall(c *websocket.Conn, id int, cmd []byte) error {
	c.SetWriteDeadline(time.Now().Add(dialTimeout))
	if err := c.WriteMessage(websocket.TextMessage, cmd); err != nil {
		return err
	}
	want := fmt.Appendf(nil, `{"id":%d,`, id)
	c.SetReadDeadline(time.Now().Add(dialTimeout))
	defer c.SetReadDeadline(time.Time{})
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			return err
		}
		for line := range bytes.SplitSeq(msg, []byte("\n")) {
			switch {
			case bytes.Equal(line, centrifugePing):
				c.WriteMessage(websocket.TextMessage, centrifugePing)
			case !bytes.HasPrefix(line, want):
			case bytes.Contains(line, []byte(`"error":`)):
				return fmt.Errorf("centrifuge: %s", line)
			default:
				return nil
			}
		}
	}
}
