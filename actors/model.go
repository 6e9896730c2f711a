package actors

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/internal/limits"
	"github.com/bertsync/bertsync/models"
)

// modelState is what a model type keeps across restarts of its actor: the
// handler, the subscribed sessions and the event counter. Only the model
// actor's Receive touches subs and seq, one message at a time; pid and
// done are set before the actor gets its first message and read-only
// afterwards. A passivated type's modelState is dropped; the next actor
// of the type gets a new one (passivation.go).
type modelState struct {
	sys  *System
	name string
	atom bert.Atom
	h    models.Handler
	pid  *actor.PID

	seq  int64
	subs map[string]subscriber // by PID.Id

	// done is closed when the actor has stopped for good (not restarted).
	done chan struct{}

	passivation
}

func newModelState(sys *System, name string, h models.Handler) *modelState {
	return &modelState{
		sys:  sys,
		name: name,
		atom: bert.Atom(name),
		h:    h,
		subs: make(map[string]subscriber),
		done: make(chan struct{}),
	}
}

// modelActor serves one model type: it runs the handler one request at a
// time, as an Erlang process would, serves subscribe, unsubscribe and
// broadcast itself, and pushes every change to the subscribers. A new
// instance is made on each restart; the state lives in m.
type modelActor struct{ m *modelState }

func (a *modelActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.started(ctx)
	case *actor.Restarting, *actor.Stopping:
	case *actor.Stopped:
		a.stopped()
	case *actor.Terminated:
		// A subscribed session stopped.
		delete(a.m.subs, msg.Who.Id)
		a.m.nsubs.Store(int32(len(a.m.subs)))
	case *modelRequest:
		a.handle(ctx, msg)
	case *modelIdleMsg:
		a.idleCheck()
	}
}

func (a *modelActor) serve(ctx actor.Context, r *modelRequest) {
	m := a.m
	defer a.recoverRequest(ctx, r)
	if err := a.authorize(r.req); err != nil {
		a.reply(ctx, r, nil, err)
		return
	}
	own := a.ownershipOf(r.req)
	switch r.req.Method {
	case models.Subscribe:
		who := r.sender()
		if who == nil {
			a.reply(ctx, r, nil, models.Errorf(models.CodeBadRequest, "subscribe needs a connection"))
			return
		}
		sub := subscriber{pid: who}
		if own.only {
			sub.owner = &own
		}
		if _, ok := m.subs[who.Id]; !ok {
			ctx.Watch(who)
		}
		m.subs[who.Id] = sub
		m.nsubs.Store(int32(len(m.subs)))
		a.reply(ctx, r, m.seq, nil)
	case models.Unsubscribe:
		if who := r.sender(); who != nil {
			if _, ok := m.subs[who.Id]; ok {
				delete(m.subs, who.Id)
				ctx.Unwatch(who)
			}
		}
		a.reply(ctx, r, m.seq, nil)
	case models.Broadcast:
		// Who sent it is the server's to say: an anonymous caller's
		// broadcast has no from, so that none can be forged.
		props := r.req.Props.Delete(fromProp)
		if !r.req.Caller.Anonymous() {
			props = props.Set(fromProp, []byte(r.req.Caller.Subject))
		}
		// A broadcast over the message limit is refused to its sender,
		// not pushed to every subscriber.
		seq, err := a.push(ctx, "broadcast", props.Term(), r.sender(), m.sys.cfg.MaxMessageSize)
		if err != nil {
			if models.CodeOf(err) != models.CodeTooLarge {
				err = models.Errorf(models.CodeBadRequest, "the broadcast props cannot be encoded: %v", err)
			}
			a.reply(ctx, r, nil, err)
			return
		}
		a.reply(ctx, r, seq, nil)
	default:
		r.req.MaxReplySize = a.replyBudget(r.req)
		if err := a.prepare(r, own); err != nil {
			a.reply(ctx, r, nil, err)
			return
		}
		msg, err := a.call(r)
		if err == nil {
			msg = models.ReplyTerm(msg)
			msg, err = a.filterReply(r.req, own, msg)
		}
		if err != nil {
			pub, internal := publicError(m.name, err)
			if internal {
				m.sys.log.Error("actors: model handler failed", "model", m.name, "method", r.req.Method, "id", r.req.ID, "err", err)
			}
			a.reply(ctx, r, nil, pub)
			return
		}
		if ev := eventOf(r.req.Method); ev != "" {
			// No size check: MaxReplySize kept the change's push within
			// the limit (for the document model; a Go handler's
			// oversized change is answered too_large by the session).
			if _, err := a.push(ctx, ev, msg, nil, -1); err != nil {
				// The change is made but its attributes cannot be sent:
				// say so rather than acknowledge what no one can read.
				m.sys.log.Error("actors: reply cannot be encoded", "model", m.name, "method", r.req.Method, "err", err)
				a.reply(ctx, r, nil, models.Errorf(models.CodeInternal, "the %s handler's reply cannot be encoded: %v", m.name, err))
				return
			}
		}
		a.reply(ctx, r, msg, nil)
	}
}

// replyBudget returns the [models.Request.MaxReplySize] of req: the
// session's, which counts the Ref, or for [System.Call] the message limit
// less a reply's envelope; for a change, no more than its push carries
// either, so that the document model commits nothing it could not push.
func (a *modelActor) replyBudget(req models.Request) int {
	limit := a.m.sys.cfg.MaxMessageSize
	if !limits.Set(limit) {
		return -1
	}
	n := req.MaxReplySize
	if n == 0 {
		n = replyBudget(limit, bert.BERTJS, nil, false)
	}
	if eventOf(req.Method) != "" {
		n = min(n, max(limit-pushEnvelope-len(a.m.name), 1))
	}
	return n
}

// call runs the handler with the request's deadline.
func (a *modelActor) call(r *modelRequest) (msg any, err error) {
	err = a.withHandlerContext(func(ctx context.Context) (err error) {
		msg, err = a.m.h.Sync(ctx, r.req)
		return err
	})
	return msg, err
}

// recoverRequest handles a panic while serving r, the handler's or ours:
// r is answered with an internal error unless it was already, and the
// panic goes on to the supervisor, which restarts the actor; the messages
// behind r wait in the mailbox.
func (a *modelActor) recoverRequest(ctx actor.Context, r *modelRequest) {
	p := recover()
	if p == nil {
		return
	}
	m := a.m
	// Before the reply ends the reservation: an actor that just failed
	// is not passivated (passivation.go).
	m.failedAt.Store(m.sys.now().UnixNano())
	m.sys.log.Error("actors: model handler panicked", "model", m.name, "method", r.req.Method,
		"id", r.req.ID, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	if !r.answered {
		a.reply(ctx, r, nil, models.Errorf(models.CodeInternal, "the %s handler failed; the server log has the details", m.name))
	}
	panic(fmt.Sprintf("model %q panicked serving %s: %v", m.name, r.req.Method, p))
}

// push sends {sync, Event, Model, Props, Seq} to every subscriber but
// except, encoded once, and returns its Seq. Seq counts every event of the
// type, subscribers or not. A push over limit bytes (not positive: no
// limit) is not an event: push returns a too_large error.
func (a *modelActor) push(ctx actor.Context, event bert.Atom, props any, except *actor.PID, limit int) (int64, error) {
	m := a.m
	seq := m.seq + 1
	term := bert.Tuple{atomSync, event, m.atom, props, seq}
	data, err := bert.Marshal(term)
	if err != nil {
		return 0, err
	}
	if limits.Exceeds(len(data), limit) {
		return 0, models.Errorf(models.CodeTooLarge, "%s of %d bytes exceeds the message limit of %d bytes", event, len(data), limit)
	}
	m.seq = seq
	p := &pushMsg{data: data, term: term}
	var attrs models.Props // of the event, parsed for the first owner-only subscriber
	parsed := false
	for id, sub := range m.subs {
		if except != nil && id == except.Id {
			continue
		}
		if sub.owner != nil {
			if !parsed {
				attrs, _ = models.FromValue(props)
				parsed = true
			}
			if !sub.hears(event, attrs) {
				continue
			}
		}
		ctx.Send(sub.pid, p)
	}
	return seq, nil
}

// subscriber is one subscribed session. Where the subscribe rule is
// "owner" it hears only the events of its caller's documents, and the
// broadcasts of its caller.
type subscriber struct {
	pid *actor.PID
	// owner is nil for a subscriber that hears every event.
	owner *ownership
}

// hears reports whether an owner-only subscriber gets an event whose
// props are attrs.
func (s subscriber) hears(event bert.Atom, attrs models.Props) bool {
	if event == "broadcast" {
		from, ok := attrs.Text(fromProp)
		return ok && from == s.owner.subject
	}
	return s.owner.owns(attrs)
}

// fromProp is the property of a broadcast that names its sender, which
// the server sets for an authenticated caller (DESIGN §6).
const fromProp = "from"

func (a *modelActor) reply(ctx actor.Context, r *modelRequest, msg any, err error) {
	if !r.answered {
		// Before the reply leaves, so that a client that has it finds
		// the actor idle (passivation.go).
		a.m.release()
	}
	r.answered = true
	rep := &modelReply{id: r.id, msg: msg, err: err}
	if r.reply != nil {
		r.reply <- rep // buffered: never blocks
		return
	}
	ctx.Send(r.from.pid, rep)
}

// sender is the actor of the requesting session, or nil for System.Call.
func (r *modelRequest) sender() *actor.PID {
	if r.from == nil {
		return nil
	}
	return r.from.pid
}

// eventOf returns the push event of a method that changes the model, or
// "".
func eventOf(m models.Method) bert.Atom {
	switch m {
	case models.Create:
		return "created"
	case models.Update, models.Patch:
		return "updated"
	case models.Delete:
		return "deleted"
	}
	return ""
}
