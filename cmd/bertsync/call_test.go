package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/bert/erltext"
	"github.com/gorilla/websocket"
)

// callServer starts `bertsync serve` in this process for one test.
func callServer(t *testing.T) string {
	t.Helper()
	addr, _, stop, done := startServe(t, t.TempDir())
	t.Cleanup(func() {
		stop()
		<-done
	})
	return "ws://" + addr + "/bullet"
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runCallT runs `bertsync call args…` and returns its status and output.
func runCallT(ctx context.Context, args ...string) (int, string, string) {
	var out, errb syncBuffer
	code := runCall(ctx, args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// parseLines reads every output line back as a term.
func parseLines(t *testing.T, out string) []bert.Tuple {
	t.Helper()
	var terms []bert.Tuple
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		term, err := erltext.Parse(line)
		if err != nil {
			t.Fatalf("output line %q does not parse: %v\nall output:\n%s", line, err, out)
		}
		tup, ok := term.(bert.Tuple)
		if !ok {
			t.Fatalf("output line %q is not a tuple", line)
		}
		terms = append(terms, tup)
	}
	return terms
}

func propOf(props any, key string) any {
	l, _ := props.(bert.List)
	for _, e := range l {
		if kv, ok := e.(bert.Tuple); ok && len(kv) == 2 {
			if k, _ := bert.AsString(kv[0]); k == key {
				return kv[1]
			}
		}
	}
	return nil
}

func asBytes(v any) []byte {
	b, _ := v.([]byte)
	return b
}

func TestCallCreateRead(t *testing.T) {
	url := callServer(t)
	for _, mode := range [][]string{nil, {"--text"}, {"--profile", "erlang"}} {
		args := append(append([]string{}, mode...), url,
			`{sync, create, character, [{id, <<"frodo">>}, {name, <<"Frodo">>}, {level, 3}]}`,
			`{sync, read, character, [{id, "frodo"}], ref1}`,
			`{sync, delete, character, [{id, <<"frodo">>}]}`,
			`{sync, read, character, [{id, <<"frodo">>}]}`)
		code, out, errs := runCallT(context.Background(), args...)
		if code != 0 {
			t.Fatalf("%v: exit %d, stderr %s", mode, code, errs)
		}
		lines := parseLines(t, out)
		if len(lines) != 4 {
			t.Fatalf("%v: want 4 replies, got:\n%s", mode, out)
		}
		if lines[0][1] != bert.Atom("ok") || !bytes.Equal(asBytes(propOf(lines[0][2], "name")), []byte("Frodo")) {
			t.Fatalf("%v: create reply %v", mode, lines[0])
		}
		if len(lines[1]) != 4 || lines[1][3] != bert.Atom("ref1") || propOf(lines[1][2], "level") != int64(3) {
			t.Fatalf("%v: read reply %v", mode, lines[1])
		}
		if reason, _ := lines[3][2].(bert.Tuple); lines[3][1] != bert.Atom("error") || len(reason) != 2 || reason[0] != bert.Atom("not_found") {
			t.Fatalf("%v: read after delete %v", mode, lines[3])
		}
	}
}

func TestCallPretty(t *testing.T) {
	url := callServer(t)
	long := strings.Repeat("x", 100)
	code, out, errs := runCallT(context.Background(), "--pretty", url,
		`{sync, create, note, [{id, <<"n">>}, {a, <<"`+long+`">>}, {b, <<"`+long+`">>}]}`)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if strings.Count(strings.TrimSpace(out), "\n") == 0 {
		t.Fatalf("--pretty printed one line:\n%s", out)
	}
	term, err := erltext.Parse(out)
	if err != nil {
		t.Fatalf("pretty output does not parse: %v\n%s", err, out)
	}
	if t2, ok := term.(bert.Tuple); !ok || t2[1] != bert.Atom("ok") {
		t.Fatalf("pretty output %s", out)
	}
}

// TestCallListen: one call subscribes and listens, another makes changes;
// the listener prints the pushes and exits 0 when interrupted.
func TestCallListen(t *testing.T) {
	url := callServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- runCall(ctx, []string{"--listen", url, `{sync, subscribe, quest, []}`}, strings.NewReader(""), &out, &errb)
	}()
	waitFor(t, func() bool { return strings.Count(out.String(), "\n") >= 1 }, "the subscribe reply")

	code, _, errs := runCallT(context.Background(), url,
		`{sync, create, quest, [{id, <<"q1">>}]}`, `{sync, broadcast, quest, [{text, <<"hi">>}]}`)
	if code != 0 {
		t.Fatalf("second call: exit %d %s", code, errs)
	}
	waitFor(t, func() bool { return strings.Count(out.String(), "\n") >= 3 }, "two pushes")
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("listener exit %d: %s", code, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("listener did not stop after the interrupt")
	}
	lines := parseLines(t, out.String())
	if len(lines) != 3 || len(lines[1]) != 5 || lines[1][1] != bert.Atom("created") || lines[2][1] != bert.Atom("broadcast") {
		t.Fatalf("listener printed:\n%s", out.String())
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for limit := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(limit) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// scripted starts a WebSocket server that answers each message with the
// frames script returns for it.
func scripted(t *testing.T, script func(msg []byte) [][]byte) string {
	t.Helper()
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			_, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			for _, f := range script(msg) {
				if c.WriteMessage(websocket.BinaryMessage, f) != nil {
					return
				}
			}
		}
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/bullet"
}

func mustMarshal(t *testing.T, text string) []byte {
	t.Helper()
	term, err := erltext.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bert.Marshal(term)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCallPushBeforeReply: pushes that arrive while a reply is awaited are
// printed, and do not count as the reply.
func TestCallPushBeforeReply(t *testing.T) {
	push := mustMarshal(t, `{sync, updated, quest, [{id, <<"q">>}], 7}`)
	reply := mustMarshal(t, `{sync, ok, done}`)
	url := scripted(t, func([]byte) [][]byte { return [][]byte{push, push, reply} })
	code, out, errs := runCallT(context.Background(), url, `{sync, read, quest, []}`)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	want := "{sync,updated,quest,[{id,<<\"q\">>}],7}\n{sync,updated,quest,[{id,<<\"q\">>}],7}\n{sync,ok,done}\n"
	if strings.ReplaceAll(out, " ", "") != want {
		t.Fatalf("output:\n%s\nwant:\n%s", out, want)
	}
}

func TestCallTimeout(t *testing.T) {
	url := scripted(t, func([]byte) [][]byte { return nil })
	start := time.Now()
	code, _, errs := runCallT(context.Background(), "--timeout", "300ms", url, `{sync, read, quest, []}`)
	if code != 1 || !strings.Contains(errs, "no reply to term 1 within 300ms") {
		t.Fatalf("exit %d, stderr %q; want 1 and a timeout message", code, errs)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("timeout took %v", time.Since(start))
	}
}

func TestCallErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"bad term", []string{"ws://127.0.0.1:1/bullet", "{sync, read"}, 2, "term 1"},
		{"second term bad", []string{"ws://127.0.0.1:1/bullet", "{sync, read, a, []}", "Var"}, 2, "term 2"},
		{"no terms", []string{"ws://127.0.0.1:1/bullet"}, 2, "at least one TERM"},
		{"no args", nil, 2, "need a URL"},
		{"bad scheme", []string{"ftp://x/y", "a"}, 2, "scheme"},
		{"bad flag", []string{"--nope", "ws://x", "a"}, 2, "nope"},
		{"bad profile", []string{"--profile", "json", "ws://x", "a"}, 2, "profile"},
		{"refused", []string{"ws://" + closed + "/bullet", "{sync, read, a, []}"}, 1, "connect"},
		{"refused names the cause", []string{"ws://" + closed + "/bullet", "{sync, read, a, []}"}, 1, "refused"},
	} {
		code, out, errs := runCallT(context.Background(), tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Errorf("%s: exit %d stderr %q; want exit %d mentioning %q", tc.name, code, errs, tc.code, tc.msg)
		}
		if out != "" {
			t.Errorf("%s: stdout %q, want nothing", tc.name, out)
		}
	}

	// An HTTP server that is not a WebSocket endpoint.
	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()
	code, _, errs := runCallT(context.Background(), plain.URL+"/bullet", "{sync, read, a, []}")
	if code != 1 || !strings.Contains(errs, "404") {
		t.Errorf("plain HTTP: exit %d stderr %q", code, errs)
	}
}

func TestCallURL(t *testing.T) {
	for in, want := range map[string]string{
		"ws://h:1/bullet":    "ws://h:1/bullet",
		"http://h:1/bullet":  "ws://h:1/bullet",
		"https://h/x":        "wss://h/x",
		"127.0.0.1:8080":     "ws://127.0.0.1:8080/bullet",
		"ws://h:1":           "ws://h:1/bullet",
		"wss://h:1/p?x=1":    "wss://h:1/p?x=1",
		"localhost:9/custom": "ws://localhost:9/custom",
	} {
		got, err := callURL(in)
		if err != nil || got != want {
			t.Errorf("callURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestCallRefusedOrigin: the server's reason for refusing the handshake
// reaches the user.
func TestCallRefusedOrigin(t *testing.T) {
	url := callServer(t)
	code, out, errs := runCallT(context.Background(), "--origin", "http://evil.example", url, "{sync, read, a, []}")
	if code != 1 || !strings.Contains(errs, "403") || !strings.Contains(errs, "evil.example") || out != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q; want 1 with the 403 and its reason", code, out, errs)
	}
}
