package actors

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/internal/limits"
	"github.com/bertsync/bertsync/models"
)

// Session is the handle of one client connection's session actor, which
// decodes the connection's frames, sends each request to its model actor,
// writes the replies in request order and the pushes of the model types
// the client subscribed to. Its methods are safe for concurrent use and
// never block.
type Session struct {
	sys     *System
	pid     *actor.PID
	t       Transport
	profile bert.Profile
	// caller is who the connection belongs to, and expires when their
	// credentials end (zero: never).
	caller  models.Caller
	expires time.Time

	// inflight counts frames delivered but not answered yet; overflow
	// counts frames rejected since the session actor last looked.
	inflight atomic.Int64
	overflow atomic.Int64
	touched  atomic.Bool
	stopped  atomic.Bool

	// direct is t if it is a [PushSender]; queuedPushes counts the
	// pushes waiting in the actor's mailbox; pushText is the frame type
	// of pushes, the latest delivered frame's; pushFailed is set once a
	// push queued directly failed (sessionpush.go).
	direct       PushSender
	queuedPushes atomic.Int64
	pushText     atomic.Bool
	pushFailed   atomic.Bool

	done   chan struct{}
	reason CloseReason // set before done is closed
}

// SessionOption is an option of [System.NewSession].
type SessionOption func(*Session)

// WithCaller makes c the caller of every request of the session: the
// access rules and the handlers see it (DESIGN §6). When expires is not
// zero the session ends then with [TokenExpired]. Without it the
// session's requests are anonymous.
func WithCaller(c models.Caller, expires time.Time) SessionOption {
	return func(s *Session) { s.caller, s.expires = c, expires }
}

// Caller returns the caller of the session's requests.
func (s *Session) Caller() models.Caller { return s.caller }

// WithProfile makes the session encode what it sends in profile p instead
// of the default BERT-JS profile, for Erlang peers that want the modern
// encoding. Pushes are then encoded once more for this session.
func WithProfile(p bert.Profile) SessionOption {
	return func(s *Session) { s.profile = p }
}

// NewSession starts a session actor for a new connection whose outbound
// side is t. Once the system is shutting down the session is born closed:
// t.Close(ServerShutdown) is called and Done is closed before NewSession
// returns.
func (s *System) NewSession(t Transport, opts ...SessionOption) *Session {
	ss := &Session{sys: s, t: t, done: make(chan struct{})}
	for _, o := range opts {
		o(ss)
	}
	ss.direct, _ = t.(PushSender)
	ss.pushText.Store(true)
	s.mu.RLock()
	closing := s.closing
	s.mu.RUnlock()
	if closing {
		ss.reason = ServerShutdown
		ss.stopped.Store(true)
		t.Close(ServerShutdown)
		close(ss.done)
		return ss
	}
	props := actor.PropsFromProducer(
		func() actor.Actor { return &sessionActor{s: ss, pushText: true} },
		actor.WithGuardian(s.sessionGuardian),
		actor.WithDispatcher(s.dispatcher),
		actor.WithMailbox(ss.mailbox),
	)
	ss.pid = s.as.Root.SpawnPrefix(props, "session/")
	if !s.addSession(ss) {
		// Shutdown began meanwhile and did not see this session.
		s.as.Root.Send(ss.pid, &drainMsg{reason: ServerShutdown})
	}
	return ss
}

// Deliver hands one inbound frame to the session, which takes ownership
// of f.Data: the caller must not change it afterwards. Deliver never
// blocks: when [Config.MaxPendingRequests] frames are already waiting for
// their replies, f is not decoded but answered, in order, with
// {sync, error, {rate_limited, …}}. Frames delivered from one goroutine
// are answered in the order delivered. After the session has stopped,
// Deliver drops f.
func (s *Session) Deliver(f Frame) {
	if s.pid == nil || s.stopped.Load() {
		return
	}
	// While rejections wait to be answered, reject everything, so that no
	// later frame overtakes them.
	for {
		o := s.overflow.Load()
		if o == 0 {
			break
		}
		if s.overflow.CompareAndSwap(o, o+1) {
			return
		}
	}
	if limits.Exceeds(s.inflight.Add(1), int64(s.sys.cfg.MaxPendingRequests)) {
		s.inflight.Add(-1)
		if s.overflow.Add(1) == 1 {
			s.sys.as.Root.Send(s.pid, &overflowMsg{})
		}
		return
	}
	s.pushText.Store(f.Text)
	s.sys.as.Root.Send(s.pid, &inboundMsg{f: f})
}

// Touch tells the session its client is alive although it sent no frame:
// a WebSocket pong, a long-poll or EventSource request. It resets the
// idle clock of [Config.SessionIdleTimeout].
func (s *Session) Touch() {
	if s.pid == nil || s.stopped.Load() || s.touched.Swap(true) {
		return
	}
	s.sys.as.Root.Send(s.pid, &touchMsg{})
}

// Close ends the session because the client went away: replies still in
// flight are dropped, and the session calls [Transport.Close] with
// [ClientClosed]. Closing a stopped session does nothing.
func (s *Session) Close() { s.Stop(ClientClosed) }

// Drain ends the session because the client said goodbye but may still
// read: a WebSocket close frame, which may follow requests in the same
// write (RFC 6455 §5.5.1). It is for a transport that has stopped
// reading: the frames delivered before Drain are answered first, and
// the session then calls [Transport.Close] with [ClientClosed]. A
// request still unanswered after [Config.RequestTimeout] is answered
// with its timeout error; a caller that cannot wait that long calls
// [Session.Close] when it stops waiting.
func (s *Session) Drain() {
	if s.pid == nil || s.stopped.Load() {
		return
	}
	s.sys.as.Root.Send(s.pid, &drainMsg{reason: ClientClosed})
}

// Stop ends the session for reason at once, as Close does for
// [ClientClosed]: replies still in flight are dropped, and the session
// calls [Transport.Close] with reason. A transport's owner uses it to
// end connections without waiting for them (a forced shutdown), since
// only the session closes its transport.
func (s *Session) Stop(reason CloseReason) {
	if s.pid == nil || s.stopped.Load() {
		return
	}
	s.sys.as.Root.Send(s.pid, &closeMsg{reason: reason})
}

// Done returns a channel closed when the session has stopped and called
// [Transport.Close].
func (s *Session) Done() <-chan struct{} { return s.done }

// Reason returns why the session stopped, or 0 while it runs.
func (s *Session) Reason() CloseReason {
	select {
	case <-s.done:
		return s.reason
	default:
		return 0
	}
}

// pending is one request waiting for its turn to be answered.
type pending struct {
	id       uint64
	text     bool // the frame type of the request
	ref      any
	hasRef   bool
	deadline time.Time
	// data is the encoded reply, set when done.
	data []byte
	done bool
	// repeat is how many times data is sent: rejected frames share one
	// entry (rateLimited). fromFrame says the entry holds a slot of
	// Session.inflight.
	repeat      int
	fromFrame   bool
	rateLimited bool
	// subscribe is the model type of a subscribe request; after are the
	// pushes sent right after its reply: its replay, then the live
	// pushes of that type held back while it waited (see holdPush).
	subscribe string
	after     []*pushMsg
	held      int // bytes of after that holdPush added
	obs       requestObs
}

// sessionActor is the only producer of its connection's replies, and of
// its pushes but those its mailbox queues directly (sessionpush.go). It
// keeps the requests of the connection in a queue and answers them from
// its head, so a fast reply waits for the slow ones before it.
type sessionActor struct {
	s      *Session
	nextID uint64
	q      []*pending
	// qbuf backs q while it holds one request, and spare is the entry of
	// the last one answered: a client that waits for each reply before
	// its next request costs the queue no allocation.
	qbuf     [1]*pending
	spare    *pending
	pushText bool // frame type for pushes: the latest inbound one
	// holding counts, by model type, the subscribes waiting in q, whose
	// type's pushes are held back until they are answered; heldBytes is
	// the size of what is held.
	holding   map[string]int
	heldBytes int
	// draining says the session stops for drainReason once q is empty.
	draining    bool
	drainReason CloseReason
	stopping    bool
	models      modelCache

	lastActive time.Time
	idleTimer  *time.Timer
	// expiryTimer ends the session when its caller's credentials end.
	expiryTimer *time.Timer
	reqTimer    *time.Timer
	reqTimerAt  time.Time
	obs         sessionObs
}

func (a *sessionActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.started(ctx)
	case *actor.Stopping, *actor.Restarting:
	case *actor.Stopped:
		a.stopped()
	case *inboundMsg:
		if !a.stopping {
			a.inbound(ctx, msg.f)
		}
	case *modelReply:
		a.replied(ctx, msg)
	case *pushMsg:
		a.push(ctx, msg)
		a.s.queuedPushes.Add(-1) // sent, held or dropped (sessionpush.go)
	case *overflowMsg:
		a.overflowed(ctx)
	case *touchMsg:
		a.s.touched.Store(false)
		a.lastActive = time.Now()
	case *idleCheckMsg:
		a.idleCheck(ctx)
	case *timeoutCheckMsg:
		a.timeoutCheck(ctx)
	case *drainMsg:
		if !a.draining {
			a.draining, a.drainReason = true, msg.reason
		}
		a.flush(ctx)
	case *closeMsg:
		a.stop(ctx, msg.reason)
	}
}

// started arms the idle clock. Sessions keep their own instead of
// protoactor's SetReceiveTimeout: that one races with message processing
// in this protoactor version (asynkron/protoactor-go#1139), and it would
// count replies and pushes as activity, which they are not.
func (a *sessionActor) started(ctx actor.Context) {
	a.lastActive = time.Now()
	a.observeStarted()
	root, self := a.s.sys.as.Root, ctx.Self()
	if d := a.s.sys.cfg.SessionIdleTimeout; d > 0 {
		a.idleTimer = time.AfterFunc(d, func() { root.Send(self, &idleCheckMsg{}) })
	}
	if !a.s.expires.IsZero() {
		a.expiryTimer = time.AfterFunc(time.Until(a.s.expires), func() { root.Send(self, &closeMsg{reason: TokenExpired}) })
	}
}

func (a *sessionActor) idleCheck(ctx actor.Context) {
	if a.stopping {
		return
	}
	d := a.s.sys.cfg.SessionIdleTimeout
	if len(a.q) > 0 {
		// The client waits for replies: it is not idle.
		a.lastActive = time.Now()
	}
	idle := time.Since(a.lastActive)
	if idle >= d {
		a.stop(ctx, IdleTimeout)
		return
	}
	a.idleTimer.Reset(d - idle)
}

func (a *sessionActor) inbound(ctx actor.Context, f Frame) {
	a.lastActive = time.Now()
	a.pushText = f.Text
	e := a.enqueue(f.Text)
	e.fromFrame = true
	if f.Err != nil {
		a.answer(ctx, e, nil, f.Err)
		return
	}
	if max := a.s.sys.cfg.MaxMessageSize; limits.Exceeds(len(f.Data), max) {
		a.answer(ctx, e, nil, models.Errorf(models.CodeTooLarge, "message of %d bytes, the limit is %d", len(f.Data), max))
		return
	}
	req, ref, hasRef, err := a.decode(f.Data)
	e.ref, e.hasRef = ref, hasRef
	if err != nil {
		a.answer(ctx, e, nil, err)
		return
	}
	a.observeRequest(e, req)
	req.Caller = a.s.caller
	if a.draining {
		a.answer(ctx, e, nil, ErrShutdown)
		return
	}
	if req.Method == methodSubscribe {
		e.subscribe = req.Model
		if a.holding == nil {
			a.holding = make(map[string]int)
		}
		a.holding[req.Model]++
	}
	// Should the model actor be gone (only during a forced shutdown), the
	// request is a dead letter and its entry times out; a passivated
	// actor is replaced.
	if err := a.models.send(ctx, a.s.sys, req.Model, &modelRequest{id: e.id, req: req, from: a.s}); err != nil {
		a.answer(ctx, e, nil, err)
		return
	}
	a.armRequestTimer(ctx)
}

// decode reads the request in data. A panic of the codec on hostile input
// (a bug) answers that one request with an internal error instead of
// closing the connection.
//
// The message limit bounds what decoding produces, not only the bytes
// received: a compressed term (tag 80) may inflate to no more than the
// limit either, and the codec allocates a bounded number of bytes per
// byte it decodes (bert's TestDecodeMemoryBound), so decoding one message
// costs at most a small multiple of the limit whatever its shape
// (TestDecodeMemoryBound here). Nesting is bounded by the codec's default
// depth, and a value's by [models.MaxValueDepth].
func (a *sessionActor) decode(data []byte) (req models.Request, ref any, hasRef bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			a.s.sys.log.Error("actors: decoding a request panicked", "panic", fmt.Sprint(p), "frame_bytes", len(data), "stack", string(debug.Stack()))
			err = models.Errorf(models.CodeInternal, "the request could not be decoded; the server log has the details")
		}
	}()
	limit := a.s.sys.cfg.MaxMessageSize
	opts := bert.UnmarshalOptions{Limits: bert.Limits{MaxSize: limit, MaxDecompressed: limit}}
	var term any
	if err := opts.Unmarshal(data, &term); err != nil {
		code := models.CodeBadRequest
		if errors.Is(err, bert.ErrTooLarge) {
			code = models.CodeTooLarge
		}
		return req, nil, false, models.Errorf(code, "not a valid BERT term: %v", err)
	}
	req, ref, hasRef, err = parseRequest(term)
	req.MaxReplySize = replyBudget(limit, a.s.profile, ref, hasRef)
	return req, ref, hasRef, err
}

func (a *sessionActor) enqueue(text bool) *pending {
	a.nextID++
	e := a.spare
	if e != nil {
		a.spare = nil
		*e = pending{id: a.nextID, text: text, repeat: 1}
	} else {
		e = &pending{id: a.nextID, text: text, repeat: 1}
	}
	if d := a.s.sys.cfg.RequestTimeout; d > 0 {
		e.deadline = time.Now().Add(d)
	}
	a.observeArrival(e)
	a.q = append(a.q, e)
	return e
}

// answer sets the reply of e and sends what the queue's head allows.
func (a *sessionActor) answer(ctx actor.Context, e *pending, msg any, err error) {
	e.data = encodeReply(a.s.profile, msg, err, e.ref, e.hasRef, a.s.sys.cfg.MaxMessageSize)
	e.done = true
	a.observeAnswer(e, err)
	a.flush(ctx)
}

func (a *sessionActor) replied(ctx actor.Context, r *modelReply) {
	if a.stopping || len(a.q) == 0 {
		return
	}
	i := r.id - a.q[0].id
	if r.id < a.q[0].id || i >= uint64(len(a.q)) {
		return // answered already (timed out)
	}
	e := a.q[i]
	if e.done {
		return
	}
	if len(r.after) > 0 {
		// The replay goes before what was held since the request left.
		e.after = append(r.after, e.after...)
	}
	a.answer(ctx, e, r.msg, r.err)
}

// flush sends the answered requests at the head of the queue.
func (a *sessionActor) flush(ctx actor.Context) {
	for len(a.q) > 0 && a.q[0].done && !a.stopping {
		e := a.q[0]
		a.q[0] = nil
		a.q = a.q[1:]
		for range e.repeat {
			if !a.send(ctx, Frame{Data: e.data, Text: e.text, Reply: true}) {
				return
			}
		}
		if e.subscribe != "" && !a.releaseHold(ctx, e) {
			return
		}
		if e.fromFrame {
			a.s.inflight.Add(-1)
		}
		*e = pending{} // let the reply go
		a.spare = e
	}
	if len(a.q) == 0 {
		a.q = a.qbuf[:0] // let a grown backing array go
		if a.draining {
			a.stop(ctx, a.drainReason)
		}
		return
	}
	a.armRequestTimer(ctx)
}

// push sends a model actor's push, or holds it back while a subscribe to
// its type waits in the queue.
func (a *sessionActor) push(ctx actor.Context, p *pushMsg) {
	if a.stopping {
		return
	}
	if a.holding[p.model] > 0 {
		a.holdPush(ctx, p)
		return
	}
	a.sendPush(ctx, p)
}

// sendPush sends a push: the bytes encoded once for every subscriber,
// unless this session speaks another profile.
func (a *sessionActor) sendPush(ctx actor.Context, p *pushMsg) bool {
	f := Frame{Data: p.data, Text: a.pushText}
	if a.s.profile != bert.BERTJS {
		term, err := p.tuple()
		var data []byte
		if err == nil {
			data, err = bert.Append(nil, term, a.s.profile)
		}
		if err != nil {
			a.s.sys.log.Warn("actors: push cannot be encoded for this session's profile", "err", err)
			return true
		}
		f = Frame{Data: data, Text: a.pushText}
	}
	sent := a.send(ctx, f)
	a.observePush(sent)
	return sent
}

// holdPush keeps p with the latest subscribe to its type in the queue, to
// go after that subscribe's reply and replay: a client that recovers gets
// the events it missed, then the live ones, each once and in order. What
// is held is bounded by [Config.MaxRecoverySize]; past it the session
// is closed as a slow consumer, as its transport's queue would.
func (a *sessionActor) holdPush(ctx actor.Context, p *pushMsg) {
	if max := a.s.sys.cfg.MaxRecoverySize; limits.Exceeds(a.heldBytes+len(p.data), max) {
		a.s.sys.log.Info("actors: session closed: pushes held behind a subscribe passed the limit",
			"session", ctx.Self().Id, "model", p.model, "held_bytes", a.heldBytes, "limit", max)
		a.stop(ctx, SlowConsumer)
		return
	}
	for i := len(a.q) - 1; i >= 0; i-- {
		if e := a.q[i]; e.subscribe == p.model {
			e.after = append(e.after, p)
			e.held += len(p.data)
			a.heldBytes += len(p.data)
			return
		}
	}
	a.sendPush(ctx, p) // not reached: holding counts the queue's subscribes
}

// releaseHold sends what follows the reply of subscribe e and ends its
// hold; false if the session stopped.
func (a *sessionActor) releaseHold(ctx actor.Context, e *pending) bool {
	if a.holding[e.subscribe]--; a.holding[e.subscribe] <= 0 {
		delete(a.holding, e.subscribe)
		if len(a.holding) == 0 {
			a.holding = nil // an idle session keeps no map
		}
	}
	a.heldBytes -= e.held
	for _, p := range e.after {
		if !a.sendPush(ctx, p) {
			return false
		}
	}
	return true
}

// overflowed answers the frames Deliver rejected, as one queue entry.
func (a *sessionActor) overflowed(ctx actor.Context) {
	n := a.s.overflow.Swap(0)
	if n == 0 || a.stopping {
		return
	}
	if last := len(a.q) - 1; last >= 0 && a.q[last].rateLimited {
		// Still blocked behind the same head: count them in the last
		// entry, so a flood costs no memory.
		a.q[last].repeat += int(n)
		a.observeRejected(int(n))
		return
	}
	e := a.enqueue(a.pushText)
	e.repeat = int(n)
	e.rateLimited = true
	a.answer(ctx, e, nil, models.Errorf(models.CodeRateLimited,
		"too many pending requests (limit %d): wait for replies before sending more", a.s.sys.cfg.MaxPendingRequests))
}

// armRequestTimer makes sure a timer fires at the head's deadline, or
// earlier. A timer that is due earlier is kept: it fires, finds nothing
// late and is set again for the head then. Resetting it to each new
// head's deadline instead would cost a timer-heap update per request;
// this way a busy session's timer fires about once per RequestTimeout.
func (a *sessionActor) armRequestTimer(ctx actor.Context) {
	if len(a.q) == 0 || a.q[0].done || a.q[0].deadline.IsZero() {
		return
	}
	at := a.q[0].deadline
	if a.reqTimer != nil && !a.reqTimerAt.IsZero() && !a.reqTimerAt.After(at) {
		return
	}
	a.reqTimerAt = at
	if a.reqTimer == nil {
		root, self := a.s.sys.as.Root, ctx.Self()
		a.reqTimer = time.AfterFunc(time.Until(at), func() { root.Send(self, &timeoutCheckMsg{}) })
		return
	}
	a.reqTimer.Reset(time.Until(at))
}

// timeoutCheck answers the requests whose deadline passed. Deadlines grow
// along the queue, so it stops at the first one still in time.
func (a *sessionActor) timeoutCheck(ctx actor.Context) {
	if a.stopping {
		return
	}
	now := time.Now()
	d := a.s.sys.cfg.RequestTimeout
	for _, e := range a.q {
		if e.deadline.IsZero() || e.deadline.After(now) {
			break
		}
		if !e.done {
			err := models.Errorf(models.CodeUnavailable, "no reply within %v", d)
			e.data = encodeReply(a.s.profile, nil, err, e.ref, e.hasRef, a.s.sys.cfg.MaxMessageSize)
			e.done = true
			a.observeAnswer(e, err)
		}
	}
	a.reqTimerAt = time.Time{}
	a.flush(ctx)
}

// send hands f to the transport; on failure the session stops.
func (a *sessionActor) send(ctx actor.Context, f Frame) bool {
	err := a.s.t.Send(f)
	if err == nil {
		return true
	}
	reason := TransportError
	if errors.Is(err, ErrSlowConsumer) {
		reason = SlowConsumer
	}
	a.s.sys.log.Info("actors: session send failed", "session", ctx.Self().Id, "reason", reason.String(), "err", err)
	a.stop(ctx, reason)
	return false
}

func (a *sessionActor) stop(ctx actor.Context, reason CloseReason) {
	if a.stopping {
		return
	}
	a.stopping = true
	a.s.reason = reason
	ctx.Stop(ctx.Self())
}

// stopped runs once, whether the session stopped itself or failed.
func (a *sessionActor) stopped() {
	s := a.s
	s.stopped.Store(true)
	if a.idleTimer != nil {
		a.idleTimer.Stop()
	}
	if a.reqTimer != nil {
		a.reqTimer.Stop()
	}
	if a.expiryTimer != nil {
		a.expiryTimer.Stop()
	}
	if s.reason == 0 {
		// Stopped from outside: by a forced shutdown, or by its
		// supervisor after a failure.
		s.reason = InternalError
		if s.sys.isClosing() {
			s.reason = ServerShutdown
		}
	}
	a.observeStopped(s.reason)
	level := slog.LevelDebug
	if s.reason != ClientClosed && s.reason != ServerShutdown {
		level = slog.LevelInfo
	}
	s.sys.log.Log(s.sys.ctx, level, "actors: session closed", "reason", s.reason.String(), "unanswered", len(a.q))
	s.t.Close(s.reason)
	s.sys.removeSession(s)
	close(s.done)
}
