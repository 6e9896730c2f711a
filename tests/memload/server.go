package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// server is a running bertsync serve.
type server struct {
	cmd  *exec.Cmd
	addr string
	dir  string
	idle uint64 // VmRSS once settled: the unit of every RSS figure
}

var listenRE = regexp.MustCompile(`msg=listening .*?addr=(\S+)`)

func start(bin string) (*server, error) {
	dir, err := os.MkdirTemp("", "memload-")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data", filepath.Join(dir, "data"))
	out, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- strings.Trim(m[1], `"`):
				default:
				}
			}
		}
	}()
	select {
	case a := <-addr:
		return &server{cmd: cmd, addr: a, dir: dir}, nil
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		return nil, errors.New("the server did not log msg=listening within 15s")
	}
}

func (s *server) stop() {
	s.cmd.Process.Kill()
	s.cmd.Wait()
	os.RemoveAll(s.dir)
}

// dataDir is the server's --data.
func (s *server) dataDir() string { return filepath.Join(s.dir, "data") }

// status reads a field of /proc/PID/status, in bytes.
func (s *server) status(field string) uint64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			kb, _ := strconv.ParseUint(f[0], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// limit reads the soft limit of a row of /proc/PID/limits.
func (s *server) limit(name string) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", s.cmd.Process.Pid))
	if err != nil {
		return "?"
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, name); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				return f[0]
			}
		}
	}
	return "?"
}

// openFiles counts the server's file descriptors.
func (s *server) openFiles() int {
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.cmd.Process.Pid))
	return len(fds)
}

// resetPeak makes VmHWM start again from the current RSS, and returns
// that RSS: the base of the next [server.growth].
func (s *server) resetPeak() (uint64, error) {
	err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", s.cmd.Process.Pid), []byte("5"), 0)
	return s.status("VmRSS"), err
}

// growth is the figure of VmHWM's rise above before, as a ratio to the
// idle RSS.
func (s *server) growth(label string, before uint64, answer string) figure {
	hwm := s.status("VmHWM")
	g := int64(hwm) - int64(before)
	return figure{
		label:  label,
		value:  float64(g) / float64(s.idle),
		unit:   "x idle RSS",
		answer: answer,
		detail: fmt.Sprintf("peak %s, +%s", mib(hwm), mib(uint64(max(g, 0)))),
	}
}

// cpu returns the time the server's threads have run on a CPU, the sum
// of /proc/PID/task/*/schedstat (nanoseconds, finer than the ticks of
// /proc/PID/stat; Go's threads seldom exit, so little time is lost).
func (s *server) cpu() time.Duration {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", s.cmd.Process.Pid))
	var total time.Duration
	for _, t := range tasks {
		data, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		if f := strings.Fields(string(data)); len(f) > 0 {
			ns, _ := strconv.ParseInt(f[0], 10, 64)
			total += time.Duration(ns)
		}
	}
	return total
}

func (s *server) url() string { return "ws://" + s.addr + "/bullet" }

func (s *server) dial() (*websocket.Conn, error) {
	c, _, err := dialFrom(context.Background(), s.url(), "", 10*time.Second, 0)
	return c, err
}

// dialFrom opens a WebSocket from the local address from (any if empty),
// with buffers of bufSize bytes (gorilla's default if 0). A refused
// upgrade returns the response's status.
func dialFrom(ctx context.Context, url, from string, timeout time.Duration, bufSize int) (*websocket.Conn, int, error) {
	nd := &net.Dialer{Timeout: timeout}
	if from != "" {
		nd.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	d := websocket.Dialer{
		NetDialContext:   nd.DialContext,
		HandshakeTimeout: timeout,
		ReadBufferSize:   bufSize,
		WriteBufferSize:  bufSize,
	}
	c, resp, err := d.DialContext(ctx, url, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		return nil, status, err
	}
	c.SetReadLimit(-1)
	return c, 101, nil
}

// settle runs a few ordinary requests so that the idle figure counts a
// server that has served something.
func settle(s *server) error {
	c, err := s.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	for range 20 {
		if _, _, err := call(c, request("read", "idle", []byte{106})); err != nil {
			return err
		}
	}
	time.Sleep(time.Second) // let the runtime return what it does not keep
	return nil
}

// atOnce runs fn on n connections at once.
func atOnce(s *server, n int, fn func(c *websocket.Conn) (string, error)) ([]string, error) {
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		c, err := s.dial()
		if err != nil {
			return nil, err
		}
		defer c.Close()
		conns[i] = c
	}
	out := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() { out[i], errs[i] = fn(c) })
	}
	wg.Wait()
	return out, errors.Join(errs...)
}
