package actors

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/bertsync/bertsync/bert"
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
	// answered is set by the model actor once it replied; staged once it
	// waits for the next commit, which answers it (batch.go).
	answered bool
	staged   bool
}

// modelReply answers a modelRequest: the reply message as a term (see
// models.ReplyTerm), or err. after are the pushes the session sends
// right after the reply: a subscribe's replay.
type modelReply struct {
	id    uint64
	msg   any
	err   error
	after []*pushMsg
}

// pushMsg carries one event of model to a subscribed session. data is the
// push encoded once in the BERT-JS profile for every subscriber; term,
// {sync, Event, Model, Props, Seq}, is kept for sessions that use another
// profile, and is nil for an event replayed from history, which such a
// session decodes from data. All are shared and read-only.
type pushMsg struct {
	model string
	data  []byte
	term  bert.Tuple
}

// tuple returns the push's term, decoding data when p has none.
func (p *pushMsg) tuple() (bert.Tuple, error) {
	if p.term != nil {
		return p.term, nil
	}
	var term any
	if err := bert.Unmarshal(p.data, &term); err != nil {
		return nil, err
	}
	t, ok := term.(bert.Tuple)
	if !ok || len(t) != 5 {
		return nil, fmt.Errorf("actors: a push in history is %s, not {sync, Event, Model, Props, Seq}", bert.KindOf(term))
	}
	return t, nil
}

// event returns the push's event and its props, for the access rules of a
// subscriber; ok is false if the push cannot be read.
func (p *pushMsg) event() (event bert.Atom, attrs models.Props, ok bool) {
	t, err := p.tuple()
	if err != nil {
		return "", nil, false
	}
	event, _ = t[1].(bert.Atom)
	attrs, err = models.FromValue(t[3])
	return event, attrs, err == nil
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
// new and stop for reason (System.Shutdown, Session.Drain).
type drainMsg struct{ reason CloseReason }

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
