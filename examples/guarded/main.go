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
	"syscall"
	"time"

	"github.com/bertsync/bertsync/actors"
	"github.com/bertsync/bertsync/auth"
	"github.com/bertsync/bertsync/gateway"
	"github.com/bertsync/bertsync/models"
)

// rulesJSON are the access rules, as a --rules file would hold them: every
// client request of character goes on to the handler's Allow, which
// decides; any other type is named by neither "character" nor "*", so it
// is "none", and the document model beneath serves no client.
const rulesJSON = `{"character": {"create": "public", "read": "public", "update": "public",
	"patch": "public", "delete": "public", "subscribe": "public", "broadcast": "public"}}`

// config is what serve runs.
type config struct {
	addr, issuerAddr, dataDir string
	// secret is the HMAC key the issuer signs with and the server checks.
	secret []byte
	// onListen, if not nil, gets the server's and the issuer's addresses
	// once both accept connections.
	onListen func(app, issuer net.Addr)
}

func main() {
	cfg := config{}
	flag.StringVar(&cfg.addr, "addr", "127.0.0.1:8081", "listen `address` of the bertsync server")
	flag.StringVar(&cfg.issuerAddr, "issuer-addr", "127.0.0.1:8082", "listen `address` of the example identity provider")
	flag.StringVar(&cfg.dataDir, "data", "./data", "data `directory` (uploads)")
	secretFile := flag.String("jwt-secret-file", "", "HMAC key `file` (as bertsync serve reads it); empty: a random key for this run")
	flag.Parse()
	if err := run(cfg, *secretFile); err != nil {
		slog.Error("serve failed", "err", err)
		os.Exit(1)
	}
}

func run(cfg config, secretFile string) error {
	var err error
	if secretFile != "" {
		cfg.secret, err = auth.ReadSecretFile(secretFile)
	} else {
		cfg.secret = make([]byte, 32)
		_, err = rand.Read(cfg.secret)
	}
	if err != nil {
		return err
	}
	// SIGINT or SIGTERM ends ctx, and the server shuts down gracefully.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg.onListen = func(app, issuer net.Addr) {
		slog.Info("sign in at http://" + issuer.String() + "/ to open the demo app with a token")
	}
	return serve(ctx, cfg)
}

// serve runs the bertsync server, with JWT authentication and the
// guarded character type, and the example issuer beside it, until ctx
// ends.
func serve(ctx context.Context, cfg config) error {
	// What bertsync serve --jwt-secret-file F --jwt-issuer … builds.
	checker, err := auth.NewJWT(auth.JWTConfig{Secret: cfg.secret, Issuer: issuerName})
	if err != nil {
		return err
	}
	rules, err := models.ParseRules([]byte(rulesJSON))
	if err != nil {
		return err
	}
	registry := models.NewRegistry()
	if err := registry.Register("character", NewCharacters()); err != nil {
		return err
	}
	// Both listeners first: the issuer must know the server's address to
	// send browsers there.
	appLn, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	issuerLn, err := net.Listen("tcp", cfg.issuerAddr)
	if err != nil {
		appLn.Close()
		return err
	}
	is := &issuer{secret: cfg.secret, app: "http://" + appLn.Addr().String(), now: time.Now}
	issuerSrv := &http.Server{Handler: is.routes(), ReadHeaderTimeout: 10 * time.Second}
	issued := make(chan error, 1)
	go func() { issued <- issuerSrv.Serve(issuerLn) }()

	err = gateway.ListenAndServe(ctx, gateway.ServeConfig{
		Listener: appLn, // ListenAndServe closes it
		DataDir:  cfg.dataDir,
		Registry: registry,
		Gateway:  gateway.Config{Authenticator: checker},
		Actors:   actors.Config{Rules: rules},
		OnListen: func(a net.Addr) {
			if cfg.onListen != nil {
				cfg.onListen(a, issuerLn.Addr())
			}
		},
	})

	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if serr := issuerSrv.Shutdown(sctx); serr != nil {
		err = errors.Join(err, fmt.Errorf("issuer shutdown: %w", serr))
	}
	if ierr := <-issued; !errors.Is(ierr, http.ErrServerClosed) {
		err = errors.Join(err, fmt.Errorf("issuer: %w", ierr))
	}
	return err
}
