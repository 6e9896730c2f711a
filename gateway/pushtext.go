package gateway

import (
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"
)

// pushTexts derives the wire forms of a push once for all its
// subscribers: its text form (the UTF-8 binary string, see binstring.go)
// and its WebSocket frames, binary and text, header and payload ready to
// write. A push reaches every subscriber's transport with the same Data
// array (the [actors.Frame] contract), so the array identifies the push:
// the latest few pushes are kept, keyed by it, and every subscriber of a
// push shares their forms. An entry holds its Data, so the array cannot be
// freed and reused by another push while the entry names it.
//
// The slots are lock-free: the writers of thousands of connections look
// up the same push at once. Two writers that miss together both make an
// entry, which costs time, never correctness; each form of an entry is
// made once, by the first writer that needs it. At most pushTextSlots
// pushes and their forms are retained beyond their queues' lifetime,
// about 6 × pushTextSlots × the largest message.
type pushTexts struct {
	slots [pushTextSlots]atomic.Pointer[pushText]
	next  atomic.Uint32
}

// pushTextSlots is how many recent pushes keep their forms: enough for
// the pushes of several model types to interleave.
const pushTextSlots = 8

// pushText is one push and the forms made of it so far.
type pushText struct {
	data []byte

	textOnce sync.Once
	text     []byte
	// frames are the prepared WebSocket messages, binary [0] and text
	// [1], made once each.
	frameOnce [2]sync.Once
	frames    [2]*websocket.PreparedMessage
	frameErr  [2]error
}

// entry returns the entry of data, a push's BERT bytes.
func (c *pushTexts) entry(data []byte) *pushText {
	for i := range c.slots {
		if e := c.slots[i].Load(); e != nil && len(e.data) == len(data) && &e.data[0] == &data[0] {
			return e
		}
	}
	e := &pushText{data: data}
	c.slots[c.next.Add(1)%pushTextSlots].Store(e)
	return e
}

// text returns data, a push's BERT bytes, as a text frame carries it.
func (c *pushTexts) text(data []byte) []byte {
	if len(data) == 0 {
		return nil
	}
	return c.entry(data).textForm()
}

func (e *pushText) textForm() []byte {
	e.textOnce.Do(func() {
		e.text = appendBinaryString(make([]byte, 0, binaryStringLen(e.data)), e.data)
	})
	return e.text
}

// frame returns data, a push's BERT bytes, as a prepared WebSocket
// message: binary, or text (its UTF-8 binary string). Writing it costs a
// connection no write buffer and no framing of its own.
func (c *pushTexts) frame(data []byte, text bool) (*websocket.PreparedMessage, error) {
	if len(data) == 0 {
		return websocket.NewPreparedMessage(websocket.BinaryMessage, nil)
	}
	e := c.entry(data)
	i, mt := 0, websocket.BinaryMessage
	if text {
		i, mt = 1, websocket.TextMessage
	}
	e.frameOnce[i].Do(func() {
		payload := e.data
		if text {
			payload = e.textForm()
		}
		e.frames[i], e.frameErr[i] = websocket.NewPreparedMessage(mt, payload)
	})
	return e.frames[i], e.frameErr[i]
}
