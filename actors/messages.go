package actors

import (
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
