package actors

import (
	"log/slog"
	"time"

	"github.com/bertsync/bertsync/models"
)

// Defaults of the [Config] limits, used where a field is zero.
const (
	DefaultMaxPendingRequests = 256
	DefaultMaxFrameSize       = 1 << 20
	DefaultRequestTimeout     = 30 * time.Second
	DefaultSessionIdleTimeout = 2 * time.Minute
	DefaultMaxModels          = 1024
)

// Config configures a [System]. It is passed by value; the zero value of
// every limit means its Default… constant, and a negative value means no
// limit, where the field says so.
type Config struct {
	// Registry holds the Go handlers of model types. Nil means none.
	Registry *models.Registry
	// Documents serves every model type without a registered handler
	// (the generic document model). Nil means none: such a type is
	// unknown and its requests get {sync, error, {not_found, …}}.
	Documents *models.Documents
	// Logger receives the logs of the sessions and model actors and, one
	// level lower (Info as Debug) and with the attribute lib=protoactor,
	// those of protoactor-go itself. Nil means slog.Default().
	Logger *slog.Logger

	// MaxPendingRequests bounds, per session, the frames delivered but
	// not answered yet. A frame beyond it is not decoded: it is answered,
	// in order, {sync, error, {rate_limited, …}} without a Ref. Zero means
	// DefaultMaxPendingRequests; it cannot be unlimited.
	MaxPendingRequests int
	// MaxFrameSize is the largest inbound frame, in bytes; a larger one
	// gets {sync, error, {too_large, …}}. Zero means DefaultMaxFrameSize,
	// negative no limit beyond the codec's own.
	MaxFrameSize int
	// RequestTimeout bounds one request: the handler's context has this
	// deadline, and a session stops waiting for a reply after it and
	// answers {sync, error, {unavailable, …}}, so one stuck handler cannot
	// hold a connection's later replies for ever. It also bounds
	// [System.Call] when its context has no earlier deadline. Zero means
	// DefaultRequestTimeout, negative none.
	RequestTimeout time.Duration
	// SessionIdleTimeout ends a session (reason [IdleTimeout]) when
	// nothing came from its client for that long: no frame and no
	// [Session.Touch]. Polling transports rely on it to forget clients
	// that stopped polling. Zero means DefaultSessionIdleTimeout, negative
	// none.
	SessionIdleTimeout time.Duration
	// MaxModels bounds the number of model actors, one per model type in
	// use, since the generic document model serves any name a client
	// sends. A request for a new type beyond it gets {sync, error,
	// {unavailable, …}}. Zero means DefaultMaxModels; it cannot be
	// unlimited.
	MaxModels int
}

// withDefaults returns c with zero limits replaced by their defaults and
// negative ones by 0, which the code reads as "no limit".
func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxPendingRequests <= 0 {
		c.MaxPendingRequests = DefaultMaxPendingRequests
	}
	if c.MaxModels <= 0 {
		c.MaxModels = DefaultMaxModels
	}
	c.MaxFrameSize = orDefault(c.MaxFrameSize, DefaultMaxFrameSize)
	c.RequestTimeout = orDefault(c.RequestTimeout, DefaultRequestTimeout)
	c.SessionIdleTimeout = orDefault(c.SessionIdleTimeout, DefaultSessionIdleTimeout)
	return c
}

func orDefault[T int | time.Duration](v, def T) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}
