package main

import (
	"bytes"
	"fmt"

	"github.com/gorilla/websocket"
)

// protocol adapts the load client to one server: everything the client
// does that differs between the two. The rest (dialing, timing, counting)
// is the same code for both.
type protocol interface {
	// path is the WebSocket endpoint with its query.
	path() string
	// subscribe makes c a subscriber of the bench's channel and waits
	// until the server confirmed it.
	subscribe(c *websocket.Conn) error
	// join prepares c, the publisher, to publish.
	join(c *websocket.Conn) error
	// publish sends round r's message (its payload is payload) and waits
	// for the server's acknowledgement.
	publish(c *websocket.Conn, r int, payload []byte) error
	// answer is what a subscriber sends back on receiving msg (a pong to
	// an application ping), or nil.
	answer(msg []byte) []byte
	// overhead is the size of a push less its payload: the payload of a
	// push of n bytes is n - overhead bytes.
	overhead() int
}

// protocols are the adapters by server name.
var protocols = map[string]protocol{
	"bertsync":   bertsyncProtocol{},
	"centrifuge": centrifugeProtocol{},
}

// The payload of round r is roundMark, r in roundDigits decimal digits,
// ':' and padding up to the push size. Both servers carry it verbatim
// (a BERT binary, a JSON string), so one scan finds the round in a push of
// either, and a frame that batches several pushes has several marks.
var roundMark = []byte("rnd:")

const roundDigits = 6

// minPayload is the smallest payload: the mark and the round.
const minPayload = 4 + roundDigits + 1

// payload returns round r's payload of n bytes (at least minPayload).
func payload(r, n int) []byte {
	b := fmt.Appendf(make([]byte, 0, max(n, minPayload)), "rnd:%0*d:", roundDigits, r)
	for len(b) < n {
		b = append(b, 'x')
	}
	return b
}

// eachRound calls fn with the round of every payload in msg.
func eachRound(msg []byte, fn func(r int)) {
	for {
		i := bytes.Index(msg, roundMark)
		if i < 0 || len(msg) < i+minPayload {
			return
		}
		r := 0
		for _, d := range msg[i+len(roundMark) : i+len(roundMark)+roundDigits] {
			if d < '0' || d > '9' {
				r = -1
				break
			}
			r = r*10 + int(d-'0')
		}
		if r >= 0 {
			fn(r)
		}
		msg = msg[i+minPayload:]
	}
}
