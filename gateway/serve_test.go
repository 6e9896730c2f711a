package gateway

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bertsync/bertsync/actors"
	"github.com/bertsync/bertsync/models"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startListenAndServe runs ListenAndServe with cfg and returns the address
// it reported to OnListen, a function that stops it and the channel of its
// result.
func startListenAndServe(t *testing.T, cfg ServeConfig) (string, context.CancelFunc, chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	cfg.OnListen = func(a net.Addr) { addrc <- a.String() }
	done := make(chan error, 1)
	go func() { done <- ListenAndServe(ctx, cfg) }()
	t.Cleanup(cancel)
	select {
	case addr := <-addrc:
		return addr, cancel, done
	case err := <-done:
		t.Fatalf("ListenAndServe: %v", err)
	case <-time.After(waitLimit):
		t.Fatal("ListenAndServe did not call OnListen")
	}
	return "", nil, nil
}

// waitServe waits for the result of ListenAndServe.
func waitServe(t *testing.T, done chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(waitLimit):
		t.Fatal("ListenAndServe did not return")
		return nil
	}
}

// dialAddr opens a WebSocket to the Bullet endpoint at addr.
func dialAddr(t *testing.T, addr, path string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+path, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestListenAndServe(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	ln := newTestListener(t, false)
	registry := models.NewRegistry()
	err := registry.Register("clock", models.HandlerFunc(func(context.Context, models.Request) (any, error) {
		return models.Props{{Key: "id", Value: []byte("now")}}, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	var log syncBuffer
	cfg := ServeConfig{
		Listener: ln,
		DataDir:  data,
		Registry: registry,
		Models:   []string{"note"},
		Logger:   slog.New(slog.NewTextHandler(&log, nil)),
		Gateway:  Config{Path: "/rt/"},
	}
	addr, stop, done := startListenAndServe(t, cfg)
	if addr != ln.Addr().String() {
		t.Errorf("OnListen got %s, want the listener's %s", addr, ln.Addr())
	}
	if want := "msg=listening addr=" + addr + " path=/rt data=" + data; !strings.Contains(log.String(), want) {
		t.Errorf("log has no %q:\n%s", want, log.String())
	}

	c := dialAddr(t, addr, "/rt")
	var noteID string
	for _, call := range [][2]string{
		{`{sync, create, note, [{text, <<"buy milk">>}]}`, `{sync,ok,[{id,ID1},{text,<<"buy milk">>}]}`},
		{`{sync, read, clock, []}`, `{sync,ok,[{id,<<"now">>}]}`},
		{`{sync, read, todo, []}`, `{sync,error,{not_found,<<"unknown model type \"todo\"">>}}`},
	} {
		sendBinary(t, c, call[0])
		_, got := readTerm(t, c)
		got, id := nameGeneratedID(got)
		if id != "" {
			noteID = id
		}
		if got != call[1] {
			t.Errorf("%s\n got %s\nwant %s", call[0], got, call[1])
		}
	}

	// A client still connected is closed cleanly (and answers the close,
	// so the server need not wait for it).
	stop()
	c.SetReadDeadline(time.Now().Add(waitLimit))
	if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Errorf("open client got %v, want close 1001", err)
	}
	if err := waitServe(t, done); err != nil {
		t.Fatalf("ListenAndServe: %v\n%s", err, log.String())
	}
	for _, want := range []string{"msg=\"shutting down\"", "msg=stopped"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log has no %s:\n%s", want, log.String())
		}
	}
	if !ln.isClosed() {
		t.Error("the listener was not closed")
	}
	// The store is closed, and what was written is in it.
	store, err := models.OpenStore(filepath.Join(data, "bertsync.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if props, err := store.Get(context.Background(), "note", noteID); err != nil || len(props) == 0 {
		t.Errorf("note %q after the shutdown: %v %v", noteID, props, err)
	}
}

// generatedID is an id the document model makes (DESIGN §6) as a
// formatted term: 29 characters of lowercase base32hex.
var generatedID = regexp.MustCompile(`\{id,<<"([0-9a-v]{29})">>\}`)

// nameGeneratedID returns term with its first generated id written as
// {id,ID1}, so that a reply can be compared with a literal, and the id.
func nameGeneratedID(term string) (named, id string) {
	m := generatedID.FindStringSubmatchIndex(term)
	if m == nil {
		return term, ""
	}
	return term[:m[0]] + "{id,ID1}" + term[m[1]:], term[m[2]:m[3]]
}

// testListener is a loopback listener that records its closing and,
// with fail set, fails every Accept for good.
type testListener struct {
	net.Listener
	fail   bool
	closed chan struct{}
	once   sync.Once
}

var errAccept = errors.New("accept failed")

func newTestListener(t *testing.T, fail bool) *testListener {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inner.Close() })
	return &testListener{Listener: inner, fail: fail, closed: make(chan struct{})}
}

func (l *testListener) Accept() (net.Conn, error) {
	if l.fail {
		return nil, errAccept
	}
	return l.Listener.Accept()
}

func (l *testListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

func (l *testListener) isClosed() bool {
	select {
	case <-l.closed:
		return true
	default:
		return false
	}
}

// checkStoreClosed fails the test if the store in data is still open.
func checkStoreClosed(t *testing.T, data string) {
	t.Helper()
	store, err := models.OpenStore(filepath.Join(data, "bertsync.db"))
	if err != nil {
		t.Fatal(err)
	}
	store.Close()
}

func TestListenAndServeServerFails(t *testing.T) {
	t.Parallel()
	ln := newTestListener(t, true)
	data := t.TempDir()
	_, _, done := startListenAndServe(t, ServeConfig{Listener: ln, DataDir: data, Logger: slog.New(slog.DiscardHandler)})
	if err := waitServe(t, done); !errors.Is(err, errAccept) {
		t.Fatalf("got %v, want %v", err, errAccept)
	}
	if !ln.isClosed() {
		t.Error("the listener was not closed")
	}
	checkStoreClosed(t, data)
}

func TestListenAndServeErrors(t *testing.T) {
	t.Parallel()
	busy := newTestListener(t, false)
	data := t.TempDir()
	for _, tt := range []struct {
		name   string
		cfg    ServeConfig
		listen bool // give it a Listener
	}{
		{"no data directory", ServeConfig{}, true},
		{"actors registry", ServeConfig{DataDir: data, Actors: actors.Config{Registry: models.NewRegistry()}}, true},
		{"actors documents", ServeConfig{DataDir: data, Actors: actors.Config{Documents: &models.Documents{}}}, true},
		{"bad path", ServeConfig{DataDir: data, Gateway: Config{Path: "/api"}}, true},
		{"address in use", ServeConfig{DataDir: data, Addr: busy.Addr().String()}, false},
		{"bad address", ServeConfig{DataDir: data, Addr: "127.0.0.1:no-such-port"}, false},
	} {
		cfg := tt.cfg
		ln := newTestListener(t, false)
		if tt.listen {
			cfg.Listener = ln
		}
		cfg.Logger = slog.New(slog.DiscardHandler)
		listening := false
		cfg.OnListen = func(net.Addr) { listening = true }
		if err := ListenAndServe(context.Background(), cfg); err == nil || listening {
			t.Errorf("%s: got %v, OnListen called %v; want an error before listening", tt.name, err, listening)
		}
		if tt.listen && !ln.isClosed() {
			t.Errorf("%s: the listener was not closed", tt.name)
		}
	}
	// Whatever failed, the store was closed.
	checkStoreClosed(t, data)
}

func TestServeConfigDefaults(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.DiscardHandler)
	c, err := ServeConfig{DataDir: "d", Logger: log}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != DefaultAddr || c.ShutdownTimeout != DefaultShutdownTimeout ||
		c.Gateway.DataDir != "d" || c.Gateway.Logger != log || c.Actors.Logger != log {
		t.Errorf("defaults %+v", c)
	}
	// Settings of their own are kept.
	other := slog.New(slog.DiscardHandler)
	c, err = ServeConfig{
		DataDir:         "d",
		Gateway:         Config{DataDir: "uploads", Logger: other},
		Actors:          actors.Config{MaxMessageSize: -1},
		ShutdownTimeout: -1,
	}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.Gateway.DataDir != "uploads" || c.Gateway.Logger != other || c.Logger != slog.Default() ||
		c.Actors.Logger != slog.Default() || c.Actors.MaxMessageSize != -1 || c.ShutdownTimeout != -1 {
		t.Errorf("own settings lost: %+v", c)
	}
}
