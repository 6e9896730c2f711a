package tests

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The browser tests live in tests/browser as node test files driving
// Debian's Chromium through playwright-core. TestBrowser takes the real
// binary TestMain built, serves a temporary data directory with it, and runs
// `node --test` there with these environment variables:
//
//	BERTSYNC_URL        the server's base URL, http://127.0.0.1:PORT
//	BERTSYNC_CONTROL    a control endpoint: POST /stop (?signal=kill for
//	                    SIGKILL) stops the server, POST /start starts it
//	                    again on the same address and data directory; each
//	                    answers once done
//	BERTSYNC_CHROMIUM   the Chromium executable
//	BERTSYNC_ARTIFACTS  where screenshots go (tests/browser/artifacts)
//
// When a file whose name contains "auth" runs, a second server checks
// tokens: `serve --jwt-secret-file F --rules R` with a fresh secret and
// browserAuthRules, and the tests get
//
//	BERTSYNC_AUTH_URL          that server's base URL
//	BERTSYNC_JWT_SECRET_FILE   F, to sign the tokens they present
//
// When a file whose name contains "tls" runs, a third server serves TLS
// itself (`serve --tls-cert C --tls-key K`, a self-signed certificate made
// for the run), and the tests get
//
//	BERTSYNC_TLS_URL           that server's base URL, https://127.0.0.1:PORT
//
// BERTSYNC_BROWSER_FILES=offline,demo runs only the files whose names
// contain one of those words.
//
// It fails, never skips, when node, Chromium or the npm packages are
// missing: scripts/setup.sh installs them.

// browserAuthRules are the access rules of the server that checks tokens:
// any caller with a valid token reads, writes and listens; only a
// document's owner changes it.
const browserAuthRules = `{"*": {"create": "authenticated", "read": "authenticated", "update": "owner", "patch": "owner",
  "delete": "owner", "subscribe": "authenticated", "broadcast": "authenticated"}}`

const (
	browserSuiteTimeout = 8 * time.Minute
	browserStartTimeout = 30 * time.Second
	browserStopTimeout  = 10 * time.Second
)

func TestBrowser(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is needed for the browser tests (apt-get install nodejs npm): %v", err)
	}
	chromium := os.Getenv("BERTSYNC_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("Chromium is needed for the browser tests (apt-get install chromium, or set BERTSYNC_CHROMIUM): %v", err)
	}
	suite, err := filepath.Abs("browser")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(suite, "node_modules", "playwright-core", "package.json")); err != nil {
		t.Fatalf("the browser tests' npm packages are missing: run `npm ci` in %s (scripts/setup.sh does): %v", suite, err)
	}
	files, err := filepath.Glob(filepath.Join(suite, "*.test.mjs"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no browser test files in %s (%v)", suite, err)
	}
	if only := os.Getenv("BERTSYNC_BROWSER_FILES"); only != "" {
		files = browserFilter(files, strings.Split(only, ","))
		if len(files) == 0 {
			t.Fatalf("BERTSYNC_BROWSER_FILES=%s matches no test file in %s", only, suite)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), browserSuiteTimeout)
	defer cancel()

	if e2eBinary == "" {
		t.Fatalf("bertsync binary not built: %v", e2eBuildErr)
	}
	srv := &browserServer{
		bin:  e2eBinary,
		data: t.TempDir(),
		addr: "127.0.0.1:0",
		log:  &browserLog{t: t, prefix: "server: "},
	}
	if err := srv.start(); err != nil {
		t.Fatal(err)
	}
	defer srv.stop(false)

	ctrl := httptest.NewServer(srv.controlHandler())
	defer ctrl.Close()

	var authEnv []string
	if len(browserFilter(files, []string{"auth"})) > 0 {
		auth, secretFile, err := startAuthServer(t)
		if err != nil {
			t.Fatal(err)
		}
		defer auth.stop(false)
		authEnv = []string{"BERTSYNC_AUTH_URL=http://" + auth.address(), "BERTSYNC_JWT_SECRET_FILE=" + secretFile}
	}
	var tlsEnv []string
	if len(browserFilter(files, []string{"tls"})) > 0 {
		tlsSrv, err := startTLSServer(t)
		if err != nil {
			t.Fatal(err)
		}
		defer tlsSrv.stop(false)
		tlsEnv = []string{"BERTSYNC_TLS_URL=https://" + tlsSrv.address()}
	}

	artifacts := filepath.Join(suite, "artifacts")
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--test", "--test-concurrency=1", "--test-reporter=spec"}, files...)
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = suite
	cmd.Env = append(os.Environ(),
		"BERTSYNC_URL=http://"+srv.address(),
		"BERTSYNC_CONTROL="+ctrl.URL,
		"BERTSYNC_CHROMIUM="+chromium,
		"BERTSYNC_ARTIFACTS="+artifacts,
	)
	cmd.Env = append(cmd.Env, authEnv...)
	cmd.Env = append(cmd.Env, tlsEnv...)
	out := &browserLog{t: t, prefix: "node: "}
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	out.flush()
	if ctx.Err() != nil {
		t.Fatalf("browser suite did not finish within %v", browserSuiteTimeout)
	}
	if err != nil {
		t.Fatalf("browser suite failed: %v (the node output above says which test)", err)
	}
}

// startAuthServer starts the server that checks tokens, with a secret of
// its own in a temporary file (the tests sign with it) and
// browserAuthRules.
func startAuthServer(t *testing.T) (*browserServer, string, error) {
	dir := t.TempDir()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, "", err
	}
	secretFile := filepath.Join(dir, "jwt.secret")
	if err := os.WriteFile(secretFile, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		return nil, "", err
	}
	rulesFile := filepath.Join(dir, "rules.json")
	if err := os.WriteFile(rulesFile, []byte(browserAuthRules), 0o600); err != nil {
		return nil, "", err
	}
	srv := &browserServer{
		bin:  e2eBinary,
		data: t.TempDir(),
		addr: "127.0.0.1:0",
		args: []string{"--jwt-secret-file", secretFile, "--rules", rulesFile},
		log:  &browserLog{t: t, prefix: "auth server: "},
	}
	if err := srv.start(); err != nil {
		return nil, "", fmt.Errorf("the server that checks tokens: %w", err)
	}
	return srv, secretFile, nil
}

// browserFilter keeps the files whose base name contains one of names.
func browserFilter(files, names []string) []string {
	var kept []string
	for _, f := range files {
		for _, n := range names {
			if n != "" && strings.Contains(filepath.Base(f), n) {
				kept = append(kept, f)
				break
			}
		}
	}
	return kept
}

// browserServer runs `bertsync serve` and restarts it on request, always
// on the address the first start got, so that pages reconnect to it.
type browserServer struct {
	bin, data string
	args      []string // after serve's --addr and --data
	log       *browserLog

	mu   sync.Mutex
	addr string
	cmd  *exec.Cmd
	done chan struct{}
}

func (s *browserServer) address() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// start runs the server and waits for its "listening" log line.
func (s *browserServer) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("server already running")
	}
	cmd := exec.Command(s.bin, append([]string{"serve", "--addr", s.addr, "--data", s.data}, s.args...)...)
	cmd.Env = e2eCleanEnv()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	cmd.Stdout = s.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start bertsync serve: %w", err)
	}
	listening := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(s.log, line)
			if m := e2eListenRE.FindStringSubmatch(line); m != nil {
				select {
				case listening <- strings.Trim(m[1], `"`):
				default:
				}
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case a := <-listening:
		s.addr, s.cmd, s.done = a, cmd, done
		return nil
	case <-done:
		return fmt.Errorf("bertsync serve exited before listening (%v); its log is above", cmd.ProcessState)
	case <-time.After(browserStartTimeout):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("bertsync serve did not log msg=listening within %v", browserStartTimeout)
	}
}

// stop ends the server: SIGTERM and a wait for its graceful exit, or
// SIGKILL when kill is set (a crash) or the wait runs out.
func (s *browserServer) stop(kill bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return errors.New("server not running")
	}
	sig := os.Signal(syscall.SIGTERM)
	if kill {
		sig = os.Kill
	}
	_ = s.cmd.Process.Signal(sig)
	select {
	case <-s.done:
	case <-time.After(browserStopTimeout):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd, s.done = nil, nil
	return nil
}

// controlHandler is the channel the node tests stop and start the
// server through.
func (s *browserServer) controlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /stop", func(w http.ResponseWriter, r *http.Request) {
		if err := s.stop(r.URL.Query().Get("signal") == "kill"); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		fmt.Fprintln(w, "stopped")
	})
	mux.HandleFunc("POST /start", func(w http.ResponseWriter, r *http.Request) {
		if err := s.start(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "listening on", s.address())
	})
	return mux
}

// browserLog writes whole lines to the test log.
type browserLog struct {
	t      *testing.T
	prefix string
	mu     sync.Mutex
	buf    bytes.Buffer
}

var _ io.Writer = (*browserLog)(nil)

func (l *browserLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	for {
		line, err := l.buf.ReadString('\n')
		if err != nil {
			l.buf.WriteString(line) // incomplete: keep for later
			return len(p), nil
		}
		l.t.Log(l.prefix + strings.TrimRight(line, "\n"))
	}
}

func (l *browserLog) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len() > 0 {
		l.t.Log(l.prefix + l.buf.String())
		l.buf.Reset()
	}
}
