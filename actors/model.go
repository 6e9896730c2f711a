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
// handler, the subscribed sessions and the changes staged for the next
// commit. Only the model actor's Receive touches subs and pending, one
// message at a time; pid and done are set before the actor gets its first
// message and read-only afterwards. A passivated type's modelState is
// dropped; the next actor of the type gets a new one (passivation.go).
// The type's stream (Seq, epoch, history) is in the event log.
type modelState struct {
	sys  *System
	name string
	atom bert.Atom
	h    models.Handler
	pid  *actor.PID

	subs map[string]subscriber // by PID.Id
	// pending holds the changes and broadcasts waiting for the next
	// commit (batch.go); mailbox is the actor's, set at its spawn.
	pending []*staged
	mailbox actor.Mailbox
	// inflight are the batches handed to the event log and not answered
	// yet, in order; deferred the requests waiting for them (batch.go).
	inflight []*inflightCommit
	deferred []*modelRequest

	// order is the delivery order of the type's events when other nodes
	// write its stream too (crossnode.go); nil otherwise.
	order *streamOrder

	// done is closed when the actor has stopped for good (not restarted).
	done chan struct{}

	passivation
}

func newModelState(sys *System, name string, h models.Handler) *modelState {
	m := &modelState{
		sys:  sys,
		name: name,
		atom: bert.Atom(name),
		h:    h,
		subs: make(map[string]subscriber),
		done: make(chan struct{}),
	}
	if isShared(sys.cfg.Log) {
		m.order = &streamOrder{}
	}
	return m
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
	case *actor.Restarting:
	case *actor.Stopping:
		// What was staged is answered before the actor goes.
		a.settle(ctx)
	case *actor.Stopped:
		a.stopped()
	case *actor.Terminated:
		// A subscribed session stopped.
		delete(a.m.subs, msg.Who.Id)
		a.m.nsubs.Store(int32(len(a.m.subs)))
	case *modelRequest:
		if len(a.m.deferred) > 0 {
			// Behind requests that wait for a commit: in line.
			msg.staged = true
			a.m.deferred = append(a.m.deferred, msg)
			break
		}
		a.handle(ctx, msg)
	case *committedMsg:
		a.committed(ctx)
	case *modelIdleMsg:
		a.flush(ctx)
		a.idleCheck()
	case *remoteEventsMsg:
		a.remoteEvents(ctx, msg.events)
	case *gapCheckMsg:
		a.gapCheck(ctx, msg.next)
	case *streamLostMsg:
		a.streamLost(ctx, msg.through)
	}
	a.flushIfDone(ctx)
}

// serve serves one request. A change or a broadcast is staged for the
// next commit (batch.go); anything else first waits for the commits of
// the requests before it, so that it sees the type as they left it.
func (a *modelActor) serve(ctx actor.Context, r *modelRequest) {
	m := a.m
	defer a.recoverRequest(ctx, r)
	if err := a.authorize(r.req); err != nil {
		a.reply(ctx, r, nil, err)
		return
	}
	own := a.ownershipOf(r.req)
	switch r.req.Method {
	case models.Subscribe, models.Unsubscribe, models.Read:
		if a.barrier(ctx, r) {
			return
		}
	}
	switch r.req.Method {
	case models.Subscribe:
		a.subscribe(ctx, r, own)
	case models.Unsubscribe:
		if who := r.sender(); who != nil {
			if _, ok := m.subs[who.Id]; ok {
				delete(m.subs, who.Id)
				m.nsubs.Store(int32(len(m.subs)))
				ctx.Unwatch(who)
			}
		}
		pos, err := a.position()
		if err != nil {
			a.reply(ctx, r, nil, err)
			return
		}
		a.reply(ctx, r, positionTerm(pos), nil)
	case models.Broadcast:
		// Who sent it is the server's to say: an anonymous caller's
		// broadcast has no from, so that none can be forged.
		props := r.req.Props.Delete(fromProp)
		if !r.req.Caller.Anonymous() {
			props = props.Set(fromProp, []byte(r.req.Caller.Subject))
		}
		// A broadcast over the message limit is refused to its sender,
		// not pushed to every subscriber.
		a.stage(ctx, &staged{r: r, event: "broadcast", msg: props.Term(), except: r.sender(), limit: m.sys.cfg.MaxMessageSize})
	case models.Read:
		r.req.MaxReplySize = a.replyBudget(r.req)
		if err := a.prepare(r, own); err != nil {
			a.reply(ctx, r, nil, err)
			return
		}
		msg, err := a.call(r)
		if err == nil {
			msg, err = a.filterReply(r.req, own, models.ReplyTerm(msg))
		}
		a.replyResult(ctx, r, msg, err)
	default:
		a.change(ctx, r, own)
	}
}

// change stages a create, update, patch or delete: a [models.Stager]'s
// change, to run in the commit, or the event of a Go handler's change,
// which its Sync makes now.
func (a *modelActor) change(ctx actor.Context, r *modelRequest, own ownership) {
	m := a.m
	r.req.MaxReplySize = a.replyBudget(r.req)
	if own.field != "" && r.req.ID != "" && a.barrier(ctx, r) {
		// prepare reads the document to check its owner: it must see
		// the changes before it, or a change of its owner's could be
		// overwritten by anyone.
		return
	}
	if err := a.prepare(r, own); err != nil {
		a.reply(ctx, r, nil, err)
		return
	}
	// No size check of the push: MaxReplySize kept it within the limit
	// (for the document model; a Go handler's oversized change is
	// answered too_large by the session).
	st := &staged{r: r, event: eventOf(r.req.Method), limit: -1}
	if stager, ok := m.h.(models.Stager); ok {
		change, ok, err := stager.Stage(m.sys.ctx, r.req)
		if err != nil {
			a.replyResult(ctx, r, nil, err)
			return
		}
		if ok {
			st.change = change
			a.stage(ctx, st)
			return
		}
	}
	msg, err := a.call(r)
	if err != nil {
		a.replyResult(ctx, r, nil, err)
		return
	}
	st.msg = models.ReplyTerm(msg)
	a.stage(ctx, st)
}

// replyResult answers r with a handler's result, turning an error into
// the one its client may see (and logging an internal one).
func (a *modelActor) replyResult(ctx actor.Context, r *modelRequest, msg any, err error) {
	if err != nil {
		pub, internal := publicError(a.m.name, err)
		if internal {
			a.m.sys.log.Error("actors: model handler failed", "model", a.m.name, "method", r.req.Method, "id", r.req.ID, "err", err)
		}
		a.reply(ctx, r, nil, pub)
		return
	}
	a.reply(ctx, r, msg, nil)
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

// deliver sends the push p of event seq to every subscriber that hears
// it but except, and that subscribed before it.
func (a *modelActor) deliver(ctx actor.Context, seq int64, p *pushMsg, except *actor.PID) {
	// The event's props, parsed for the first owner-only subscriber.
	var (
		event  bert.Atom
		attrs  models.Props
		parsed bool
	)
	for id, sub := range a.m.subs {
		if (except != nil && id == except.Id) || seq <= sub.after {
			continue
		}
		if sub.owner != nil {
			if !parsed {
				event, attrs, _ = p.event()
				parsed = true
			}
			if !sub.hears(event, attrs) {
				continue
			}
		}
		ctx.Send(sub.pid, p)
	}
}

// subscriber is one subscribed session. Where the subscribe rule is
// "owner" it hears only the events of its caller's documents, and the
// broadcasts of its caller.
type subscriber struct {
	pid *actor.PID
	// owner is nil for a subscriber that hears every event.
	owner *ownership
	// after is the Seq its subscribe answered with: it hears the events
	// after it (on a shared log, events up to it may still arrive here
	// for the subscribers before it).
	after int64
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
	a.replyThen(ctx, r, msg, err, nil)
}

// replyThen answers r, and has its session send after the reply, before
// anything else, the pushes after (a subscribe's replay).
func (a *modelActor) replyThen(ctx actor.Context, r *modelRequest, msg any, err error, after []*pushMsg) {
	if !r.answered {
		// Before the reply leaves, so that a client that has it finds
		// the actor idle (passivation.go).
		a.m.release()
	}
	r.answered = true
	rep := &modelReply{id: r.id, msg: msg, err: err, after: after}
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
