package actors

import (
	"errors"
	"fmt"
)

// Frame is one message of a connection: a whole BERT term as raw bytes.
//
// Text says the frame came, or goes, as a text message of the client's
// choosing rather than a binary one; how a transport carries it is the
// transport's business. The session never looks at the bytes' form; it
// only remembers which kind the client used, so that a reply goes back as
// the kind of frame its request came in.
type Frame struct {
	// Data is the BERT term, starting with the magic byte 131. A push is
	// encoded once for all its subscribers: every session hands its
	// transport the same Data array for it (unless the session speaks
	// another profile), so a transport may derive its wire form once per
	// push, keyed by the array. Transports must not modify Data.
	Data []byte
	// Text is true for a text frame and false for a binary frame.
	Text bool
	// Reply is set by the session on an outbound frame that answers a
	// delivered frame (false for a push). Each delivered frame gets
	// exactly one reply, in delivery order, so a transport can route the
	// n-th reply to the n-th request (the POST transport answers each
	// POST with its own reply this way).
	Reply bool
	// Err, on an inbound frame, says the gateway could not read the
	// message (too large, not BERT text); Data is then ignored and the
	// session answers {sync, error, {Code, Message}} for Err, in order
	// with the other replies, so that a client matching replies by order
	// stays in step.
	Err error
}

// Transport is the outbound half of one client connection, as a session
// sees it. Each transport of the gateway (WebSocket, EventSource,
// long-poll) implements it.
//
// The session actor is the only caller of Send and Close, from one
// goroutine at a time, so implementations need no lock between the two;
// they do need one against their own writer goroutine. Neither may wait
// for the session (calling its methods is fine: they never block).
type Transport interface {
	// Send queues f for the client and returns at once: it never blocks
	// on the network. An error means the frame cannot be delivered, the
	// consumer being gone or too slow (its bounded queue is full); the
	// session then stops and calls Close. Wrap [ErrSlowConsumer] for a
	// full queue so the close reason says so.
	Send(f Frame) error
	// Close ends the connection. The session calls it exactly once, when
	// it stops, whatever the reason, including [ClientClosed] (the
	// transport reported the client gone): it must be safe to call after
	// the connection is already closed.
	Close(reason CloseReason)
}

// ErrSlowConsumer is the error a [Transport] wraps when its outbound queue
// is full: the client does not read fast enough.
var ErrSlowConsumer = errors.New("actors: slow consumer: outbound queue full")

// ErrTransportClosed is the error a [Transport] may wrap when the
// connection is already gone.
var ErrTransportClosed = errors.New("actors: transport closed")

// CloseReason says why a session ended, like nats' ClosedState.
type CloseReason int

// The reasons a session ends.
const (
	// ClientClosed: the transport called [Session.Close]; the client went
	// away or its connection failed on read.
	ClientClosed CloseReason = iota + 1
	// SlowConsumer: [Transport.Send] failed with [ErrSlowConsumer].
	SlowConsumer
	// TransportError: [Transport.Send] failed with another error.
	TransportError
	// IdleTimeout: nothing came from the client, neither a frame
	// ([Session.Deliver]) nor a sign of life ([Session.Touch]), for
	// [Config.SessionIdleTimeout].
	IdleTimeout
	// ServerShutdown: [System.Shutdown] stopped the session after its
	// pending requests were answered.
	ServerShutdown
	// InternalError: the session actor itself failed (a bug); the
	// connection is closed rather than left in an unknown state.
	InternalError
	// TokenExpired: the credentials the session was opened with
	// ([WithCaller]) expired; the client must reconnect with new ones.
	TokenExpired
	// StreamGap: events of a subscribed type were lost before this node
	// could deliver them (another node's, pruned from history first); the
	// client must resubscribe, and recovers or reloads (DESIGN §5).
	StreamGap
)

var closeReasonNames = [...]string{
	ClientClosed:   "client closed",
	SlowConsumer:   "slow consumer",
	TransportError: "transport error",
	IdleTimeout:    "idle timeout",
	ServerShutdown: "server shutdown",
	InternalError:  "internal error",
	TokenExpired:   "token expired",
	StreamGap:      "stream gap",
}

// String returns the reason in words, such as "slow consumer".
func (r CloseReason) String() string {
	if r > 0 && int(r) < len(closeReasonNames) {
		return closeReasonNames[r]
	}
	return fmt.Sprintf("CloseReason(%d)", int(r))
}
