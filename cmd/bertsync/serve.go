package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/bertsync/bertsync/actors"
	"github.com/bertsync/bertsync/auth"
	"github.com/bertsync/bertsync/gateway"
	"github.com/bertsync/bertsync/models"
)

// serveFlags are the settings of bertsync serve.
type serveFlags struct {
	addr, data, path                             string
	models, origins                              []string
	level                                        slog.Level
	maxMessage, maxBody, maxUpload, maxQueueSize int64
	uploadQuota                                  int64
	maxQueue                                     int
	// hosts is --allowed-hosts; empty derives them from --addr.
	hosts []string
	// The admission limits; a zero rateBurst is twice rateLimit.
	maxConns, maxConnsPerAddr, maxPollSessions, rateLimit, rateBurst int
	// maxTypes is --max-types.
	maxTypes int
	// history is --history-size and --history-ttl, as the store takes
	// them (a negative size keeps none, a negative TTL has no age limit).
	history models.HistoryConfig
	// jwt verifies tokens when a key file is given (nil: no
	// authentication), and rules are the access rules in force.
	jwt   *auth.JWT
	rules *models.Rules
	// tlsCert and tlsKey serve TLS; metricsAddr serves the metrics.
	tlsCert, tlsKey, metricsAddr string
	// shutdownTimeout is --shutdown-timeout.
	shutdownTimeout time.Duration
	// gcPercent is --gc-percent, as debug.SetGCPercent takes it (-1 is
	// off).
	gcPercent int
	// store is --store, a PostgreSQL URL (empty: bbolt under data), and
	// clusterAddr --cluster-addr, where this node listens for the others.
	store, clusterAddr string
}

// parseServeFlags reads args, each flag defaulting to its environment
// variable; a flag given wins.
func parseServeFlags(args []string, getenv func(string) string, stderr io.Writer) (serveFlags, error) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("bertsync serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: bertsync serve [flags]\n\nEvery flag can also be set by the environment variable in brackets; a flag wins.\n\n")
		fs.PrintDefaults()
	}
	addr := fs.String("addr", env("BERTSYNC_ADDR", gateway.DefaultAddr), "listen `address` host:port; port 0 picks a free one [BERTSYNC_ADDR]")
	data := fs.String("data", env("BERTSYNC_DATA", "./data"), "data `directory`: the store bertsync.db and uploaded files [BERTSYNC_DATA]")
	path := fs.String("path", env("BERTSYNC_PATH", gateway.DefaultPath), "URL `path` of the Bullet endpoint [BERTSYNC_PATH]")
	modelList := fs.String("models", env("BERTSYNC_MODELS", ""), "comma-separated model `types` the generic document model serves; empty serves any [BERTSYNC_MODELS]")
	secretFile := fs.String("jwt-secret-file", env("BERTSYNC_JWT_SECRET_FILE", ""), "accept JWTs signed HS256/384/512 with the bytes of `file` (one trailing newline trimmed) [BERTSYNC_JWT_SECRET_FILE]")
	publicKeyFile := fs.String("jwt-public-key-file", env("BERTSYNC_JWT_PUBLIC_KEY_FILE", ""), "accept JWTs signed RS256/384/512, ES256/384/512 or EdDSA, verified with the PEM public key in `file` [BERTSYNC_JWT_PUBLIC_KEY_FILE]")
	issuer := fs.String("jwt-issuer", env("BERTSYNC_JWT_ISSUER", ""), "when set, a token's iss must be `issuer` [BERTSYNC_JWT_ISSUER]")
	audience := fs.String("jwt-audience", env("BERTSYNC_JWT_AUDIENCE", ""), "when set, a token's aud must include `audience` [BERTSYNC_JWT_AUDIENCE]")
	rulesFile := fs.String("rules", env("BERTSYNC_RULES", ""), "access rules `file` (JSON, docs/security.md); without it every method is authenticated with a key, public without [BERTSYNC_RULES]")
	maxTypes := fs.String("max-types", env("BERTSYNC_MAX_TYPES", strconv.Itoa(models.DefaultMaxTypes)), "most model `types` the generic document model keeps in the store; a create into one more is refused {forbidden, ...} [BERTSYNC_MAX_TYPES]")
	origins := fs.String("allow-origin", env("BERTSYNC_ALLOW_ORIGIN", ""), "comma-separated `origins` allowed besides the server's own, * for any [BERTSYNC_ALLOW_ORIGIN]")
	level := fs.String("log-level", env("BERTSYNC_LOG_LEVEL", "info"), "log `level`: debug, info, warn or error [BERTSYNC_LOG_LEVEL]")
	maxMessage := fs.String("max-message", env("BERTSYNC_MAX_MESSAGE", "1MiB"), "largest Bullet message `size` (B, KiB, MiB, GiB) [BERTSYNC_MAX_MESSAGE]")
	maxBody := fs.String("max-body", env("BERTSYNC_MAX_BODY", "1MiB"), "largest REST JSON body `size` [BERTSYNC_MAX_BODY]")
	maxUpload := fs.String("max-upload", env("BERTSYNC_MAX_UPLOAD", "32MiB"), "largest uploaded file `size` [BERTSYNC_MAX_UPLOAD]")
	uploadQuota := fs.String("upload-quota", env("BERTSYNC_UPLOAD_QUOTA", "128MiB"), "most bytes (`size`) uploaded to one document that the hourly sweep of unreferenced files has not examined yet; past it 413 [BERTSYNC_UPLOAD_QUOTA]")
	maxQueue := fs.String("max-queue", env("BERTSYNC_MAX_QUEUE", strconv.Itoa(gateway.DefaultMaxQueue)), "most `messages` waiting to be sent to one client; past it the client is cut off as a slow consumer [BERTSYNC_MAX_QUEUE]")
	maxQueueSize := fs.String("max-queue-size", env("BERTSYNC_MAX_QUEUE_SIZE", "4MiB"), "most bytes (`size`) waiting to be sent to one client [BERTSYNC_MAX_QUEUE_SIZE]")
	hosts := fs.String("allowed-hosts", env("BERTSYNC_ALLOWED_HOSTS", ""), "comma-separated host `names` this server answers to (name or name:port; * for any Host, which allows DNS rebinding); empty: the listen address, and localhost, 127.0.0.1 and [::1] when it is loopback; required when --addr is every interface (0.0.0.0, ::) [BERTSYNC_ALLOWED_HOSTS]")
	maxConns := fs.String("max-conns", env("BERTSYNC_MAX_CONNS", strconv.Itoa(gateway.DefaultMaxConns)), "most `connections` held open at once (WebSockets, EventSource streams, long-polls); past it 503 [BERTSYNC_MAX_CONNS]")
	maxConnsPerAddr := fs.String("max-conns-per-addr", env("BERTSYNC_MAX_CONNS_PER_ADDR", strconv.Itoa(gateway.DefaultMaxConnsPerAddr)), "most `connections`, and polling sessions, of one client address (IPv4 address, IPv6 /64); past it 429; behind a proxy set it to --max-conns [BERTSYNC_MAX_CONNS_PER_ADDR]")
	maxPollSessions := fs.String("max-poll-sessions", env("BERTSYNC_MAX_POLL_SESSIONS", strconv.Itoa(gateway.DefaultMaxPollSessions)), "most `sessions` of the HTTP transports alive at once; past it 503 [BERTSYNC_MAX_POLL_SESSIONS]")
	rateLimit := fs.String("rate-limit", env("BERTSYNC_RATE_LIMIT", strconv.Itoa(gateway.DefaultMaxMessageRate)), "most `messages` per second one connection or polling session sends; past it {sync, error, {rate_limited, ...}} [BERTSYNC_RATE_LIMIT]")
	rateBurst := fs.String("rate-burst", env("BERTSYNC_RATE_BURST", ""), "most `messages` sent at once within the rate (the token bucket's size); empty: twice --rate-limit [BERTSYNC_RATE_BURST]")
	tlsCert := fs.String("tls-cert", env("BERTSYNC_TLS_CERT", ""), "serve HTTPS and WSS (HTTP/2 for the HTTP transports) with the PEM certificate chain in `file`, read again when it changes; needs --tls-key [BERTSYNC_TLS_CERT]")
	tlsKey := fs.String("tls-key", env("BERTSYNC_TLS_KEY", ""), "the PEM private key `file` of --tls-cert [BERTSYNC_TLS_KEY]")
	metricsAddr := fs.String("metrics-addr", env("BERTSYNC_METRICS_ADDR", ""), "serve Prometheus metrics at /metrics on a listener of its own at `address` host:port (plain HTTP: keep it private); empty: no metrics [BERTSYNC_METRICS_ADDR]")
	historySize := fs.String("history-size", env("BERTSYNC_HISTORY_SIZE", strconv.Itoa(models.DefaultHistorySize)), "latest `events` of each model type kept for clients that reconnect to recover; 0 keeps none [BERTSYNC_HISTORY_SIZE]")
	historyTTL := fs.String("history-ttl", env("BERTSYNC_HISTORY_TTL", models.DefaultHistoryTTL.String()), "`age` past which an event is no longer kept for recovery; 0 means no age limit [BERTSYNC_HISTORY_TTL]")
	store := fs.String("store", env("BERTSYNC_STORE", ""), "PostgreSQL `url` (postgres://USER@HOST:PORT/DB) holding the documents, streams and files, shared by every node on it; empty: bbolt in --data, one node [BERTSYNC_STORE]")
	clusterAddr := fs.String("cluster-addr", env("BERTSYNC_CLUSTER_ADDR", ""), "host:port `address` where this node listens for the other nodes (protoactor remote); required with a PostgreSQL --store [BERTSYNC_CLUSTER_ADDR]")
	gcPercent := fs.String("gc-percent", env("GOGC", strconv.Itoa(defaultGCPercent)), "the garbage collector's target: how many `percent` the heap may grow past what the last collection left live before the next, or off; GOMEMLIMIT, when set, makes it collect sooner as the heap nears that limit [GOGC]")
	shutdownTimeout := fs.String("shutdown-timeout", env("BERTSYNC_SHUTDOWN_TIMEOUT", gateway.DefaultShutdownTimeout.String()), "on SIGTERM or SIGINT, how long (`duration`) sessions get to answer what they received and polling clients to fetch what is theirs before the rest is closed [BERTSYNC_SHUTDOWN_TIMEOUT]")
	if err := fs.Parse(args); err != nil {
		return serveFlags{}, err
	}
	if fs.NArg() > 0 {
		return serveFlags{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	f := serveFlags{addr: *addr, data: *data, path: *path, models: splitFlagList(*modelList), origins: splitFlagList(*origins),
		tlsCert: *tlsCert, tlsKey: *tlsKey, metricsAddr: strings.TrimSpace(*metricsAddr)}
	f.store, f.clusterAddr = strings.TrimSpace(*store), strings.TrimSpace(*clusterAddr)
	if err := checkStoreFlags(f.store, f.clusterAddr); err != nil {
		return serveFlags{}, err
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return serveFlags{}, errors.New("-tls-cert and -tls-key go together: give both or neither")
	}
	if f.metricsAddr != "" {
		if _, _, err := net.SplitHostPort(f.metricsAddr); err != nil {
			return serveFlags{}, fmt.Errorf("bad -metrics-addr %q: want host:port", f.metricsAddr)
		}
	}
	history, err := parseHistory(*historySize, *historyTTL)
	if err != nil {
		return serveFlags{}, err
	}
	f.history = history
	if f.store != "" && history.Size < 0 {
		return serveFlags{}, errors.New("-history-size 0 with a PostgreSQL -store: the other nodes read their events from the history, so it must keep some")
	}
	timeout, err := time.ParseDuration(strings.TrimSpace(*shutdownTimeout))
	if err != nil || timeout <= 0 {
		return serveFlags{}, fmt.Errorf("bad -shutdown-timeout %q: want a positive duration such as 15s", *shutdownTimeout)
	}
	f.shutdownTimeout = timeout
	if f.gcPercent, err = parseGCPercent(*gcPercent); err != nil {
		return serveFlags{}, err
	}
	if err := f.level.UnmarshalText([]byte(*level)); err != nil {
		return serveFlags{}, fmt.Errorf("bad -log-level %q: want debug, info, warn or error", *level)
	}
	for _, size := range []struct {
		name string
		text string
		dst  *int64
	}{
		{"max-message", *maxMessage, &f.maxMessage}, {"max-body", *maxBody, &f.maxBody},
		{"max-upload", *maxUpload, &f.maxUpload}, {"max-queue-size", *maxQueueSize, &f.maxQueueSize},
		{"upload-quota", *uploadQuota, &f.uploadQuota},
	} {
		n, err := parseSize(size.text)
		if err != nil {
			return serveFlags{}, fmt.Errorf("bad -%s: %w", size.name, err)
		}
		*size.dst = n
	}
	if f.maxMessage > math.MaxInt32 || f.maxQueueSize > math.MaxInt32 {
		return serveFlags{}, errors.New("bad -max-message or -max-queue-size: at most 2GiB")
	}
	n, err := strconv.Atoi(*maxQueue)
	if err != nil || n <= 0 {
		return serveFlags{}, fmt.Errorf("bad -max-queue %q: want a positive number of messages", *maxQueue)
	}
	f.maxQueue = n
	if f.jwt, f.rules, err = loadAuth(*secretFile, *publicKeyFile, *issuer, *audience, *rulesFile); err != nil {
		return serveFlags{}, err
	}
	if f.maxTypes, err = strconv.Atoi(strings.TrimSpace(*maxTypes)); err != nil || f.maxTypes <= 0 {
		return serveFlags{}, fmt.Errorf("bad -max-types %q: want a positive number of model types", *maxTypes)
	}
	for _, count := range []struct {
		name, text, unit string
		dst              *int
	}{
		{"max-conns", *maxConns, "connections", &f.maxConns},
		{"max-conns-per-addr", *maxConnsPerAddr, "connections", &f.maxConnsPerAddr},
		{"max-poll-sessions", *maxPollSessions, "sessions", &f.maxPollSessions},
		{"rate-limit", *rateLimit, "messages a second", &f.rateLimit},
		{"rate-burst", *rateBurst, "messages", &f.rateBurst},
	} {
		if count.text == "" && count.dst == &f.rateBurst {
			continue // twice the rate
		}
		n, err := strconv.Atoi(strings.TrimSpace(count.text))
		if err != nil || n <= 0 {
			return serveFlags{}, fmt.Errorf("bad -%s %q: want a positive number of %s", count.name, count.text, count.unit)
		}
		*count.dst = n
	}
	if f.data == "" {
		return serveFlags{}, errors.New("-data must not be empty")
	}
	f.hosts = splitFlagList(*hosts)
	if err := (gateway.Config{Path: f.path, AllowedOrigins: f.origins}).Validate(); err != nil {
		return serveFlags{}, fmt.Errorf("bad -path: %w", err)
	}
	if err := (gateway.Config{AllowedHosts: f.hosts}).Validate(); err != nil {
		return serveFlags{}, fmt.Errorf("bad -allowed-hosts: %w", err)
	}
	if len(f.hosts) == 0 {
		if _, err := gateway.DefaultAllowedHosts(f.addr); err != nil {
			// An address of every interface has no names to derive.
			return serveFlags{}, fmt.Errorf("-addr %s listens on every interface: list the names clients use for it with -allowed-hosts (e.g. -allowed-hosts example.com,192.0.2.10), or * to accept any Host, which allows DNS rebinding", f.addr)
		}
	}
	return f, nil
}

// defaultGCPercent is serve's --gc-percent when GOGC is not set. The
// server's live heap is small (a few MiB for the store's pending changes
// and the connections) while every request allocates, so at Go's default
// of 100 it collects many times a second; at 400 the collector's share of
// the CPU falls by about four, for a heap that peaks nearer five times
// the live one than two (docs/bench.md, "The collector's target").
const defaultGCPercent = 400

// parseGCPercent reads --gc-percent as the runtime reads GOGC: a whole
// number of percent, or off.
func parseGCPercent(s string) (int, error) {
	text := strings.TrimSpace(s)
	if strings.EqualFold(text, "off") {
		return -1, nil
	}
	n, err := strconv.Atoi(text)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad -gc-percent (or GOGC) %q: want a whole number of percent such as 400, or off", s)
	}
	return n, nil
}

// parseSize reads a positive byte size: a whole number with an optional
// unit B, KiB, MiB or GiB (KB, MB, GB and K, M, G mean the same powers of
// 1024).
func parseSize(s string) (int64, error) {
	text := strings.TrimSpace(s)
	num := strings.TrimRightFunc(text, func(r rune) bool { return r < '0' || r > '9' })
	shift := map[string]uint{"": 0, "b": 0, "k": 10, "kb": 10, "kib": 10, "m": 20, "mb": 20, "mib": 20, "g": 30, "gb": 30, "gib": 30}
	bits, ok := shift[strings.ToLower(strings.TrimSpace(text[len(num):]))]
	n, err := strconv.ParseInt(num, 10, 64)
	if !ok || err != nil || n <= 0 || n > math.MaxInt64>>bits {
		return 0, fmt.Errorf("%q: want a positive size such as 65536, 512KiB or 32MiB", s)
	}
	return n << bits, nil
}

// splitFlagList splits a comma-separated list, dropping empty items.
func splitFlagList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// runServe runs the server until ctx ends (SIGINT, SIGTERM), then shuts
// it down gracefully (see [gateway.ListenAndServe]). It returns 2 for bad
// flags and 1 when the server fails.
func runServe(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	f, err := parseServeFlags(args, os.Getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "bertsync serve: %v\n", err)
		return 2
	}
	// The setting is the process's: an in-process server (bertsync bench,
	// the tests) gives the process back its own when it returns.
	defer debug.SetGCPercent(debug.SetGCPercent(f.gcPercent))
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: f.level}))
	err = gateway.ListenAndServe(ctx, gateway.ServeConfig{
		Addr:            f.addr,
		DataDir:         f.data,
		Store:           f.store,
		ClusterAddr:     f.clusterAddr,
		Models:          f.models,
		Logger:          log,
		TLSCertFile:     f.tlsCert,
		TLSKeyFile:      f.tlsKey,
		MetricsAddr:     f.metricsAddr,
		ShutdownTimeout: f.shutdownTimeout,
		Gateway: gateway.Config{
			Path:            f.path,
			AllowedOrigins:  f.origins,
			MaxQueue:        f.maxQueue,
			MaxQueueSize:    int(f.maxQueueSize),
			MaxBodySize:     f.maxBody,
			MaxUploadSize:   f.maxUpload,
			UploadQuota:     f.uploadQuota,
			AllowedHosts:    f.hosts,
			MaxConns:        f.maxConns,
			MaxConnsPerAddr: f.maxConnsPerAddr,
			MaxPollSessions: f.maxPollSessions,
			MaxMessageRate:  f.rateLimit,
			MaxMessageBurst: f.rateBurst,
			Authenticator:   authenticator(f.jwt),
		},
		Actors: actors.Config{MaxMessageSize: int(f.maxMessage), Rules: f.rules},

		// The document model's bound on the types in the store.
		MaxTypes: f.maxTypes,
		History:  f.history,
	})
	if err != nil {
		log.Error("serve failed", "err", err)
		return 1
	}
	return 0
}

// loadAuth reads the key and rules files of DESIGN §6. With neither key
// there is no authentication, every caller is anonymous and, without a
// rules file, everything is public; with a key and no rules file every
// method needs an authenticated caller.
func loadAuth(secretFile, publicKeyFile, issuer, audience, rulesFile string) (*auth.JWT, *models.Rules, error) {
	var jwt *auth.JWT
	if secretFile != "" || publicKeyFile != "" {
		cfg := auth.JWTConfig{Issuer: issuer, Audience: audience}
		var err error
		if secretFile != "" {
			if cfg.Secret, err = auth.ReadSecretFile(secretFile); err != nil {
				return nil, nil, fmt.Errorf("bad -jwt-secret-file: %w", err)
			}
		}
		if publicKeyFile != "" {
			if cfg.PublicKeyPEM, err = auth.ReadPublicKeyFile(publicKeyFile); err != nil {
				return nil, nil, fmt.Errorf("bad -jwt-public-key-file: %w", err)
			}
		}
		if jwt, err = auth.NewJWT(cfg); err != nil {
			return nil, nil, fmt.Errorf("bad JWT settings: %w", err)
		}
	} else if issuer != "" || audience != "" {
		return nil, nil, errors.New("-jwt-issuer and -jwt-audience need -jwt-secret-file or -jwt-public-key-file")
	}
	if rulesFile == "" {
		return jwt, models.DefaultRules(jwt != nil), nil
	}
	data, err := os.ReadFile(rulesFile)
	if err != nil {
		return nil, nil, fmt.Errorf("bad -rules: %w", err)
	}
	rules, err := models.ParseRules(data)
	if err != nil {
		return nil, nil, fmt.Errorf("bad -rules %s: %w", rulesFile, err)
	}
	return jwt, rules, nil
}

// authenticator is jwt as the gateway's Authenticator: nil, not a typed
// nil, without one.
func authenticator(jwt *auth.JWT) gateway.Authenticator {
	if jwt == nil {
		return nil
	}
	return jwt
}

// parseHistory reads --history-size and --history-ttl. Their zero means
// none (no history, no age limit), which a models.HistoryConfig says
// with a negative value.
func parseHistory(size, ttl string) (models.HistoryConfig, error) {
	var h models.HistoryConfig
	n, err := strconv.Atoi(strings.TrimSpace(size))
	if err != nil || n < 0 {
		return h, fmt.Errorf("bad -history-size %q: want a number of events, 0 for none", size)
	}
	d, err := time.ParseDuration(strings.TrimSpace(ttl))
	if err != nil || d < 0 {
		return h, fmt.Errorf("bad -history-ttl %q: want a duration such as 24h, 0 for no age limit", ttl)
	}
	h.Size, h.TTL = n, d
	if n == 0 {
		h.Size = -1
	}
	if d == 0 {
		h.TTL = -1
	}
	return h, nil
}

// checkStoreFlags checks --store and --cluster-addr (DESIGN §7): a
// PostgreSQL URL needs a cluster address, and a cluster address a
// PostgreSQL store, which is how the nodes find each other.
func checkStoreFlags(store, clusterAddr string) error {
	if store != "" && !strings.HasPrefix(store, "postgres://") && !strings.HasPrefix(store, "postgresql://") {
		return fmt.Errorf("bad -store %q: want a postgres:// or postgresql:// URL, or nothing for bbolt in -data", store)
	}
	switch {
	case store != "" && clusterAddr == "":
		return errors.New("-store postgres://... needs -cluster-addr host:port, where this node listens for the others")
	case store == "" && clusterAddr != "":
		return errors.New("-cluster-addr needs -store postgres://...: the nodes find each other through the database")
	}
	if clusterAddr != "" {
		if _, _, err := net.SplitHostPort(clusterAddr); err != nil {
			return fmt.Errorf("bad -cluster-addr %q: want host:port", clusterAddr)
		}
	}
	return nil
}
