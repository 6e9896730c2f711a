package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/bertsync/bertsync/internal/limits"
	"github.com/bertsync/bertsync/models"
)

// ErrShutdown is the error of [System.Call] and of requests once
// [System.Shutdown] has begun. Its code is unavailable, so it matches
// [models.ErrUnavailable] under errors.Is.
var ErrShutdown = &models.Error{Code: models.CodeUnavailable, Message: "server shutting down"}

// System runs the session and model actors of one server on a
// protoactor-go actor system. Its methods are safe for concurrent use.
type System struct {
	cfg Config
	log *slog.Logger
	as  *actor.ActorSystem

	// ctx is the parent of every handler's context; cancel ends it when
	// the system is gone.
	ctx    context.Context
	cancel context.CancelFunc

	sessionGuardian actor.SupervisorStrategy
	// modelGuardian is the one guardian of the model actors; it hands
	// each failure to the supervisor of the actor's type, found in
	// modelSups by PID.Id (passivation.go).
	modelGuardian *modelGuardian
	modelSups     sync.Map
	dispatcher    *workerDispatcher
	// now is the clock of the model types' restart limit (supervisor.go)
	// and of passivation (passivation.go); tests replace it, before the
	// first request, to end a stop or an idle time without waiting it
	// out.
	now func() time.Time

	mu sync.RWMutex
	// models is the one registry of model actors, by type name; protoactor
	// knows them only by unique generated ids ("model/NAME$N"). Its
	// registry by name would be a second one: sessions and Call need the
	// modelState (handler, done), not only a PID, and the two registries
	// could disagree, as they did when the name was already taken
	// (ErrNameExists) and a modelState was kept whose actor never ran.
	// It holds the live actors only: a passivated one leaves it, and the
	// next request for its type starts another (passivation.go).
	models map[string]*modelState
	// retiring holds the passivated actors that have not stopped yet,
	// for Shutdown to wait for.
	retiring map[*modelState]struct{}
	sessions map[*Session]struct{}
	closing  bool

	finishOnce sync.Once
}

// NewSystem starts an actor system for cfg. Its handlers' contexts derive
// from ctx, which should outlive the system: cancelling it asks running
// handlers to give up, it does not shut the system down (use
// [System.Shutdown]). It fails when cfg has neither a Registry nor
// Documents, since such a system would serve no model type.
func NewSystem(ctx context.Context, cfg Config) (*System, error) {
	if cfg.Registry == nil && cfg.Documents == nil {
		return nil, errors.New("actors: config has neither a Registry nor Documents: no model type could be served")
	}
	cfg = cfg.withDefaults()
	if cfg.Documents != nil {
		store := cfg.Documents.Store()
		switch {
		case store == nil:
			return nil, errors.New("actors: config's Documents has no store")
		case cfg.Log == nil:
			cfg.Log = store
		case cfg.Log != models.EventLog(store):
			return nil, errors.New("actors: config's Log is not the store of its Documents: a document's change and its event must commit together")
		}
	}
	if cfg.Log == nil {
		cfg.Log = models.NewMemoryLog(cfg.History)
	}
	s := &System{
		cfg:      cfg,
		log:      cfg.Logger,
		now:      time.Now,
		models:   make(map[string]*modelState),
		retiring: make(map[*modelState]struct{}),
		sessions: make(map[*Session]struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(ctx)
	paLog := protoactorLogger(cfg.Logger)
	s.as = actor.NewActorSystem(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return paLog }),
		// No metrics provider: protoactor's Prometheus one would bind a
		// port of its own.
		actor.WithMetricProviders(nil),
		// Dead letters to stopped sessions are routine; log few of them.
		actor.WithDeadLetterRequestLogging(false),
	)
	s.dispatcher = newWorkerDispatcher(idleWorkersPerProc * runtime.GOMAXPROCS(0))
	s.sessionGuardian = &stopSupervisor{log: s.log}
	s.modelGuardian = &modelGuardian{sys: s}
	return s, nil
}

// Config returns the configuration of s, its zero limits replaced by their
// defaults and its negative ones by zero ("no limit").
func (s *System) Config() Config { return s.cfg }

// Call runs req through the model actor of req.Model from outside any
// actor, as the REST and upload handlers do, and returns the reply
// message: what the handler returned, with [models.Props] (or a slice of
// them) turned into their proplist term. A create, update, patch or
// delete is pushed to the type's subscribers like any other. Besides the
// five handler methods, Method may be "broadcast" (pushed to every
// subscriber), which returns the event's Seq. Call waits at most until
// ctx is done or [Config.RequestTimeout] passes; its errors carry a
// [models.Code] for [models.CodeOf]. Once [System.Shutdown] has begun it
// returns [ErrShutdown].
func (s *System) Call(ctx context.Context, req models.Request) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.isClosing() {
		return nil, ErrShutdown
	}
	switch req.Method {
	case models.Create, models.Read, models.Update, models.Patch, models.Delete, methodBroadcast:
	case methodSubscribe, methodUnsubscribe:
		return nil, models.Errorf(models.CodeBadRequest, "%s needs a connection", req.Method)
	default:
		return nil, models.Errorf(models.CodeBadRequest, "unknown method %q", req.Method)
	}
	ch := make(chan *modelReply, 1)
	m, err := s.deliver(s.as.Root, req.Model, nil, &modelRequest{req: req, reply: ch})
	if err != nil {
		return nil, err
	}
	var timeout <-chan time.Time
	if d := s.cfg.RequestTimeout; d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case r := <-ch:
		return r.msg, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-timeout:
		return nil, models.Errorf(models.CodeUnavailable, "model %q did not answer within %v", req.Model, s.cfg.RequestTimeout)
	case <-m.done:
		// The actor replied before it stopped, unless it was stopped
		// without waiting (a forced shutdown).
		select {
		case r := <-ch:
			return r.msg, r.err
		default:
			return nil, ErrShutdown
		}
	}
}

// model returns the live model actor of type name, spawning it if there
// is none: on first use, or after it was passivated. Send to it through
// [System.deliver], which copes with its passivation. An unknown type (no
// handler, no document model for it) is a not_found error, and nothing is
// spawned for it. At [Config.MaxModels] live actors, an idle one is
// passivated to make room, and if none can be, this caller is refused.
func (s *System) model(name string) (*modelState, error) {
	s.mu.RLock()
	m, ok := s.models[name]
	closing := s.closing
	s.mu.RUnlock()
	if ok {
		return m, nil
	}
	if closing {
		return nil, ErrShutdown
	}
	if name == "" || len(name) > models.MaxModelNameSize {
		return nil, models.Errorf(models.CodeBadRequest, "model name of %d bytes, want 1 to %d", len(name), models.MaxModelNameSize)
	}
	h, ok := s.handler(name)
	if !ok {
		return nil, models.Errorf(models.CodeNotFound, "unknown model type %q", name)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.models[name]; ok {
		return m, nil
	}
	if s.closing {
		return nil, ErrShutdown
	}
	if limits.Exceeds(len(s.models)+1, s.cfg.MaxModels) && !s.evictLocked() {
		return nil, models.Errorf(models.CodeUnavailable, "too many model types in use (limit %d)", s.cfg.MaxModels)
	}
	// Each actor has a supervisor of its own, which keeps its type's
	// restart limit, under the shared guardian.
	sup := newModelSupervisor(s, name)
	m = newModelState(s, name, supervisedHandler{h: h, sup: sup})
	m.sup = sup
	m.lastUsed.Store(s.now().UnixNano())
	props := actor.PropsFromProducer(
		func() actor.Actor { return &modelActor{m: m} },
		actor.WithGuardian(s.modelGuardian),
		actor.WithDispatcher(s.dispatcher),
		// The actor looks at its mailbox's length to commit what it
		// staged once nothing more waits (batch.go).
		actor.WithMailbox(func() actor.Mailbox {
			m.mailbox = actor.Unbounded()()
			return m.mailbox
		}),
	)
	// The id is unique (a prefix and protoactor's sequence number), so
	// the spawn cannot meet a running actor; the name in it is for logs.
	m.pid = s.as.Root.SpawnPrefix(props, "model/"+name)
	// Before the actor can get a request, and so fail.
	s.modelSups.Store(m.pid.Id, sup)
	s.models[name] = m
	return m, nil
}

// handler returns the handler for model type name: the registered one,
// or else the document model's.
func (s *System) handler(name string) (models.Handler, bool) {
	if s.cfg.Registry != nil {
		if h, ok := s.cfg.Registry.Lookup(name); ok {
			return h, true
		}
	}
	if s.cfg.Documents != nil {
		return s.cfg.Documents.Handler(name)
	}
	return nil, false
}

// Shutdown stops s gracefully: it stops accepting sessions and calls,
// lets every session answer the requests it has received (new frames get
// {sync, error, {unavailable, …}}) and stop with [ServerShutdown], then
// lets every model actor finish its mailbox and stop. The caller closes
// the store afterwards. If ctx ends first, the remaining actors are
// stopped at once and ctx's error is returned. Calling Shutdown twice
// waits again and returns nil.
func (s *System) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	first := !s.closing
	s.closing = true
	sessions := make([]*Session, 0, len(s.sessions))
	for ss := range s.sessions {
		sessions = append(sessions, ss)
	}
	modelList := make([]*modelState, 0, len(s.models))
	for _, m := range s.models {
		modelList = append(modelList, m)
	}
	live := len(modelList)
	// Passivated actors still stopping: waited for like the others.
	for m := range s.retiring {
		modelList = append(modelList, m)
	}
	s.mu.Unlock()
	if first {
		s.log.Info("actors: shutting down", "sessions", len(sessions), "models", len(modelList))
	}

	for _, ss := range sessions {
		s.as.Root.Send(ss.pid, &drainMsg{reason: ServerShutdown})
	}
	for _, ss := range sessions {
		select {
		case <-ss.done:
		case <-ctx.Done():
			s.forceStop(sessions, modelList)
			return fmt.Errorf("actors: shutdown: %w", ctx.Err())
		}
	}
	// Poison lets each model actor answer what is in its mailbox (Calls
	// from REST included) before it stops. The passivated ones have
	// theirs already.
	for _, m := range modelList[:live] {
		s.as.Root.Poison(m.pid)
	}
	for _, m := range modelList {
		select {
		case <-m.done:
		case <-ctx.Done():
			s.forceStop(nil, modelList)
			return fmt.Errorf("actors: shutdown: %w", ctx.Err())
		}
	}
	s.finish()
	return nil
}

// finish releases the handlers' context and the protoactor system, once.
func (s *System) finish() {
	s.finishOnce.Do(func() {
		s.cancel()
		s.dispatcher.stop()
		s.as.Shutdown()
	})
}

// forceStop stops actors regardless of their mailboxes and cancels the
// handlers' context.
func (s *System) forceStop(sessions []*Session, modelList []*modelState) {
	s.cancel() // ask running handlers to give up first
	for _, ss := range sessions {
		s.as.Root.Stop(ss.pid)
	}
	for _, m := range modelList {
		s.as.Root.Stop(m.pid)
	}
	s.finish()
}

func (s *System) isClosing() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.closing
}

// addSession registers ss unless s is closing.
func (s *System) addSession(ss *Session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.sessions[ss] = struct{}{}
	return true
}

func (s *System) removeSession(ss *Session) {
	s.mu.Lock()
	delete(s.sessions, ss)
	s.mu.Unlock()
}
