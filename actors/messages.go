package actors

import (
	"sync"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/bertsync/bertsync/models"
)

// The messages between the actors of this package and from its handles
// (Session, System) to them. They are pointers to small structs so that a
// mailbox holds one word per message.

// The methods the model actor serves itself; they never reach a handler.
const (
	methodSubscribe   models.Method = "subscribe"
	methodUnsubscribe models.Method = "unsubscribe"
	methodBroadcast   models.Method = "broadcast"
)

// modelRequest asks a model actor to run one request. A session sets from
// and the model actor answers its actor with a *modelReply carrying id;
// System.Call sets reply instead. (A plain Send with from, rather than
// protoactor's Request and Respond, spares each round trip the envelope
// Request wraps its message in.)
type modelRequest struct {
	id  uint64
	req models.Request
	// from is the requesting session (nil for System.Call).
	from  *Session
	reply chan<- *modelReply
	// answered is set by the model actor once it replied.
	answered bool
}

// modelReply answers a modelRequest: the reply message as a term (see
// models.ReplyTerm), or err.
type modelReply struct {
	id  uint64
	msg any
	err error
}

// pushMsg carries one event to a subscribed session. data is the push
// encoded once in the BERT-JS profile for every subscriber; term is kept
// for sessions that use another profile. Both are shared and read-only.
type pushMsg struct {
	data []byte
	term any

	// text is data as a text frame carries it, made once, by the first
	// session that pushes in a text frame.
	textOnce sync.Once
	text     []byte
}

// frame is the push as a frame of the given type, in the BERT-JS profile.
func (p *pushMsg) frame(text bool) Frame {
	if !text {
		return Frame{Data: p.data}
	}
	p.textOnce.Do(func() { p.text = binaryString(p.data) })
	return Frame{Data: p.data, Text: true, TextWire: p.text}
}

// binaryString is data as a BERT-JS binary string in UTF-8: each byte
// becomes the character of its value, one byte below 0x80, two from 0x80
// up (docs/bullet.md).
func binaryString(data []byte) []byte {
	n := len(data)
	for _, b := range data {
		if b >= 0x80 {
			n++
		}
	}
	out := make([]byte, 0, n)
	for _, b := range data {
		if b < 0x80 {
			out = append(out, b)
		} else {
			out = append(out, 0xC0|b>>6, 0x80|b&0x3F)
		}
	}
	return out
}

// inboundMsg carries a frame from Session.Deliver to the session actor.
type inboundMsg struct{ f Frame }

// overflowMsg tells the session actor that Session.Deliver rejected
// frames (their number is in Session.overflow); at most one is in flight.
type overflowMsg struct{}

// touchMsg records a sign of life from the client (Session.Touch).
type touchMsg struct{}

// closeMsg asks the session actor to stop (Session.Close).
type closeMsg struct{ reason CloseReason }

// drainMsg asks the session actor to answer what it has, accept nothing
// new and stop (System.Shutdown).
type drainMsg struct{}

// idleCheckMsg and timeoutCheckMsg come from the session's timers.
type (
	idleCheckMsg    struct{}
	timeoutCheckMsg struct{}
)

// Replies and pushes to a session that already stopped are expected (the
// client went away while a request was in flight): keep them out of the
// dead-letter log. Timer messages do not reset anything in protoactor,
// since sessions keep their own idle clock.
func (*modelReply) IgnoreDeadLetterLogging()      {}
func (*pushMsg) IgnoreDeadLetterLogging()         {}
func (*idleCheckMsg) IgnoreDeadLetterLogging()    {}
func (*timeoutCheckMsg) IgnoreDeadLetterLogging() {}
func (*inboundMsg) IgnoreDeadLetterLogging()      {}
func (*touchMsg) IgnoreDeadLetterLogging()        {}
func (*overflowMsg) IgnoreDeadLetterLogging()     {}
func (*closeMsg) IgnoreDeadLetterLogging()        {}

var (
	_ actor.IgnoreDeadLetterLogging = (*modelReply)(nil)
	_ actor.IgnoreDeadLetterLogging = (*pushMsg)(nil)
)
