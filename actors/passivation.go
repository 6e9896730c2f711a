package actors

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/bertsync/bertsync/internal/limits"
)

// Passivation of model actors.
//
// The generic document model serves any type name a client sends, so the
// model actors cannot live as long as the system: a client reading a
// thousand junk names would hold a thousand actors for ever, and once
// [Config.MaxModels] of them ran every new type was refused to everyone.
// So a model actor is stopped ("passivated") when it has had no request
// for [Config.ModelIdleTimeout] and has no subscriber, and the next
// request for its type starts a new one. When MaxModels actors run, a new
// type first passivates the least recently used actor that can be
// stopped; only if none can is that one request refused.
//
// What a type keeps across passivation: its handler (the same value: a Go
// handler's own state lives on), and its stream, which is in the event
// log, not in the actor. What it
// loses is what a passivated type cannot have: subscribers (an actor with
// one is never passivated) and requests in flight (see the gate below).
// An actor whose supervisor has it stopped, or that failed within the
// restart window, is not passivated either: a new actor would get a fresh
// supervisor and forget the stop or the count (supervisor.go).
//
// The gate. Sessions keep the modelState of the types they talk to, and
// a request may be on its way to an actor while the actor decides to
// stop; a message sent to a stopped actor is a dead letter, and the
// request would never be answered. So every sender reserves its delivery
// first (acquire): a counter of requests reserved and not yet served, in
// one atomic word with a "retired" bit. The actor is retired only by a
// compare-and-swap from "nothing pending, not retired" to "retired",
// under the System's lock, in the same critical section that removes it
// from the registry. A sender that reserved before that is served before
// the actor may retire; a sender that comes after it finds the bit, asks
// the registry again and gets a new actor. The actor releases a
// reservation when it replies: after the request's changes (subscribers,
// Seq) are made and published, so that the System never sees "nothing
// pending" while a subscribe is half done, and before the reply leaves,
// so that a client that has its reply finds the actor idle.

// The gate word of a modelState: bit 0 is set once the actor is retired,
// the rest counts reserved deliveries in units of gatePending.
const (
	gateRetired int64 = 1
	gatePending int64 = 2
)

// passivation is the part of a modelState that passivation uses. gate is
// changed by the senders, the actor and the System; the other atomics are
// written by the actor and read by the System; sup is set before the
// actor starts; idle and keptLogged belong to the actor.
type passivation struct {
	gate atomic.Int64
	// lastUsed is when the actor last finished a request (or started),
	// in Unix nanoseconds of System.now.
	lastUsed atomic.Int64
	// nsubs is len(subs), published for the System's eviction.
	nsubs atomic.Int32
	// failedAt is when serving a request last panicked, in Unix
	// nanoseconds of System.now; 0 if it never did. It is set before the
	// release, so the System never sees the actor idle but not failed.
	failedAt atomic.Int64
	sup      *modelSupervisor
	idle     *time.Timer
	// keptLogged says the actor, idle, was logged as kept for this idle
	// stretch.
	keptLogged bool
}

// acquire reserves one delivery to the actor of m, or reports that it is
// retired and must not be sent to.
func (m *modelState) acquire() bool {
	for {
		g := m.gate.Load()
		if g&gateRetired != 0 {
			return false
		}
		if m.gate.CompareAndSwap(g, g+gatePending) {
			return true
		}
	}
}

// release ends the reservation of the request the actor is serving, once
// the request has changed what it changes (subscribers, Seq) and before
// its reply leaves: a client that has the reply finds the actor idle, and
// may have it passivated to make room for another type. The actor only
// finishes sending the reply before it stops. It runs on the actor's
// goroutine.
func (m *modelState) release() {
	m.nsubs.Store(int32(len(m.subs)))
	m.lastUsed.Store(m.sys.now().UnixNano())
	m.gate.Add(-gatePending)
}

// pinned reports whether m must stay live because of its supervisor: its
// handler is stopped, or a failure still counts towards the restart
// limit.
func (m *modelState) pinned(now time.Time) bool {
	sup := m.sup
	if sup == nil || sup.limit == nil {
		return false // restarts always: nothing to remember
	}
	if until := sup.stoppedUntil.Load(); until != 0 && (until == stoppedForGood || now.UnixNano() < until) {
		return true
	}
	f := m.failedAt.Load()
	return f != 0 && (sup.window == 0 || now.UnixNano()-f < int64(sup.window))
}

// modelIdleMsg comes from a model actor's idle timer.
type modelIdleMsg struct{}

// A model actor's timer may fire after the actor stopped.
func (*modelIdleMsg) IgnoreDeadLetterLogging() {}

// handle serves one request. Its reply releases its reservation; should
// it get none and not wait for a commit, the reservation ends here, panic
// or not. (A staged request holds its reservation until the commit
// answers it, so that the actor is not passivated with work staged.)
func (a *modelActor) handle(ctx actor.Context, r *modelRequest) {
	defer func() {
		if !r.answered && !r.staged {
			a.m.release()
		}
	}()
	a.serve(ctx, r)
}

// started arms the idle timer, once: a restarted actor keeps it.
func (a *modelActor) started(ctx actor.Context) {
	m := a.m
	d := m.sys.cfg.ModelIdleTimeout
	if !limits.Set(d) || m.idle != nil {
		return
	}
	root, self, msg := m.sys.as.Root, ctx.Self(), &modelIdleMsg{}
	m.idle = time.AfterFunc(d, func() { root.Send(self, msg) })
}

// idleCheck passivates the actor if it has been idle long enough, and
// otherwise sets the timer for when it may be. The clock is System.now,
// so the timer only says when to look.
func (a *modelActor) idleCheck() {
	m := a.m
	d := m.sys.cfg.ModelIdleTimeout
	now := m.sys.now()
	idle := now.Sub(time.Unix(0, m.lastUsed.Load()))
	if idle < d {
		m.keptLogged = false
	} else {
		switch {
		case len(m.subs) > 0:
			a.kept("it has subscribers")
		case m.pinned(now):
			a.kept("its handler failed within the restart window")
		case m.sys.retire(m):
			return
		}
	}
	wait := d - idle
	if wait <= 0 || wait > d {
		wait = d
	}
	m.idle.Reset(wait)
}

// kept logs, once per idle stretch, why an idle actor is not passivated.
func (a *modelActor) kept(why string) {
	if a.m.keptLogged {
		return
	}
	a.m.keptLogged = true
	a.m.sys.log.Debug("actors: idle model actor kept", "model", a.m.name, "why", why)
}

// stopped runs once, when the actor has stopped for good: passivated or
// shut down.
func (a *modelActor) stopped() {
	m := a.m
	if m.idle != nil {
		m.idle.Stop()
	}
	m.sys.modelStopped(m)
	close(m.done)
}

// deliver sends r to the live model actor of type name, m if it is still
// live (m may be nil), starting one if need be, and returns the actor's
// state. The reservation makes sure r is served (see above).
func (s *System) deliver(sender actor.SenderContext, name string, m *modelState, r *modelRequest) (*modelState, error) {
	for {
		if m == nil {
			var err error
			if m, err = s.model(name); err != nil {
				return nil, err
			}
		}
		if m.acquire() {
			sender.Send(m.pid, r)
			return m, nil
		}
		// Retired: the registry no longer has it (it was removed under
		// the same lock), so the next look finds or starts another.
		m = nil
	}
}

// retire passivates m if nothing is pending for it.
func (s *System) retire(m *modelState) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.retireLocked(m)
}

// retireLocked passivates m, which must be live and have no subscriber,
// if no delivery to it is reserved: m leaves the registry and its actor
// is told to stop. It reports whether it did.
// s.mu is held.
func (s *System) retireLocked(m *modelState) bool {
	if s.closing || s.models[m.name] != m {
		return false // Shutdown stops it, or it is retired already
	}
	if !m.gate.CompareAndSwap(0, gateRetired) {
		return false
	}
	if m.nsubs.Load() != 0 {
		// A subscribe was served between the caller's look and the
		// swap. No delivery could be reserved since: undo.
		m.gate.Store(0)
		return false
	}
	delete(s.models, m.name)
	s.retiring[m] = struct{}{}
	s.as.Root.Poison(m.pid)
	s.log.Debug("actors: model actor passivated", "model", m.name)
	return true
}

// evictLocked passivates the least recently used live model actor that
// has no subscriber and nothing pending, to make room for another type.
// It reports whether it did. s.mu is held.
func (s *System) evictLocked() bool {
	now := s.now()
	// A candidate may get a request between the look and the swap; look
	// again a few times rather than refuse at once.
	for range 3 {
		var lru *modelState
		var lruUsed int64
		for _, m := range s.models {
			if m.gate.Load() != 0 || m.nsubs.Load() != 0 || m.pinned(now) {
				continue
			}
			if used := m.lastUsed.Load(); lru == nil || used < lruUsed {
				lru, lruUsed = m, used
			}
		}
		if lru == nil {
			return false
		}
		if s.retireLocked(lru) {
			return true
		}
	}
	return false
}

// modelStopped forgets the actor of m once it has stopped.
func (s *System) modelStopped(m *modelState) {
	s.modelSups.Delete(m.pid.Id)
	s.mu.Lock()
	delete(s.retiring, m)
	s.mu.Unlock()
}

// modelGuardian is the guardian strategy of every model actor. protoactor
// keeps a guardian process for each strategy value for the life of the
// actor system, so one strategy per actor, the modelSupervisor, would
// leak one with every actor that passivation stops. The modelSupervisors
// decide; this one only finds the failing actor's.
type modelGuardian struct{ sys *System }

func (g *modelGuardian) HandleFailure(as *actor.ActorSystem, sup actor.Supervisor, child *actor.PID, rs *actor.RestartStatistics, reason, msg any) {
	if ms, ok := g.sys.modelSups.Load(child.Id); ok {
		ms.(*modelSupervisor).HandleFailure(as, sup, child, rs, reason, msg)
		return
	}
	// Not a model actor of this system: a bug. Restart, protoactor's
	// default.
	g.sys.log.Error("actors: failure of an actor with no model supervisor", "actor", child.Id, "reason", fmt.Sprint(reason))
	sup.RestartChildren(child)
}

// modelCacheSize bounds the model types a session remembers. A session
// that talks to more looks the others up in the System's registry.
const modelCacheSize = 32

// modelCache is a session's memory of the model actors it sends to, which
// spares most requests a look in the System's registry. Entries may be
// retired actors: deliver finds out and replaces them.
type modelCache map[string]*modelState

// send delivers r to the model actor of type name (see System.deliver).
func (c *modelCache) send(ctx actor.SenderContext, sys *System, name string, r *modelRequest) error {
	cached := (*c)[name]
	m, err := sys.deliver(ctx, name, cached, r)
	if err != nil {
		delete(*c, name)
		return err
	}
	if m == cached {
		return nil
	}
	if *c == nil {
		*c = make(modelCache)
	}
	if cached == nil && len(*c) >= modelCacheSize {
		for name := range *c {
			delete(*c, name) // any one: this is a cache
			break
		}
	}
	(*c)[name] = m
	return nil
}
