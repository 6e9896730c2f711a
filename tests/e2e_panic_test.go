package tests

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bertsync/bertsync/actors"
	"github.com/bertsync/bertsync/gateway"
	"github.com/bertsync/bertsync/models"
)

// TestE2EPanickingHandler runs the real gateway and actor system in this
// process (bertsync serve registers no Go handler that could panic) with
// a model whose handler panics on demand, and talks to it over the tests'
// own WebSocket client: the panicking request gets {sync, error,
// {internal, …}}, the model actor is restarted and serves the next
// request, and the connection, its subscriptions and other connections
// go on.
func TestE2EPanickingHandler(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	reg := models.NewRegistry()
	err := reg.Register("volatile", models.HandlerFunc(func(ctx context.Context, req models.Request) (any, error) {
		calls.Add(1)
		if v, ok := req.Props.Get("explode"); ok && e2eText(v) == "yes" {
			panic("volatile: told to explode")
		}
		if req.Method == models.Read {
			return models.Props{{Key: "id", Value: []byte(req.ID)}, {Key: "calls", Value: calls.Load()}}, nil
		}
		return models.Props{{Key: "id", Value: []byte("v1")}, {Key: "method", Value: []byte(req.Method)}}, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	store, err := models.OpenStore(t.TempDir() + "/bertsync.db")
	if err != nil {
		t.Fatal(err)
	}
	logs := &e2eLogCapture{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	sys, err := actors.NewSystem(ctx, actors.Config{Registry: reg, Documents: models.NewDocuments(store, nil), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	gw, err := gateway.New(sys, gateway.Config{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		go gw.Shutdown(sctx)
		sys.Shutdown(sctx)
		srv.Close()
		store.Close()
		cancel()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	addr := strings.TrimPrefix(srv.URL, "http://")

	a := e2eDial(t, addr, false)
	b := e2eDial(t, addr, true)
	b.OK(e2eT{e2eA("sync"), e2eA("subscribe"), e2eA("volatile"), e2eL{}})
	a.OK(e2eT{e2eA("sync"), e2eA("read"), e2eA("volatile"), e2eProps("id", []byte("x"))})

	for i := range 3 { // more than once: the supervisor keeps restarting
		r := a.Call(e2eT{e2eA("sync"), e2eA("update"), e2eA("volatile"), e2eProps("id", []byte("x"), "explode", []byte("yes")), int64(i)})
		if r.OK || r.Code != "internal" || r.Ref != int64(i) {
			t.Fatalf("panicking request %d: %s, want {sync, error, {internal, _}, %d}", i, e2eFmt(r.Term), i)
		}
		if strings.Contains(r.Reason, "told to explode") {
			t.Errorf("the internal error leaks the panic value to the client: %q", r.Reason)
		}
		// The actor was restarted and serves the same connection.
		got := a.OK(e2eT{e2eA("sync"), e2eA("read"), e2eA("volatile"), e2eProps("id", []byte("y"))})
		if v, _ := e2eGet(got, "id"); e2eText(v) != "y" {
			t.Fatalf("after panic %d: %s", i, e2eFmt(got))
		}
	}
	// The subscriber kept its subscription across the restarts and hears
	// the next change; the generic document model on the same server was
	// never affected.
	a.OK(e2eT{e2eA("sync"), e2eA("update"), e2eA("volatile"), e2eProps("id", []byte("v1"))})
	if p := b.Push(); p.Event != "updated" || p.Model != "volatile" {
		t.Fatalf("subscriber after restarts got %s", e2eFmt(p.Term))
	}
	b.OK(e2eT{e2eA("sync"), e2eA("create"), e2eA("plain"), e2eProps("id", []byte("p"))})
	b.Quiet()
	if !strings.Contains(logs.String(), "explode") {
		t.Errorf("the panic was not logged")
	}
}

// e2eLogCapture collects the in-process server's logs.
type e2eLogCapture struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *e2eLogCapture) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *e2eLogCapture) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

var _ io.Writer = (*e2eLogCapture)(nil)
