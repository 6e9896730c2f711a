// Command memload measures what one kind of hostile load costs a running
// bertsync binary: the growth of its peak RSS (VmHWM) as a ratio to the
// RSS of the same server idle, and the CPU time it spends, as a ratio to
// that of ordinary requests, both measured in the same run. It drives the
// binary over a WebSocket as any client would, and reads
// /proc/<pid>/status and /proc/<pid>/stat, so it runs on Linux only.
//
// It reproduces the figures of issue #8:
//
//	go build -o /tmp/bs-new ./cmd/bertsync
//	go run ./tests/memload -bin /tmp/bs-new -scenario bomb -n 8
//	go run ./tests/memload -bin /tmp/bs-new -scenario list -n 4
//	go run ./tests/memload -bin /tmp/bs-new -scenario bignum
//
// The scenarios:
//
//   - bomb: n connections at once each send a 16 KB zlib-compressed
//     create (tag 80) inflating to a 16.7M-element list, then a broadcast
//     of the same, then a create inflating to just under 1 MiB, the
//     default message limit.
//   - list: 200 documents of 1 MB are created, then n connections at once
//     read the collection.
//   - bignum: a read whose id is a 1 MB bignum, then a create holding
//     one and five REST reads of that document.
//
// It is a measuring tool, not a test: it asserts nothing.
package main

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
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

func main() {
	bin := flag.String("bin", "/tmp/bs-new", "the bertsync binary to measure")
	scenario := flag.String("scenario", "bomb", "bomb, list or bignum")
	n := flag.Int("n", 4, "connections at once (bomb, list)")
	flag.Parse()
	if err := run(*bin, *scenario, *n); err != nil {
		fmt.Fprintln(os.Stderr, "memload:", err)
		os.Exit(1)
	}
}

// server is a running bertsync serve.
type server struct {
	cmd  *exec.Cmd
	addr string
	dir  string
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

// resetPeak makes VmHWM start again from the current RSS.
func (s *server) resetPeak() error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", s.cmd.Process.Pid), []byte("5"), 0)
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

func (s *server) dial() (*websocket.Conn, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	c, _, err := d.Dial("ws://"+s.addr+"/bullet", nil)
	if err == nil {
		c.SetReadLimit(-1)
	}
	return c, err
}

// call sends one binary message and returns the reply's length and head.
func call(c *websocket.Conn, msg []byte) (int, string, error) {
	if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
		return 0, "", err
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Minute))
	_, r, err := c.ReadMessage()
	if err != nil {
		return 0, "", err
	}
	return len(r), head(r), nil
}

// head describes a reply: ok or error and the error's text.
func head(r []byte) string {
	switch {
	case bytes.Contains(r[:min(len(r), 32)], []byte("error")):
		text := bytes.Map(func(r rune) rune {
			if r < ' ' || r > '~' {
				return -1
			}
			return r
		}, r[min(len(r), 20):min(len(r), 160)])
		return "error: " + string(text)
	case bytes.Contains(r[:min(len(r), 32)], []byte("ok")):
		return "ok"
	}
	return "?"
}

// Wire pieces of the requests.
func atom(s string) []byte { return append([]byte{100, 0, byte(len(s))}, s...) }

func request(method, model string, props []byte) []byte {
	b := []byte{131, 104, 4}
	b = append(b, atom("sync")...)
	b = append(b, atom(method)...)
	b = append(b, atom(model)...)
	return append(b, props...)
}

// prop is [{Key, Value}] with value's wire bytes.
func prop(key string, value []byte) []byte {
	b := binary.BigEndian.AppendUint32([]byte{108}, 1)
	b = append(b, 104, 2)
	b = append(b, atom(key)...)
	b = append(b, value...)
	return append(b, 106)
}

func binaryOf(n int) []byte {
	b := binary.BigEndian.AppendUint32([]byte{109}, uint32(n))
	return append(b, bytes.Repeat([]byte("x"), n)...)
}

func bignumOf(n int) []byte {
	b := binary.BigEndian.AppendUint32([]byte{111}, uint32(n))
	b = append(b, 0)
	return append(b, bytes.Repeat([]byte{0x7f}, n)...)
}

// bomb is a compressed term inflating to {sync, method, m, [{a, L}]} with
// L a list of n [].
func bomb(method string, n int) []byte {
	list := binary.BigEndian.AppendUint32([]byte{108}, uint32(n))
	list = append(list, bytes.Repeat([]byte{106}, n)...)
	list = append(list, 106)
	inner := request(method, "m", prop("a", list))[1:]
	var z bytes.Buffer
	w, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	w.Write(inner)
	w.Close()
	b := binary.BigEndian.AppendUint32([]byte{131, 80}, uint32(len(inner)))
	return append(b, z.Bytes()...)
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

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func run(bin, scenario string, n int) error {
	s, err := start(bin)
	if err != nil {
		return err
	}
	defer s.stop()
	if err := settle(s); err != nil {
		return err
	}
	idle := s.status("VmRSS")
	fmt.Printf("%s, scenario %s, n=%d: idle RSS %s (VmHWM %s)\n", filepath.Base(bin), scenario, n, mib(idle), mib(s.status("VmHWM")))
	peak := func(what string, before uint64) {
		hwm := s.status("VmHWM")
		growth := int64(hwm) - int64(before)
		fmt.Printf("  %s: peak RSS %s, growth %s = %.2f x idle RSS\n", what, mib(hwm), mib(uint64(max(growth, 0))), float64(growth)/float64(idle))
	}
	switch scenario {
	case "bomb":
		for _, b := range []struct {
			method string
			n      int
		}{
			{"create", 16_700_000},
			{"broadcast", 16_700_000},
			// The largest such term the default message limit (1 MiB)
			// lets through.
			{"create", 1<<20 - 64},
		} {
			msg, method := bomb(b.method, b.n), b.method
			if err := s.resetPeak(); err != nil {
				return err
			}
			before := s.status("VmRSS")
			out, err := atOnce(s, n, func(c *websocket.Conn) (string, error) {
				size, h, err := call(c, msg)
				return fmt.Sprintf("%d-byte reply %s", size, h), err
			})
			if err != nil {
				out[0] = fmt.Sprintf("%s; error: %v", out[0], err)
			}
			peak(fmt.Sprintf("%d x %s of a %d-byte compressed term, a %d-element list (first reply: %.100s)", n, method, len(msg), b.n, out[0]), before)
		}
	case "list":
		c, err := s.dial()
		if err != nil {
			return err
		}
		doc := prop("blob", binaryOf(1_000_000))
		for i := range 200 {
			if _, h, err := call(c, request("create", "big", doc)); err != nil || h != "ok" {
				return fmt.Errorf("create %d: %s %v", i, h, err)
			}
			if i%90 == 89 {
				time.Sleep(time.Second) // the new server's rate limit: 100 a second
			}
		}
		c.Close()
		time.Sleep(time.Second)
		if err := s.resetPeak(); err != nil {
			return err
		}
		before := s.status("VmRSS")
		out, err := atOnce(s, n, func(c *websocket.Conn) (string, error) {
			size, h, err := call(c, request("read", "big", []byte{106}))
			return fmt.Sprintf("%d-byte reply %s", size, h), err
		})
		if err != nil {
			// The peak until then still counts (the old server drops
			// connections it cannot write to in time).
			out[0] = fmt.Sprintf("%s; error: %v", out[0], err)
		}
		peak(fmt.Sprintf("%d x collection read of 200 documents of 1 MB (first reply: %.80s)", n, out[0]), before)
	case "bignum":
		c, err := s.dial()
		if err != nil {
			return err
		}
		defer c.Close()
		cpu0 := s.cpu()
		for range 100 {
			if _, _, err := call(c, request("read", "small", prop("id", binaryOf(4)))); err != nil {
				return err
			}
		}
		base := s.cpu() - cpu0
		fmt.Printf("  baseline: 100 ordinary reads: %v CPU\n", base)
		cpu0 = s.cpu()
		_, h, err := call(c, request("read", "n", prop("id", bignumOf(1_000_000))))
		if err != nil {
			return err
		}
		fmt.Printf("  a read whose id is a 1 MB bignum: %v CPU = %.0f x the baseline (%s)\n", s.cpu()-cpu0, ratio(s.cpu()-cpu0, base), truncate(h, 80))
		doc := binary.BigEndian.AppendUint32([]byte{108}, 2)
		doc = append(doc, 104, 2)
		doc = append(doc, atom("id")...)
		doc = append(doc, 109, 0, 0, 0, 1, 'b')
		doc = append(doc, 104, 2)
		doc = append(doc, atom("n")...)
		doc = append(doc, bignumOf(1_000_000)...)
		doc = append(doc, 106)
		cpu0 = s.cpu()
		_, h, err = call(c, request("create", "n", doc))
		if err != nil {
			return err
		}
		fmt.Printf("  a create holding a 1 MB bignum: %v CPU (%s)\n", s.cpu()-cpu0, truncate(h, 80))
		cpu0 = s.cpu()
		status := ""
		for range 5 {
			resp, err := http.Get("http://" + s.addr + "/api/n/b")
			if err != nil {
				return err
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			status = resp.Status
		}
		fmt.Printf("  5 REST reads of it: %v CPU = %.0f x the baseline (status %s)\n", s.cpu()-cpu0, ratio(s.cpu()-cpu0, base), status)
	default:
		return fmt.Errorf("unknown scenario %q", scenario)
	}
	return nil
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(max(b, 1)) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
