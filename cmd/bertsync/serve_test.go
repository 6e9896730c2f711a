package main

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bertsync/bertsync/bert"
)

func TestServeFlags(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"BERTSYNC_ADDR":         "0.0.0.0:9000",
		"BERTSYNC_MODELS":       "a, b,,c",
		"BERTSYNC_ALLOW_ORIGIN": "https://x.example",
		"BERTSYNC_LOG_LEVEL":    "debug",
		"BERTSYNC_MAX_UPLOAD":   "5 MiB",
	}
	getenv := func(k string) string { return env[k] }
	f, err := parseServeFlags([]string{"--addr", "127.0.0.1:0", "--path", "/rt", "--max-message", "64k"}, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if f.addr != "127.0.0.1:0" || f.path != "/rt" || f.data != "./data" ||
		strings.Join(f.models, "|") != "a|b|c" || strings.Join(f.origins, "|") != "https://x.example" ||
		f.level.String() != "DEBUG" || f.maxMessage != 64<<10 || f.maxBody != 1<<20 || f.maxUpload != 5<<20 {
		t.Fatalf("flags %+v", f)
	}
	for _, args := range [][]string{
		{"--log-level", "loud"},
		{"--no-such-flag"},
		{"extra"},
		{"--data", ""},
		{"--path", "/api"},
		{"--max-upload", "0"},
		{"--max-upload", "-1MiB"},
		{"--max-body", "12 parsecs"},
		{"--max-message", "3GiB"},
		{"--max-upload", "99999999999GiB"},
	} {
		if _, err := parseServeFlags(args, getenv, io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

func TestServeBadFlagsExit2(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	if code := runServe(t.Context(), []string{"--log-level", "loud"}, nil, io.Discard, &stderr); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "log-level") {
		t.Fatalf("message %q", stderr.String())
	}
	if code := runServe(t.Context(), []string{"--path", "/a b", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, nil, io.Discard, io.Discard); code != 2 {
		t.Fatalf("bad path: exit %d, want 2", code)
	}
}

// serveLog collects the server's log and reports the listening address.
type serveLog struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	addr chan string
}

var serveListeningRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

func (l *serveLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if m := serveListeningRE.FindSubmatch(p); m != nil {
		l.addr <- string(m[1])
	}
	return l.buf.Write(p)
}

func (l *serveLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// startServe runs bertsync serve on data and returns its address, its log,
// a function that stops it and its exit status channel.
func startServe(t *testing.T, data string) (string, *serveLog, context.CancelFunc, chan int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := &serveLog{addr: make(chan string, 1)}
	done := make(chan int, 1)
	go func() {
		done <- runServe(ctx, []string{"--addr", "127.0.0.1:0", "--data", data, "--log-level", "debug"}, nil, io.Discard, log)
	}()
	select {
	case addr := <-log.addr:
		return addr, log, cancel, done
	case code := <-done:
		cancel()
		t.Fatalf("serve exited %d: %s", code, log)
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatalf("serve did not log msg=listening: %s", log)
	}
	return "", nil, nil, nil
}

// roundTrip sends one request over a fresh WebSocket and returns the
// reply in Erlang text.
func roundTrip(t *testing.T, addr, request string) string {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/bullet", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req, err := bert.Parse(request)
	if err != nil {
		t.Fatal(err)
	}
	data, err := bert.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WriteMessage(websocket.BinaryMessage, data); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, reply, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := bert.Unmarshal(reply, &v); err != nil {
		t.Fatal(err)
	}
	s, err := bert.Format(v)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestServeShutdownAndRestart(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	addr, log, stop, done := startServe(t, data)
	if reply := roundTrip(t, addr, `{sync, create, character, [{id, <<"kate">>}, {name, <<"Kate">>}]}`); !strings.HasPrefix(reply, "{sync,ok,") {
		t.Fatalf("create: %s", reply)
	}
	// A client still connected when the signal comes is closed cleanly.
	c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/bullet", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	stop()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, log)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("serve did not stop: %s", log)
	}
	if !strings.Contains(log.String(), "msg=stopped") {
		t.Fatalf("no stopped line: %s", log)
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("open client got %v, want close 1001", err)
	}

	// The data is still there after a restart.
	addr, _, stop, done = startServe(t, data)
	defer func() { stop(); <-done }()
	if reply := roundTrip(t, addr, `{sync, read, character, [{id, <<"kate">>}]}`); !strings.Contains(reply, `<<"Kate">>`) {
		t.Fatalf("read after restart: %s", reply)
	}
}
