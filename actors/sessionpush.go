package actors

import (
	"errors"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/bertsync/bertsync/bert"
)

// A push usually reaches its session's transport without a turn of the
// session actor: the session's mailbox takes a *pushMsg as the model
// actor posts it and queues it on the transport itself, on the model
// actor's goroutine, when nothing the session has yet to send could be
// overtaken. A fan-out to thousands of idle subscribers then costs each
// one a queue append instead of a mailbox run.
//
// The guarantees stay those of a push that goes through the session
// actor (docs/protocol.md, "Order"):
//
//   - Replies keep their order: they all go through the session actor.
//   - A push never overtakes a reply of a request the session has
//     received: a push is queued directly only while no frame of the
//     client waits for its reply (Session.inflight is zero), so there is
//     no reply, no subscribe waiting for its turn and no replay it could
//     pass.
//   - Pushes keep their order: a push is queued directly only while no
//     earlier push waits in the mailbox (Session.queuedPushes), and the
//     model actor that sends them is one goroutine.
//   - A session in another profile than BERT-JS, or whose transport is no
//     [PushSender], gets every push through its actor, which encodes it
//     anew or serializes the transport's calls.

// PushSender is a [Transport] whose Send may also be called from other
// goroutines than the session actor's, concurrently with itself, with
// Send and with Close. A session whose transport implements it may queue
// pushes on it from the model actors' goroutines (SendPush). SendPush
// follows Send's contract otherwise: it never blocks, and wraps
// [ErrSlowConsumer] when the queue is full.
type PushSender interface {
	Transport
	SendPush(f Frame) error
}

// sessionMailbox is the mailbox of a session actor: protoactor's
// unbounded mailbox, in front of which pushes may go to the transport
// directly (see above).
type sessionMailbox struct {
	actor.Mailbox
	s *Session
}

// mailbox makes the session actor's mailbox.
func (s *Session) mailbox() actor.Mailbox {
	return &sessionMailbox{Mailbox: actor.Unbounded()(), s: s}
}

// PostUserMessage runs on the goroutine of whoever sends to the session:
// for a push, the model actor's.
func (m *sessionMailbox) PostUserMessage(msg any) {
	if p, ok := msg.(*pushMsg); ok {
		if m.s.pushDirect(p) {
			return
		}
		m.s.queuedPushes.Add(1) // until the actor has handled it
	}
	m.Mailbox.PostUserMessage(msg)
}

// pushDirect queues p on the transport if that keeps the order of what
// the session sends, and reports whether it did (or dropped p because the
// session is over).
func (s *Session) pushDirect(p *pushMsg) bool {
	if s.direct == nil || s.profile != bert.BERTJS || s.inflight.Load() != 0 || s.queuedPushes.Load() != 0 {
		return false
	}
	if s.stopped.Load() || s.pushFailed.Load() {
		return true // the session is over: as the actor would, drop p
	}
	err := s.direct.SendPush(Frame{Data: p.data, Text: s.pushText.Load()})
	if err == nil {
		s.sys.cfg.Metrics.PushSent()
		return true
	}
	s.sys.cfg.Metrics.PushDropped()
	if !s.pushFailed.CompareAndSwap(false, true) {
		return true
	}
	// As a failed send through the actor: the session ends, for the
	// reason the transport gives.
	reason := TransportError
	if errors.Is(err, ErrSlowConsumer) {
		reason = SlowConsumer
	}
	s.sys.log.Info("actors: session push failed", "session", s.pid.Id, "reason", reason.String(), "err", err)
	s.Stop(reason)
	return true
}
