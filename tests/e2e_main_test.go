package tests

// The end-to-end harness: TestMain builds the bertsync binary once, and
// e2eStartServer runs it as a subprocess on a loopback port of the kernel's
// choosing with its own data directory, so the tests talk to exactly what a
// user runs.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// e2eBinary is the path of the bertsync binary TestMain built, or "" with
// e2eBuildErr saying why not.
var (
	e2eBinary   string
	e2eBuildErr error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bertsync-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "tests: temp dir:", err)
		os.Exit(1)
	}
	bin := filepath.Join(dir, "bertsync")
	args := []string{"build", "-o", bin}
	if os.Getenv("BERTSYNC_TEST_RACE") == "1" {
		// The servers under test run with the race detector; their
		// reports go to the server log the tests print on failure.
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "github.com/bertsync/bertsync/cmd/bertsync")...)
	cmd.Stderr = new(bytes.Buffer)
	if err := cmd.Run(); err != nil {
		e2eBuildErr = fmt.Errorf("go build ./cmd/bertsync: %w\n%s", err, cmd.Stderr)
	} else {
		e2eBinary = bin
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// e2eServer is one running `bertsync serve` subprocess.
type e2eServer struct {
	t    testing.TB
	cmd  *exec.Cmd
	Addr string // host:port it listens on
	Data string // its --data directory

	logMu sync.Mutex
	log   bytes.Buffer

	done    chan struct{} // closed when the process has exited
	waitErr error
}

var e2eListenRE = regexp.MustCompile(`msg=listening .*?addr=(\S+)`)

// e2eStartServer starts `bertsync serve --addr 127.0.0.1:0 --data data`
// plus args and waits for its "listening" log line. The process is killed
// when the test ends if it is still running.
func e2eStartServer(t testing.TB, data string, args ...string) *e2eServer {
	t.Helper()
	if e2eBinary == "" {
		t.Fatalf("bertsync binary not built: %v", e2eBuildErr)
	}
	if data == "" {
		data = t.TempDir()
	}
	argv := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data}, args...)
	cmd := exec.Command(e2eBinary, argv...)
	cmd.Env = e2eCleanEnv()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	s := &e2eServer{t: t, cmd: cmd, Data: data, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start server: %v", err)
	}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			s.logMu.Lock()
			s.log.WriteString(line + "\n")
			s.logMu.Unlock()
			if m := e2eListenRE.FindStringSubmatch(line); m != nil {
				select {
				case addrc <- strings.Trim(m[1], `"`):
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
		s.waitErr = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			cmd.Process.Kill()
			<-s.done
		}
		if strings.Contains(s.Log(), "WARNING: DATA RACE") {
			t.Errorf("the server reported a data race")
		}
		if t.Failed() {
			t.Logf("server log (%s):\n%s", strings.Join(argv, " "), s.Log())
		}
	})
	select {
	case s.Addr = <-addrc:
	case <-s.done:
		t.Fatalf("server exited before listening: %v\n%s", s.waitErr, s.Log())
	case <-time.After(15 * time.Second):
		t.Fatalf("server did not log msg=listening within 15s:\n%s", s.Log())
	}
	return s
}

// e2eCleanEnv is the environment without BERTSYNC_* variables, so a
// developer's settings do not leak into the servers under test.
func e2eCleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BERTSYNC_") {
			env = append(env, kv)
		}
	}
	return env
}

// Log is everything the server wrote to stderr so far.
func (s *e2eServer) Log() string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.log.String()
}

// Signal sends sig to the server process.
func (s *e2eServer) Signal(sig os.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("signal %v: %v", sig, err)
	}
}

// Wait waits up to timeout for the process to exit and returns its exit
// status (-1 when killed by a signal).
func (s *e2eServer) Wait(timeout time.Duration) (int, error) {
	select {
	case <-s.done:
	case <-time.After(timeout):
		return 0, fmt.Errorf("server still running after %v", timeout)
	}
	if s.waitErr == nil {
		return 0, nil
	}
	var ee *exec.ExitError
	if errors.As(s.waitErr, &ee) {
		return ee.ExitCode(), nil
	}
	return 0, s.waitErr
}

// Stop sends SIGTERM and requires a clean exit (status 0) within 15s.
func (s *e2eServer) Stop() {
	s.t.Helper()
	s.Signal(syscall.SIGTERM)
	code, err := s.Wait(15 * time.Second)
	if err != nil {
		s.t.Fatalf("after SIGTERM: %v\n%s", err, s.Log())
	}
	if code != 0 {
		s.t.Fatalf("after SIGTERM: exit status %d, want 0\n%s", code, s.Log())
	}
}

// URL is the server's base URL, e.g. http://127.0.0.1:1234.
func (s *e2eServer) URL() string { return "http://" + s.Addr }
