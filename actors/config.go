package actors

import (
	"log/slog"
	"time"

	"github.com/bertsync/bertsync/internal/limits"
	"github.com/bertsync/bertsync/internal/metrics"
	"github.com/bertsync/bertsync/models"
)

// Defaults of the [Config] limits, used where a field is zero.
const (
	DefaultMaxPendingRequests = 256
	DefaultMaxMessageSize     = 1 << 20
	DefaultRequestTimeout     = 30 * time.Second
	DefaultSessionIdleTimeout = 2 * time.Minute
	DefaultMaxModels          = 1024
	DefaultModelIdleTimeout   = time.Minute
	DefaultMaxRecoverySize    = 1 << 20
	DefaultMaxRecoveryEvents  = 512
)

// Defaults of the restart limit of model actors (supervisor.go): those of
// protoactor's default supervisor.
const (
	DefaultMaxModelRestarts   = 10
	DefaultModelRestartWindow = 10 * time.Second
)

// Config configures a [System]. It is passed by value. Its limits follow
// the rule of every bertsync config (docs/limits.md): zero means the
// Default… constant, a negative value means no limit.
type Config struct {
	// Registry holds the Go handlers of model types. Nil means none.
	Registry *models.Registry
	// Documents serves every model type without a registered handler
	// (the generic document model). Nil means none: such a type is
	// unknown and its requests get {sync, error, {not_found, …}}.
	Documents *models.Documents
	// Log keeps the streams of the model types: their Seq, epoch and
	// history (DESIGN §5). Nil means the store of Documents when there is
	// one, and otherwise a [models.MemoryLog] with History, whose
	// streams end with the process. With Documents, Log must be (or be
	// left nil for) Documents' store, so that a document's change and
	// its event commit together.
	Log models.EventLog
	// History bounds the memory log's history when Log and Documents are
	// nil; a store's history is set when it is opened
	// ([models.StoreConfig]).
	History models.HistoryConfig
	// Rules are the access rules of the model types (DESIGN §6), checked
	// for every request, from sessions and [System.Call] alike. Nil
	// means [models.DefaultRules](false): every method is public.
	Rules *models.Rules
	// Logger receives the logs of the sessions and model actors and, one
	// level lower (Info as Debug) and with the attribute lib=protoactor,
	// those of protoactor-go itself. Nil means slog.Default().
	Logger *slog.Logger

	// MaxPendingRequests bounds, per session, the frames delivered but
	// not answered yet. A frame beyond it is not decoded: it is answered,
	// in order, {sync, error, {rate_limited, …}} without a Ref.
	MaxPendingRequests int
	// MaxMessageSize is the largest message, in bytes of BERT, a client
	// may send; a larger one gets {sync, error, {too_large, …}} and the
	// connection lives on. It bounds what the server makes of a message
	// too (a compressed term inflates to no more) and what it sends: a
	// larger reply is {sync, error, {too_large, …}} instead, a larger
	// broadcast is refused to its sender, and handlers see the room left
	// as [models.Request.MaxReplySize]. The gateway's transports read at
	// most this much of a message, so it is the one knob for the message
	// limit.
	MaxMessageSize int
	// RequestTimeout bounds one request: the handler's context has this
	// deadline, and a session stops waiting for a reply after it and
	// answers {sync, error, {unavailable, …}}, so one stuck handler cannot
	// hold a connection's later replies for ever. It also bounds
	// [System.Call] when its context has no earlier deadline.
	RequestTimeout time.Duration
	// SessionIdleTimeout ends a session (reason [IdleTimeout]) when
	// nothing came from its client for that long: no frame and no
	// [Session.Touch]. Polling transports rely on it to forget clients
	// that stopped polling.
	SessionIdleTimeout time.Duration
	// MaxModels bounds the number of live model actors, one per model
	// type in use, since the generic document model serves any name a
	// client sends. A request for a new type at the bound first
	// passivates the least recently used model actor that has no
	// subscriber and no request in flight (passivation.go); only when
	// none can be stopped is that one request answered {sync, error,
	// {unavailable, …}}.
	MaxModels int
	// ModelIdleTimeout passivates a model actor that has had no request
	// for that long and has no subscriber: it is stopped, and the next
	// request for its type starts it again with the same handler value
	// and a Seq that goes on where it stopped. Negative: never on a timer
	// (MaxModels still passivates to make room).
	ModelIdleTimeout time.Duration
	// MaxRecoverySize bounds, in bytes of the pushes, what one
	// subscribe with since replays (DESIGN §5): when the missed events
	// take more, recovered is false and the client reloads instead. It
	// bounds too the live pushes a session holds back while such a
	// subscribe waits for its turn to be answered (its reply goes out
	// in request order, and its replay and pushes right after it): past
	// it the session is closed as a slow consumer.
	MaxRecoverySize int
	// MaxRecoveryEvents bounds the events one subscribe with since
	// replays: when more were missed, recovered is false. The replay
	// goes to the connection's queue at once, so it must leave room
	// there (gateway.ListenAndServe sets it and MaxRecoverySize to half
	// of the queue's bounds when they are zero).
	MaxRecoveryEvents int

	// MaxModelRestarts bounds the restarts of a model actor whose handler
	// panics, within ModelRestartWindow. One panic more stops the model
	// type for a ModelRestartWindow: its requests, queued or new, get
	// {sync, error, {unavailable, …}} without reaching the handler, and
	// the first one after the window is served again (docs/models.md).
	// Negative: restart always.
	MaxModelRestarts int
	// ModelRestartWindow is the period over which MaxModelRestarts counts
	// and for which a stopped model type stays stopped. Negative: the
	// panics count over the system's life, and a stopped type stays
	// stopped until the server restarts.
	ModelRestartWindow time.Duration

	// Metrics, if not nil, counts the sessions, the requests they answer,
	// their subscriptions and pushes (docs/operations.md). bertsync serve
	// sets it with --metrics-addr; nil counts nothing.
	Metrics *metrics.Metrics
}

// withDefaults returns c with zero limits replaced by their defaults.
func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Rules == nil {
		c.Rules = models.DefaultRules(false)
	}
	c.MaxPendingRequests = limits.Resolve(c.MaxPendingRequests, DefaultMaxPendingRequests)
	c.MaxModels = limits.Resolve(c.MaxModels, DefaultMaxModels)
	c.ModelIdleTimeout = limits.Resolve(c.ModelIdleTimeout, DefaultModelIdleTimeout)
	c.MaxRecoverySize = limits.Resolve(c.MaxRecoverySize, DefaultMaxRecoverySize)
	c.MaxRecoveryEvents = limits.Resolve(c.MaxRecoveryEvents, DefaultMaxRecoveryEvents)
	c.MaxMessageSize = limits.Resolve(c.MaxMessageSize, DefaultMaxMessageSize)
	c.RequestTimeout = limits.Resolve(c.RequestTimeout, DefaultRequestTimeout)
	c.SessionIdleTimeout = limits.Resolve(c.SessionIdleTimeout, DefaultSessionIdleTimeout)
	c.MaxModelRestarts = limits.Resolve(c.MaxModelRestarts, DefaultMaxModelRestarts)
	c.ModelRestartWindow = limits.Resolve(c.ModelRestartWindow, DefaultModelRestartWindow)
	return c
}
