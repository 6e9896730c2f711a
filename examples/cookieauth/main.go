package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/bertsync/bertsync/actors"
	"github.com/bertsync/bertsync/gateway"
	"github.com/bertsync/bertsync/models"
)

// rulesJSON are the access rules, as a --rules file would hold them: a
// signed-in user creates documents of any type and reads, changes, deletes
// and hears of their own only (the server stamps the owner at create);
// broadcasts need a signed-in user, and carry their name in from.
const rulesJSON = `{"*": {"create": "authenticated", "read": "owner", "update": "owner", "patch": "owner",
	"delete": "owner", "subscribe": "owner", "broadcast": "authenticated"}}`

// config is what serve runs.
type config struct {
	addr, dataDir string
	// key signs the session cookies.
	key []byte
	// onListen, if not nil, gets the address once the server accepts
	// connections.
	onListen func(net.Addr)
}

func main() {
	cfg := config{key: make([]byte, 32)}
	flag.StringVar(&cfg.addr, "addr", "127.0.0.1:8083", "listen `address` host:port")
	flag.StringVar(&cfg.dataDir, "data", "./data", "data `directory` of the store and the uploads")
	flag.Parse()
	if _, err := rand.Read(cfg.key); err != nil {
		slog.Error("no key", "err", err)
		os.Exit(1)
	}
	cfg.onListen = func(a net.Addr) { slog.Info("sign in at http://" + a.String() + "/login") }
	// SIGINT or SIGTERM ends ctx, and the server shuts down gracefully.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := serve(ctx, cfg)
	stop()
	if err != nil {
		slog.Error("serve failed", "err", err)
		os.Exit(1)
	}
}

// shutdownTimeout bounds the graceful part of the shutdown.
const shutdownTimeout = 15 * time.Second

// serve runs the server until ctx ends: the program's /login and /logout
// beside the gateway, which serves everything else.
func serve(ctx context.Context, cfg config) (err error) {
	rules, err := models.ParseRules([]byte(rulesJSON))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.dataDir, 0o755); err != nil {
		return err
	}
	store, err := models.OpenStore(filepath.Join(cfg.dataDir, "bertsync.db"))
	if err != nil {
		return err
	}
	// Last, after everything that uses it has stopped.
	defer func() {
		if cerr := store.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	// The actors outlive ctx, so that the requests in flight when it
	// ends are answered.
	sys, err := actors.NewSystem(context.WithoutCancel(ctx), actors.Config{
		Documents: models.NewDocuments(store, nil),
		Rules:     rules,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		sys.Shutdown(context.Background())
		return err
	}
	// The names this server answers to, as ListenAndServe derives them.
	hosts, err := gateway.DefaultAllowedHosts(ln.Addr().String())
	if err != nil {
		ln.Close()
		sys.Shutdown(context.Background())
		return err
	}
	auth := &sessions{key: cfg.key, now: time.Now}
	gw, err := gateway.New(sys, gateway.Config{
		Authenticator: auth,
		AllowedHosts:  hosts,
		// AllowedOrigins stays empty, same origin only: a page of
		// another site never gets as far as the Authenticator, so it
		// cannot act with the visitor's cookie. Do not make it "*": the
		// gateway drops only its own bertsync_token cookie for such
		// pages, not this program's.
		DataDir: cfg.dataDir,
	})
	if err != nil {
		ln.Close()
		sys.Shutdown(context.Background())
		return err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", auth.loginForm)
	mux.HandleFunc("POST /login", auth.login)
	mux.HandleFunc("POST /logout", auth.logout)
	mux.Handle("/", gw)
	// No ReadTimeout or WriteTimeout: they would cut the long-lived
	// Bullet transports, which set their own deadlines.
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if cfg.onListen != nil {
		cfg.onListen(ln.Addr())
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
	}
	// As ListenAndServe does: the listener closes and the gateway
	// refuses new requests while the actors answer what is in flight and
	// end the sessions, which ends their connections.
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	var httpErr, gwErr error
	wg.Go(func() { httpErr = srv.Shutdown(sctx) })
	wg.Go(func() { gwErr = gw.Shutdown(sctx) })
	sysErr := sys.Shutdown(sctx)
	wg.Wait()
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", serveErr)
	}
	return errors.Join(httpErr, gwErr, sysErr)
}
