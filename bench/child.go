package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bertsync/bertsync/internal/bench"
)

// The server under test runs as a child process, this binary started with
// -serve NAME, so that its RSS is its own. Parent and child talk in lines:
// the child writes "listening ADDR" on stdout once it accepts connections,
// then answers each command read from stdin with "ok" and its memory
// figures (heap=… stacks=… goroutines=…) or "error: …":
//
//	gc          collect twice and return freed memory to the OS
//	cpu PATH    start a CPU profile into PATH
//	cpustop     stop it
//	heap PATH   write an in-use heap profile into PATH (after a collection)
//
// The end of stdin stops the server.

// childTimeout bounds the child's start and each of its answers.
const childTimeout = 20 * time.Second

// serveFunc runs one server on a loopback port of the kernel's choosing
// until ctx ends; it calls listening with the address once it accepts
// connections.
type serveFunc func(ctx context.Context, listening func(addr string)) error

// servers are the servers -serve can run.
var servers = map[string]serveFunc{
	"bertsync":   serveBertsync,
	"centrifuge": serveCentrifuge,
}

// runChild is the child's main: it serves name until stdin ends or a
// signal comes.
func runChild(name string) int {
	serve, ok := servers[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "bench: -serve %q: unknown server\n", name)
		return 2
	}
	bench.RaiseFileLimit(os.Stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := bufio.NewWriter(os.Stdout)
	say := func(format string, args ...any) {
		fmt.Fprintf(out, format+"\n", args...)
		out.Flush()
	}
	listening := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, func(addr string) { listening <- addr }) }()
	select {
	case addr := <-listening:
		say("listening %s", addr)
	case err := <-done:
		fmt.Fprintf(os.Stderr, "bench: %s: %v\n", name, err)
		return 1
	}
	go func() {
		// Commands until stdin ends, which stops the server.
		defer cancel()
		in := bufio.NewScanner(os.Stdin)
		for in.Scan() {
			if err := childCommand(in.Text()); err != nil {
				say("error: %v", err)
			} else {
				say("ok %s", memStats())
			}
		}
	}()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(os.Stderr, "bench: %s: %v\n", name, err)
		return 1
	}
	return 0
}

// memStats describes the child's memory for the parent's profiling notes.
func memStats() string {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return fmt.Sprintf("heap=%d stacks=%d goroutines=%d", m.HeapAlloc, m.StackInuse, runtime.NumGoroutine())
}

// childCommand runs one command line of the parent.
func childCommand(line string) error {
	cmd, arg, _ := strings.Cut(line, " ")
	switch cmd {
	case "gc":
		runtime.GC()
		debug.FreeOSMemory()
		return nil
	case "cpu":
		f, err := os.Create(arg)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		return nil
	case "cpustop":
		pprof.StopCPUProfile()
		return nil
	case "heap":
		runtime.GC()
		f, err := os.Create(arg)
		if err != nil {
			return err
		}
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	return fmt.Errorf("unknown command %q", line)
}

// child is a running server process, from the parent's side.
type child struct {
	name string
	addr string
	cmd  *exec.Cmd
	in   io.WriteCloser
	// lines are the child's stdout lines; exited is closed when it ends.
	lines  chan string
	exited chan struct{}
	stderr *tailBuffer
}

// startChild starts this binary as the server name and waits for it to
// listen; profiling makes it record every allocation.
func startChild(ctx context.Context, name string, profiling bool) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	c := &child{name: name, lines: make(chan string, 4), exited: make(chan struct{}), stderr: &tailBuffer{}}
	args := []string{"-serve", name}
	if profiling {
		// Every allocation, so that the heap profile of the idle
		// connections is exact rather than sampled.
		args = append(args, "-memprofilerate", "1")
	}
	c.cmd = exec.CommandContext(ctx, exe, args...)
	c.cmd.Stderr = c.stderr
	c.cmd.WaitDelay = childTimeout
	if c.in, err = c.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the %s server: %w", name, err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		c.cmd.Wait()
		close(c.exited)
	}()
	line, err := c.read()
	if err != nil {
		c.stop()
		return nil, err
	}
	addr, ok := strings.CutPrefix(line, "listening ")
	if !ok {
		c.stop()
		return nil, fmt.Errorf("the %s server said %q, want listening ADDR", name, line)
	}
	c.addr = addr
	return c, nil
}

// read waits for the child's next line.
func (c *child) read() (string, error) {
	select {
	case l := <-c.lines:
		return l, nil
	case <-c.exited:
		return "", fmt.Errorf("the %s server exited: %s", c.name, c.stderr)
	case <-time.After(childTimeout):
		return "", fmt.Errorf("the %s server did not answer within %v", c.name, childTimeout)
	}
}

// do runs one command in the child and returns what the child said of
// its memory after it.
func (c *child) do(command string) (string, error) {
	if _, err := io.WriteString(c.in, command+"\n"); err != nil {
		return "", fmt.Errorf("%s server: %s: %w", c.name, command, err)
	}
	l, err := c.read()
	if err != nil {
		return "", err
	}
	stats, ok := strings.CutPrefix(l, "ok ")
	if !ok {
		return "", fmt.Errorf("%s server: %s: %s", c.name, command, l)
	}
	return stats, nil
}

// rss is the child's resident set after a forced collection, and what the
// child said of its memory.
func (c *child) rss() (uint64, string, error) {
	stats, err := c.do("gc")
	if err != nil {
		return 0, "", err
	}
	rss, err := bench.RSS(c.cmd.Process.Pid)
	return rss, stats, err
}

// stop ends the child: the end of its stdin, then a kill if it lingers.
func (c *child) stop() {
	c.in.Close()
	select {
	case <-c.exited:
	case <-time.After(childTimeout):
		c.cmd.Process.Kill()
		<-c.exited
	}
}

// tailBuffer keeps the last KiB a child wrote on stderr, for errors; exec
// copies into it from a goroutine of its own.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 4096 {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-1024:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}
