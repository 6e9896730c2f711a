package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Defaults of the [Config] fields, used where a field is zero.
const (
	DefaultPath           = "/bullet"
	DefaultMaxMessageSize = 1 << 20
	DefaultMaxQueue       = 256
	DefaultWriteTimeout   = 10 * time.Second
	DefaultReadTimeout    = 30 * time.Second
	DefaultPingInterval   = 25 * time.Second
	DefaultPongTimeout    = 60 * time.Second
	DefaultPollTimeout    = 30 * time.Second
	DefaultMaxPollBuffer  = 1024
)

// Config configures a [Server]. It is passed by value to [New]; the zero
// value of every field means its default, so Config{} is a working server
// on /bullet.
type Config struct {
	// Path is where the Bullet endpoint is mounted, for all its
	// transports. Empty means DefaultPath ("/bullet"). It must start
	// with "/" and must not be "/" or one of the paths of the REST,
	// files or static handlers (/api/, /files/).
	Path string

	// AllowedOrigins lists the origins, besides the server's own, whose
	// pages may connect: full origins ("https://app.example.com") or
	// bare hosts ("app.example.com:8443"); "*" allows any. Empty means
	// same origin only: the Origin header's host must equal the request's
	// Host. A request without an Origin header (not from a browser) is
	// always allowed; a rejected one gets 403 with the reason.
	AllowedOrigins []string

	// MaxMessageSize is the largest inbound message in bytes (the BERT
	// term, after a BERT-JS text frame is decoded to bytes). A larger one
	// is answered {sync, error, {too_large, …}} and dropped; the
	// connection lives on. Zero means DefaultMaxMessageSize (1 MiB).
	MaxMessageSize int

	// MaxQueue bounds the frames waiting to be written to one WebSocket
	// client. When it is full the client is a slow consumer and its
	// session is closed, so that it slows nobody else down. Zero means
	// DefaultMaxQueue.
	MaxQueue int

	// WriteTimeout bounds every write to a client: a WebSocket frame, an
	// EventSource batch, a poll or POST response. Zero means
	// DefaultWriteTimeout.
	WriteTimeout time.Duration

	// ReadTimeout bounds reading the body of one POST, so that a client
	// trickling bytes cannot hold a request open. Zero means
	// DefaultReadTimeout.
	ReadTimeout time.Duration

	// PingInterval is how often the server pings an idle WebSocket client
	// and sends an EventSource comment, so that proxies and the client
	// see traffic (Bullet's WebSockets dropped after 60 idle seconds).
	// Zero means DefaultPingInterval; negative disables pings.
	PingInterval time.Duration

	// PongTimeout closes a WebSocket when nothing, not even a pong, came
	// from the client for that long. It must exceed PingInterval. Zero
	// means DefaultPongTimeout; negative means no read deadline.
	PongTimeout time.Duration

	// PollTimeout is how long a long-poll GET is held waiting for a
	// message before it is answered 204 No Content. Zero means
	// DefaultPollTimeout.
	PollTimeout time.Duration

	// MaxPollBuffer bounds the messages a polling session (long-poll,
	// EventSource, POST) keeps for its client between polls. When it is
	// full the client is a slow consumer and its session ends. Zero means
	// DefaultMaxPollBuffer.
	MaxPollBuffer int

	// DataDir is the server's data directory; the upload handler stores
	// files under it (DataDir/files/<sha256>, with DataDir/tmp for files
	// still arriving) and /files/ serves them. Empty means uploads have
	// nowhere to go: they are answered 503 and /files/ serves nothing.
	DataDir string

	// MaxBodySize is the largest JSON or form body of a REST request, in
	// bytes; a larger one is answered 413. Zero or negative means
	// DefaultMaxBodySize (1 MiB).
	MaxBodySize int64

	// MaxUploadSize is the largest file an upload may hold, in bytes; a
	// larger one is answered 413 and nothing of it is kept. The file is
	// streamed to disk, so this bounds disk use, not memory. Zero or
	// negative means DefaultMaxUploadSize (32 MiB).
	MaxUploadSize int64

	// Logger receives the gateway's logs. Nil means slog.Default().
	Logger *slog.Logger
}

// Validate reports settings of c that cannot work, the error [New]
// would return, so that a command line can reject them as bad flags.
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}

// withDefaults returns c with zero fields replaced by their defaults, or an
// error for settings that cannot work.
func (c Config) withDefaults() (Config, error) {
	if c.Path == "" {
		c.Path = DefaultPath
	}
	if !strings.HasPrefix(c.Path, "/") || c.Path == "/" {
		return c, fmt.Errorf("gateway: path %q must start with / and not be the root", c.Path)
	}
	c.Path = strings.TrimSuffix(c.Path, "/")
	for _, r := range c.Path {
		// Plain path characters only: the path is also a ServeMux
		// pattern and a cookie Path.
		if !(r == '/' || r == '-' || r == '.' || r == '_' || r == '~' ||
			'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return c, fmt.Errorf("gateway: path %q: only letters, digits, / - . _ ~ are allowed", c.Path)
		}
	}
	if strings.Contains(c.Path, "//") || c.Path == "/api" || strings.HasPrefix(c.Path, "/api/") ||
		c.Path == "/files" || strings.HasPrefix(c.Path, "/files/") {
		return c, fmt.Errorf("gateway: path %q collides with /api/ or /files/ or has an empty segment", c.Path)
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.MaxQueue == 0 {
		c.MaxQueue = DefaultMaxQueue
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.PingInterval == 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.PongTimeout == 0 {
		c.PongTimeout = DefaultPongTimeout
	}
	if c.PollTimeout == 0 {
		c.PollTimeout = DefaultPollTimeout
	}
	if c.MaxPollBuffer == 0 {
		c.MaxPollBuffer = DefaultMaxPollBuffer
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	var errs []error
	if c.MaxMessageSize < 0 || c.MaxQueue < 0 || c.MaxPollBuffer < 0 {
		errs = append(errs, errors.New("MaxMessageSize, MaxQueue and MaxPollBuffer must not be negative"))
	}
	if c.WriteTimeout < 0 || c.ReadTimeout < 0 || c.PollTimeout < 0 {
		errs = append(errs, errors.New("WriteTimeout, ReadTimeout and PollTimeout must not be negative"))
	}
	if c.PingInterval > 0 && c.PongTimeout > 0 && c.PongTimeout <= c.PingInterval {
		errs = append(errs, fmt.Errorf("PongTimeout %v must exceed PingInterval %v", c.PongTimeout, c.PingInterval))
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("gateway: %w", err)
	}
	return c, nil
}
