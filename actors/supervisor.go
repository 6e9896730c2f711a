package actors

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/bertsync/bertsync/internal/limits"
	"github.com/bertsync/bertsync/models"
)

// The supervision of the actors.
//
// A model actor fails only when its handler panics (or this package has a
// bug). Restarting it is cheap and loses nothing, since what matters
// (subscribers, Seq) lives in its modelState. But a handler that panics
// again and again is broken: each panic logs a stack and may leave the
// handler's own state worse. So restarts are limited, by protoactor's
// one-for-one strategy: [Config.MaxModelRestarts] within
// [Config.ModelRestartWindow]. One failure more and the model type is
// stopped for one window: its handler is not called, every create, read,
// update, patch and delete gets {sync, error, {unavailable, …}} at once,
// those already queued included, and the first request after the window
// reaches the handler again. A server user gets what a circuit breaker
// gives: the rest of the server goes on, the broken type says so rather
// than hang, and it comes back without a restart of the process (with a
// negative window it stays stopped until then).
//
// The protoactor actor itself is not stopped: a stopped actor leaves the
// messages in its (suspended) mailbox unanswered, and its PID, which every
// session keeps for the type, would point nowhere. The actor stays as the
// type's one address and answers for it; subscribe, unsubscribe and
// broadcast, which never reach the handler, go on.

// modelSupervisor is the supervisor strategy of one model actor, and the
// state of its restart limit: whether the handler is stopped, and until
// when.
type modelSupervisor struct {
	sys    *System
	name   string
	window time.Duration // of the restart limit; 0: the system's life
	// limit is protoactor's one-for-one strategy, which counts the
	// failures and decides restart or stop; nil means no limit.
	limit actor.SupervisorStrategy

	// stoppedUntil is when the stopped handler is called again, in Unix
	// nanoseconds from s.sys.now: 0 while it is served, math.MaxInt64 when
	// it stays stopped.
	stoppedUntil atomic.Int64
}

// stoppedForGood is stoppedUntil of a handler that is not called again.
const stoppedForGood int64 = math.MaxInt64

func newModelSupervisor(s *System, name string) *modelSupervisor {
	ms := &modelSupervisor{sys: s, name: name}
	if max := s.cfg.MaxModelRestarts; limits.Set(max) {
		if w := s.cfg.ModelRestartWindow; limits.Set(w) {
			ms.window = w
		}
		// Panics are the only failures, and the limit decides what they
		// lead to: the decider always asks for a restart.
		ms.limit = actor.NewOneForOneStrategy(max, ms.window, func(any) actor.Directive { return actor.RestartDirective })
	}
	return ms
}

// HandleFailure implements [actor.SupervisorStrategy]. It runs on the
// failing actor's goroutine, before the actor gets another message.
func (ms *modelSupervisor) HandleFailure(as *actor.ActorSystem, sup actor.Supervisor, child *actor.PID, rs *actor.RestartStatistics, reason, msg any) {
	if ms.limit == nil {
		ms.restarted(reason, 0)
		sup.RestartChildren(child)
		return
	}
	// protoactor keeps every failure time until the limit is hit; forget
	// those outside the window, so that occasional panics over months do
	// not pile up.
	if ms.window > 0 && rs.NumberOfFailures(ms.window) == 0 {
		rs.Reset()
	}
	ms.limit.HandleFailure(as, &limitDecision{Supervisor: sup, ms: ms, rs: rs, reason: reason}, child, rs, reason, msg)
}

// limitDecision receives the one-for-one strategy's decision for one
// failure and carries it out as described above.
type limitDecision struct {
	actor.Supervisor
	ms     *modelSupervisor
	rs     *actor.RestartStatistics
	reason any
}

func (d *limitDecision) RestartChildren(pids ...*actor.PID) {
	d.ms.restarted(d.reason, d.rs.NumberOfFailures(d.ms.window))
	d.Supervisor.RestartChildren(pids...)
}

// StopChildren stops the handler, not the actor (see above): the fresh
// actor answers the queued requests unavailable.
func (d *limitDecision) StopChildren(pids ...*actor.PID) {
	d.ms.stop(d.reason)
	d.Supervisor.RestartChildren(pids...)
}

func (ms *modelSupervisor) restarted(reason any, failures int) {
	attrs := []any{"model", ms.name, "reason", fmt.Sprint(reason)}
	if ms.limit != nil {
		attrs = append(attrs, "failures", failures, "max_restarts", ms.sys.cfg.MaxModelRestarts, "window", ms.windowText())
	}
	ms.sys.log.Warn("actors: model actor restarted", attrs...)
}

func (ms *modelSupervisor) stop(reason any) {
	until := stoppedForGood
	resume := "server restart"
	if ms.window > 0 {
		t := ms.sys.now().Add(ms.window)
		until, resume = t.UnixNano(), t.Format(time.RFC3339)
	}
	ms.stoppedUntil.Store(until)
	ms.sys.log.Error("actors: model stopped after repeated failures", "model", ms.name, "reason", fmt.Sprint(reason),
		"failures", ms.sys.cfg.MaxModelRestarts+1, "window", ms.windowText(), "until", resume)
}

func (ms *modelSupervisor) windowText() string {
	if ms.window == 0 {
		return "server lifetime"
	}
	return ms.window.String()
}

// refusal is the error of a request while the handler is stopped, or nil
// when the handler may be called. The first request after the window
// finds it served again.
func (ms *modelSupervisor) refusal() error {
	until := ms.stoppedUntil.Load()
	if until == 0 {
		return nil
	}
	if until == stoppedForGood {
		return models.Errorf(models.CodeUnavailable, "the %s handler failed %d times and is stopped until the server restarts",
			ms.name, ms.sys.cfg.MaxModelRestarts+1)
	}
	if ms.sys.now().UnixNano() < until {
		return models.Errorf(models.CodeUnavailable, "the %s handler failed %d times within %v and is stopped until %s",
			ms.name, ms.sys.cfg.MaxModelRestarts+1, ms.window, time.Unix(0, until).Format(time.RFC3339))
	}
	if ms.stoppedUntil.CompareAndSwap(until, 0) {
		ms.sys.log.Info("actors: model serving again after its stop", "model", ms.name)
	}
	return nil
}

// supervisedHandler is the handler of a model type under its supervisor:
// while the supervisor has it stopped, its requests are refused without
// calling it.
type supervisedHandler struct {
	h   models.Handler
	sup *modelSupervisor
}

func (sh supervisedHandler) Sync(ctx context.Context, req models.Request) (any, error) {
	if err := sh.sup.refusal(); err != nil {
		return nil, err
	}
	return sh.h.Sync(ctx, req)
}

// Stage stages req's change when the handler is a [models.Stager],
// refused while the supervisor has the type stopped; ok is false (and req
// goes to Sync) otherwise.
func (sh supervisedHandler) Stage(ctx context.Context, req models.Request) (models.Change, bool, error) {
	st, ok := sh.h.(models.Stager)
	if !ok {
		return nil, false, nil
	}
	if err := sh.sup.refusal(); err != nil {
		return nil, false, err
	}
	return st.Stage(ctx, req)
}

var _ models.Stager = supervisedHandler{}

// guard returns the handler as a [models.Guard], or nil if it is none.
func (sh supervisedHandler) guard() models.Guard {
	g, _ := sh.h.(models.Guard)
	return g
}

// stopSupervisor stops a failed session actor: its state (the order of
// pending replies) is lost, so the connection is closed rather than
// continued with a fresh, wrong state.
type stopSupervisor struct{ log *slog.Logger }

func (r *stopSupervisor) HandleFailure(_ *actor.ActorSystem, sup actor.Supervisor, child *actor.PID, _ *actor.RestartStatistics, reason, _ any) {
	r.log.Error("actors: session actor failed, closing its connection", "actor", child.Id, "reason", fmt.Sprint(reason))
	sup.StopChildren(child)
}
