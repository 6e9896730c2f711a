package actors

import (
	"context"
	"log/slog"
)

// quieterHandler passes records to h one level lower: protoactor-go logs
// routine events (system started, dead letters, restarts) at Info, which
// belong at Debug in a server's log. Warn and Error keep their level.
type quieterHandler struct{ h slog.Handler }

func (q quieterHandler) lower(l slog.Level) slog.Level {
	if l < slog.LevelWarn {
		return l - 4
	}
	return l
}

func (q quieterHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return q.h.Enabled(ctx, q.lower(l))
}

func (q quieterHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Level = q.lower(r.Level)
	return q.h.Handle(ctx, r)
}

func (q quieterHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return quieterHandler{q.h.WithAttrs(attrs)}
}

func (q quieterHandler) WithGroup(name string) slog.Handler {
	return quieterHandler{q.h.WithGroup(name)}
}

// protoactorLogger is the logger protoactor-go gets instead of its default
// coloured one on stderr.
func protoactorLogger(l *slog.Logger) *slog.Logger {
	return slog.New(quieterHandler{l.Handler()}).With("lib", "protoactor")
}
