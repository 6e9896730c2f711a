package main

import (
	"context"
	"log/slog"
	"net"
	"os"

	"github.com/bertsync/bertsync/gateway"
)

// serveBertsync runs bertsync as `bertsync serve` does, on a temporary data
// directory, with every setting at its default but the admission limits:
// the bench is one client address with thousands of connections, past
// the default MaxConnsPerAddr.
func serveBertsync(ctx context.Context, listening func(addr string)) error {
	dir, err := os.MkdirTemp("", "bertsync-peerbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	return gateway.ListenAndServe(ctx, gateway.ServeConfig{
		Addr:     "127.0.0.1:0",
		DataDir:  dir,
		Logger:   slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		OnListen: func(a net.Addr) { listening(a.String()) },
		Gateway: gateway.Config{
			MaxConns:        maxServerConns,
			MaxConnsPerAddr: maxServerConns,
		},
	})
}

// maxServerConns is the admission limit of both servers: above what a run
// opens, so that neither refuses a connection.
const maxServerConns = 100_000
