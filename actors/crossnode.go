package actors

import (
	"context"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/bertsync/bertsync/models"
)

// Cross-node delivery (DESIGN §7). With a shared event log (PostgreSQL,
// where every node writes the same streams) a type's events reach its
// model actor from two sides: the commits of this node, with their
// except, and the log's tail, which brings the other nodes' events
// ([System.DeliverEvents]). Seq is given at commit, by the database, so
// this node's own Seqs need not follow each other: 7 may be this node's
// and 6 another's still on its way through the tail. The actor therefore
// delivers in Seq order, from the first Seq after the position its first
// subscriber read: an event that comes before its turn is held until the
// ones before it come, and one that comes again (the tail is at least
// once) is dropped. A hole that stays open for gapWait (a notification
// lost, a tail that is catching up) is filled from the log itself; one
// the log can no longer fill (pruned history) ends the subscribed
// sessions with [StreamGap], so that their clients resubscribe and
// recover or reload (§5), rather than miss an event unaware.
//
// Without a shared log the actor is the one writer of its stream, its
// commits come in Seq order, and events are delivered as they commit.

// gapWait is how long a hole in a type's Seqs may stay open before the
// actor reads the missing events from the log. The tail fills most holes
// within a few milliseconds; this bounds what a lost wake-up costs.
const gapWait = 250 * time.Millisecond

// maxHeld bounds the events a model actor holds behind a hole; past it
// the hole is filled from the log at once.
const maxHeld = 4096

// sharedLog is an event log that other processes append to as well.
type sharedLog interface{ Shared() bool }

func isShared(log models.EventLog) bool {
	s, ok := log.(sharedLog)
	return ok && s.Shared()
}

// streamOrder is the delivery order of a type's events on a shared log.
type streamOrder struct {
	// next is the Seq of the next event to deliver; 0 while the type
	// has no subscriber here, when there is nothing to order.
	next int64
	held map[int64]heldPush
	// checking is set while a gap check is on its way (gapCheckMsg).
	checking bool
}

// heldPush is an event waiting for its turn.
type heldPush struct {
	push   *pushMsg
	except *actor.PID
}

// remoteEventsMsg brings a model actor events that other nodes committed.
type remoteEventsMsg struct{ events []models.Event }

// streamLostMsg tells a model actor that the events up to through can no
// longer be read.
type streamLostMsg struct{ through int64 }

// gapCheckMsg asks a model actor whether a hole is still open.
type gapCheckMsg struct{ next int64 }

// Sent to model actors that may have passivated meanwhile.
func (*remoteEventsMsg) IgnoreDeadLetterLogging() {}
func (*streamLostMsg) IgnoreDeadLetterLogging()   {}
func (*gapCheckMsg) IgnoreDeadLetterLogging()     {}

// DeliverEvents hands the events that other nodes committed to model to
// its subscribers here, in Seq order: events the type's actor has
// delivered already, or that came before its first subscriber's
// position, are dropped. It never blocks; a type with no live actor here
// has no subscriber here and the events are dropped. It is the callback
// of a shared store's tail (models.PGStore.Tail).
func (s *System) DeliverEvents(model string, events []models.Event) {
	now := time.Now()
	for _, e := range events {
		s.cfg.Metrics.ObserveCrossNodeLag(now.Sub(e.Time))
	}
	if m := s.liveModel(model); m != nil && len(events) > 0 {
		s.as.Root.Send(m.pid, &remoteEventsMsg{events: events})
	}
}

// StreamLost tells the subscribers of model here that the events up to
// Seq through cannot be delivered (they were pruned from history before
// this node read them): the sessions that had not had them yet end with
// [StreamGap].
func (s *System) StreamLost(model string, through int64) {
	if m := s.liveModel(model); m != nil {
		s.as.Root.Send(m.pid, &streamLostMsg{through: through})
	}
}

// liveModel returns the live actor of model, or nil.
func (s *System) liveModel(model string) *modelState {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.models[model]
}

// publish delivers the event seq of a commit, or of the tail, in its turn.
func (a *modelActor) publish(ctx actor.Context, seq int64, p *pushMsg, except *actor.PID) {
	m := a.m
	o := m.order
	if o == nil {
		a.deliver(ctx, seq, p, except)
		return
	}
	if len(m.subs) == 0 {
		*o = streamOrder{}
		return
	}
	switch {
	case seq < o.next:
		return // delivered already
	case seq > o.next:
		if _, ok := o.held[seq]; !ok {
			if o.held == nil {
				o.held = make(map[int64]heldPush)
			}
			o.held[seq] = heldPush{push: p, except: except}
		}
		if len(o.held) > maxHeld {
			a.fillGap(ctx)
			return
		}
		a.watchGap(ctx)
		return
	}
	a.deliver(ctx, seq, p, except)
	o.next++
	for {
		h, ok := o.held[o.next]
		if !ok {
			break
		}
		delete(o.held, o.next)
		a.deliver(ctx, o.next, h.push, h.except)
		o.next++
	}
}

// startOrder begins the delivery order at the position the type's first
// subscriber here read: what is held is committed, so at or below it.
func (a *modelActor) startOrder(top int64) {
	if o := a.m.order; o != nil {
		*o = streamOrder{next: top + 1}
	}
}

// remoteEvents delivers the events of another node.
func (a *modelActor) remoteEvents(ctx actor.Context, events []models.Event) {
	for _, e := range events {
		a.publish(ctx, e.Seq, &pushMsg{model: a.m.name, data: e.Data}, nil)
	}
}

// watchGap has the actor look again in gapWait, if it is not already to.
func (a *modelActor) watchGap(ctx actor.Context) {
	o := a.m.order
	if o.checking || len(o.held) == 0 {
		return
	}
	o.checking = true
	root, self, next := a.m.sys.as.Root, ctx.Self(), o.next
	time.AfterFunc(gapWait, func() { root.Send(self, &gapCheckMsg{next: next}) })
}

// gapCheck fills the hole that was open at next if it still is.
func (a *modelActor) gapCheck(ctx actor.Context, next int64) {
	o := a.m.order
	if o == nil {
		return
	}
	o.checking = false
	if len(o.held) == 0 {
		return
	}
	if o.next == next {
		a.fillGap(ctx)
		return
	}
	a.watchGap(ctx) // it moved: give the newer hole its own wait
}

// fillGap reads the events from the next one on from the log and
// delivers them; if the log no longer has them, the subscribers that
// missed them are ended.
func (a *modelActor) fillGap(ctx actor.Context) {
	m, o := a.m, a.m.order
	var events []models.Event
	var complete bool
	err := a.withHandlerContext(func(hctx context.Context) (err error) {
		events, complete, err = m.sys.cfg.Log.Since(hctx, m.name, o.next-1, 0)
		return err
	})
	if err != nil {
		// The log is unreachable for now: look again later.
		m.sys.log.Warn("actors: cannot fill a hole in a stream", "model", m.name, "from", o.next, "err", err)
		a.watchGap(ctx)
		return
	}
	if !complete {
		a.streamLost(ctx, maxHeldSeq(o.held))
		return
	}
	for _, e := range events {
		if h, ok := o.held[e.Seq]; ok {
			// This node's own event keeps its except.
			a.publish(ctx, e.Seq, h.push, h.except)
			continue
		}
		a.publish(ctx, e.Seq, &pushMsg{model: m.name, data: e.Data}, nil)
	}
}

// streamLost ends the sessions subscribed here that have not had every
// event up to through, and goes on after it.
func (a *modelActor) streamLost(ctx actor.Context, through int64) {
	m, o := a.m, a.m.order
	if o == nil || o.next == 0 || through < o.next {
		return
	}
	m.sys.cfg.Metrics.StreamGap()
	m.sys.log.Warn("actors: events of a stream were lost before this node could deliver them; ending its subscribers' sessions",
		"model", m.name, "from", o.next, "through", through, "subscribers", len(m.subs))
	for _, sub := range m.subs {
		if sub.after < through {
			ctx.Send(sub.pid, &closeMsg{reason: StreamGap})
		}
	}
	held := o.held
	o.next, o.held = through+1, nil
	for seq, h := range held {
		if seq > through {
			a.publish(ctx, seq, h.push, h.except)
		}
	}
}

func maxHeldSeq(held map[int64]heldPush) int64 {
	var top int64
	for seq := range held {
		top = max(top, seq)
	}
	return top
}
