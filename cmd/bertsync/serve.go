package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/bertsync/bertsync/gateway"
)

// serveFlags are the settings of bertsync serve.
type serveFlags struct {
	addr, data, path string
	models, origins  []string
	level            slog.Level
	// Zero sizes leave the gateway's defaults.
	maxMessage, maxBody, maxUpload int64
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
	origins := fs.String("allow-origin", env("BERTSYNC_ALLOW_ORIGIN", ""), "comma-separated `origins` allowed besides the server's own, * for any [BERTSYNC_ALLOW_ORIGIN]")
	level := fs.String("log-level", env("BERTSYNC_LOG_LEVEL", "info"), "log `level`: debug, info, warn or error [BERTSYNC_LOG_LEVEL]")
	maxMessage := fs.String("max-message", env("BERTSYNC_MAX_MESSAGE", "1MiB"), "largest Bullet message `size` (B, KiB, MiB, GiB) [BERTSYNC_MAX_MESSAGE]")
	maxBody := fs.String("max-body", env("BERTSYNC_MAX_BODY", "1MiB"), "largest REST JSON body `size` [BERTSYNC_MAX_BODY]")
	maxUpload := fs.String("max-upload", env("BERTSYNC_MAX_UPLOAD", "32MiB"), "largest uploaded file `size` [BERTSYNC_MAX_UPLOAD]")
	if err := fs.Parse(args); err != nil {
		return serveFlags{}, err
	}
	if fs.NArg() > 0 {
		return serveFlags{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	f := serveFlags{addr: *addr, data: *data, path: *path, models: splitFlagList(*modelList), origins: splitFlagList(*origins)}
	if err := f.level.UnmarshalText([]byte(*level)); err != nil {
		return serveFlags{}, fmt.Errorf("bad -log-level %q: want debug, info, warn or error", *level)
	}
	for _, size := range []struct {
		name string
		text string
		dst  *int64
	}{{"max-message", *maxMessage, &f.maxMessage}, {"max-body", *maxBody, &f.maxBody}, {"max-upload", *maxUpload, &f.maxUpload}} {
		n, err := parseSize(size.text)
		if err != nil {
			return serveFlags{}, fmt.Errorf("bad -%s: %w", size.name, err)
		}
		*size.dst = n
	}
	if f.maxMessage > math.MaxInt32 {
		return serveFlags{}, errors.New("bad -max-message: at most 2GiB")
	}
	if f.data == "" {
		return serveFlags{}, errors.New("-data must not be empty")
	}
	if err := (gateway.Config{Path: f.path, AllowedOrigins: f.origins}).Validate(); err != nil {
		return serveFlags{}, fmt.Errorf("bad -path: %w", err)
	}
	return f, nil
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
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: f.level}))
	err = gateway.ListenAndServe(ctx, gateway.ServeConfig{
		Addr:    f.addr,
		DataDir: f.data,
		Models:  f.models,
		Logger:  log,
		// The actors' MaxFrameSize follows MaxMessageSize.
		Gateway: gateway.Config{
			Path:           f.path,
			AllowedOrigins: f.origins,
			MaxMessageSize: int(f.maxMessage),
			MaxBodySize:    f.maxBody,
			MaxUploadSize:  f.maxUpload,
		},
	})
	if err != nil {
		log.Error("serve failed", "err", err)
		return 1
	}
	return 0
}
