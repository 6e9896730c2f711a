package actors

import (
	"fmt"
	"runtime/debug"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/models"
)

// modelState is what a model type keeps across restarts of its actor: the
// handler, the subscribed sessions and the event counter. Only the model
// actor's Receive touches subs and seq, one message at a time; pid and
// done are set before the actor gets its first message and read-only
// afterwards.
type modelState struct {
	sys  *System
	name string
	atom bert.Atom
	h    models.Handler
	pid  *actor.PID

	seq  int64
	subs map[string]*actor.PID // by PID.Id

	// done is closed when the actor has stopped for good (not restarted).
	done chan struct{}
}

func newModelState(sys *System, name string, h models.Handler) *modelState {
	return &modelState{
		sys:  sys,
		name: name,
		atom: bert.Atom(name),
		h:    h,
		subs: make(map[string]*actor.PID),
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
	case *actor.Started, *actor.Restarting, *actor.Stopping:
	case *actor.Stopped:
		close(a.m.done)
	case *actor.Terminated:
		// A subscribed session stopped.
		delete(a.m.subs, msg.Who.Id)
	case *modelRequest:
		a.serve(ctx, msg)
	}
}

func (a *modelActor) serve(ctx actor.Context, r *modelRequest) {
	m := a.m
	defer a.recoverRequest(ctx, r)
	switch r.req.Method {
	case methodSubscribe:
		who := r.sender()
		if who == nil {
			a.reply(ctx, r, nil, models.Errorf(models.CodeBadRequest, "subscribe needs a connection"))
			return
		}
		if _, ok := m.subs[who.Id]; !ok {
			m.subs[who.Id] = who
			ctx.Watch(who)
		}
		a.reply(ctx, r, m.seq, nil)
	case methodUnsubscribe:
		if who := r.sender(); who != nil {
			if _, ok := m.subs[who.Id]; ok {
				delete(m.subs, who.Id)
				ctx.Unwatch(who)
			}
		}
		a.reply(ctx, r, m.seq, nil)
	case methodBroadcast:
		seq, err := a.push(ctx, "broadcast", r.req.Props.Term(), r.sender())
		if err != nil {
			a.reply(ctx, r, nil, models.Errorf(models.CodeBadRequest, "the broadcast props cannot be encoded: %v", err))
			return
		}
		a.reply(ctx, r, seq, nil)
	default:
		msg, err := a.call(r)
		if err != nil {
			pub, internal := publicError(m.name, err)
			if internal {
				m.sys.log.Error("actors: model handler failed", "model", m.name, "method", r.req.Method, "id", r.req.ID, "err", err)
			}
			a.reply(ctx, r, nil, pub)
			return
		}
		msg = models.ReplyTerm(msg)
		if ev := eventOf(r.req.Method); ev != "" {
			if _, err := a.push(ctx, ev, msg, nil); err != nil {
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

// call runs the handler with the request's deadline.
func (a *modelActor) call(r *modelRequest) (any, error) {
	m := a.m
	if d := m.sys.cfg.RequestTimeout; d > 0 {
		hctx := newHandlerContext(m.sys.ctx, d)
		defer hctx.release()
		return m.h.Sync(hctx, r.req)
	}
	return m.h.Sync(m.sys.ctx, r.req)
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
	m.sys.log.Error("actors: model handler panicked", "model", m.name, "method", r.req.Method,
		"id", r.req.ID, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	if !r.answered {
		a.reply(ctx, r, nil, models.Errorf(models.CodeInternal, "the %s handler failed; the server log has the details", m.name))
	}
	panic(fmt.Sprintf("model %q panicked serving %s: %v", m.name, r.req.Method, p))
}

// push sends {sync, Event, Model, Props, Seq} to every subscriber but
// except, encoded once, and returns its Seq. Seq counts every event of the
// type, subscribers or not.
func (a *modelActor) push(ctx actor.Context, event bert.Atom, props any, except *actor.PID) (int64, error) {
	m := a.m
	seq := m.seq + 1
	term := bert.Tuple{atomSync, event, m.atom, props, seq}
	data, err := bert.Marshal(term)
	if err != nil {
		return 0, err
	}
	m.seq = seq
	p := &pushMsg{data: data, term: term}
	for id, pid := range m.subs {
		if except != nil && id == except.Id {
			continue
		}
		ctx.Send(pid, p)
	}
	return seq, nil
}

func (a *modelActor) reply(ctx actor.Context, r *modelRequest, msg any, err error) {
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
