package main

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/bert/erltext"
	"github.com/bertsync/bertsync/models"
)

func TestServeFlags(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"BERTSYNC_ADDR":         "0.0.0.0:9000",
		"BERTSYNC_MODELS":       "a, b,,c",
		"BERTSYNC_ALLOW_ORIGIN": "https://x.example",
		"BERTSYNC_LOG_LEVEL":    "debug",
		"BERTSYNC_MAX_UPLOAD":   "5 MiB",
		"BERTSYNC_MAX_QUEUE":    "64",
		"BERTSYNC_MAX_CONNS":    "500",
		"BERTSYNC_RATE_BURST":   "7",
	}
	getenv := func(k string) string { return env[k] }
	f, err := parseServeFlags([]string{"--addr", "127.0.0.1:0", "--path", "/rt", "--max-message", "64k", "--max-queue-size", "1MiB"}, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if f.addr != "127.0.0.1:0" || f.path != "/rt" || f.data != "./data" ||
		strings.Join(f.models, "|") != "a|b|c" || strings.Join(f.origins, "|") != "https://x.example" ||
		f.level.String() != "DEBUG" || f.maxMessage != 64<<10 || f.maxBody != 1<<20 || f.maxUpload != 5<<20 ||
		f.maxQueue != 64 || f.maxQueueSize != 1<<20 {
		t.Fatalf("flags %+v", f)
	}
	if len(f.hosts) != 0 || f.maxConns != 500 || f.maxConnsPerAddr != 1000 || f.maxPollSessions != 10000 ||
		f.rateLimit != 100 || f.rateBurst != 7 {
		t.Fatalf("admission flags %+v", f)
	}
	// Every interface needs the names clients use.
	f, err = parseServeFlags([]string{"--allowed-hosts", "app.example, 192.0.2.1:8080,[::1]", "--max-conns-per-addr", "20",
		"--max-poll-sessions", "30", "--rate-limit", "5", "--rate-burst", ""}, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if f.addr != "0.0.0.0:9000" || strings.Join(f.hosts, "|") != "app.example|192.0.2.1:8080|[::1]" ||
		f.maxConnsPerAddr != 20 || f.maxPollSessions != 30 || f.rateLimit != 5 || f.rateBurst != 0 {
		t.Fatalf("admission flags %+v", f)
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
		{"--max-queue", "0"},
		{"--max-queue", "many"},
		{"--max-queue-size", "3GiB"},
		{"--allowed-hosts", "http://app.example"},
		{"--allowed-hosts", "app.example:http"},
		{"--max-conns", "0"},
		{"--max-conns-per-addr", "-1"},
		{"--max-poll-sessions", "lots"},
		{"--rate-limit", "0"},
		{"--rate-limit", "1.5"},
		{"--rate-burst", "0"},
		{"--addr", "0.0.0.0:8080"},
		{"--addr", ":8080"},
		{"--addr", "[::]:8080"},
	} {
		// On loopback, so that only the flag under test is wrong.
		args = append([]string{"--addr", "127.0.0.1:0"}, args...)
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
	stderr.Reset()
	if code := runServe(t.Context(), []string{"--addr", "0.0.0.0:0", "--data", t.TempDir()}, nil, io.Discard, &stderr); code != 2 ||
		!strings.Contains(stderr.String(), "every interface") || !strings.Contains(stderr.String(), "-allowed-hosts") {
		t.Fatalf("every interface without -allowed-hosts: exit %d, %q", code, stderr.String())
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

// startServe runs bertsync serve on data, with the flags extra, and
// returns its address, its log, a function that stops it and its exit
// status channel.
func startServe(t *testing.T, data string, extra ...string) (string, *serveLog, context.CancelFunc, chan int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := &serveLog{addr: make(chan string, 1)}
	done := make(chan int, 1)
	go func() {
		args := append([]string{"--addr", "127.0.0.1:0", "--data", data, "--log-level", "debug"}, extra...)
		done <- runServe(ctx, args, nil, io.Discard, log)
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
	req, err := erltext.Parse(request)
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
	s, err := erltext.Format(v)
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

func TestServeMaxTypesFlag(t *testing.T) {
	t.Parallel()
	none := func(string) string { return "" }
	f, err := parseServeFlags(nil, none, io.Discard)
	if err != nil || f.maxTypes != models.DefaultMaxTypes {
		t.Fatalf("default --max-types: %d, %v", f.maxTypes, err)
	}
	env := func(k string) string { return map[string]string{"BERTSYNC_MAX_TYPES": "12"}[k] }
	if f, err = parseServeFlags(nil, env, io.Discard); err != nil || f.maxTypes != 12 {
		t.Fatalf("BERTSYNC_MAX_TYPES=12: %d, %v", f.maxTypes, err)
	}
	if f, err = parseServeFlags([]string{"--max-types", "3"}, env, io.Discard); err != nil || f.maxTypes != 3 {
		t.Fatalf("--max-types 3 over the environment: %d, %v", f.maxTypes, err)
	}
	for _, bad := range []string{"0", "-1", "lots"} {
		if _, err := parseServeFlags([]string{"--max-types", bad}, none, io.Discard); err == nil {
			t.Errorf("--max-types %s accepted", bad)
		}
	}
}

func TestServeGCPercentFlag(t *testing.T) {
	t.Parallel()
	none := func(string) string { return "" }
	if f, err := parseServeFlags(nil, none, io.Discard); err != nil || f.gcPercent != defaultGCPercent {
		t.Fatalf("default --gc-percent: %d, %v", f.gcPercent, err)
	}
	for gogc, want := range map[string]int{"off": -1, "OFF": -1, "50": 50, " 0": 0} {
		env := func(k string) string { return map[string]string{"GOGC": gogc}[k] }
		if f, err := parseServeFlags(nil, env, io.Discard); err != nil || f.gcPercent != want {
			t.Errorf("GOGC=%q: %d, %v; want %d", gogc, f.gcPercent, err, want)
		}
	}
	env := func(k string) string { return map[string]string{"GOGC": "off"}[k] }
	if f, err := parseServeFlags([]string{"--gc-percent", "200"}, env, io.Discard); err != nil || f.gcPercent != 200 {
		t.Fatalf("--gc-percent 200 over GOGC=off: %d, %v", f.gcPercent, err)
	}
	for _, bad := range []string{"-5", "lots", "1.5", ""} {
		_, err := parseServeFlags([]string{"--gc-percent", bad}, none, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "gc-percent") {
			t.Errorf("--gc-percent %q: %v", bad, err)
		}
	}
}

// TestServeSetsGCPercent is not parallel: the setting is the process's,
// and the parallel tests' servers set it too.
func TestServeSetsGCPercent(t *testing.T) {
	gogc := func() uint64 {
		sample := []metrics.Sample{{Name: "/gc/gogc:percent"}}
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	before := gogc()
	if before == 250 {
		t.Fatalf("the process already collects at 250%%, the value under test")
	}
	_, log, stop, done := startServe(t, t.TempDir(), "--gc-percent", "250")
	if got := gogc(); got != 250 {
		stop()
		<-done
		t.Fatalf("while serving with --gc-percent 250 the runtime's target is %d%%", got)
	}
	stop()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, log)
	}
	if got := gogc(); got != before {
		t.Fatalf("after serve the runtime's target is %d%%, was %d%%", got, before)
	}
}
