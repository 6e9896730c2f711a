package bench

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"
)

// inProcess is the server under test running in this process.
type inProcess struct {
	addr   string
	data   string
	temp   bool
	cancel context.CancelFunc
	done   chan error
	log    *logWatch
}

// startInProcess runs serve on 127.0.0.1:0, authenticating as auth says
// (nil: not at all), and waits for its "listening" log line.
func startInProcess(ctx context.Context, serve ServeFunc, data string, auth *ServeAuth) (*inProcess, error) {
	p := &inProcess{data: data, done: make(chan error, 1), log: newLogWatch()}
	if p.data == "" {
		dir, err := os.MkdirTemp("", "bertsync-bench-")
		if err != nil {
			return nil, err
		}
		p.data, p.temp = dir, true
	}
	sctx, cancel := context.WithCancel(ctx)
	p.cancel = cancel
	go func() { p.done <- serve(sctx, "127.0.0.1:0", p.data, auth, p.log) }()
	select {
	case p.addr = <-p.log.addr:
		return p, nil
	case err := <-p.done:
		cancel()
		p.cleanup()
		if err == nil {
			err = fmt.Errorf("serve returned before listening")
		}
		return nil, fmt.Errorf("%w: %s", err, p.log.tail())
	case <-time.After(phaseTimeout):
		p.stop()
		return nil, fmt.Errorf("serve did not log msg=listening: %s", p.log.tail())
	}
}

// stop ends the server and waits a bounded time for it to return.
func (p *inProcess) stop() {
	p.cancel()
	select {
	case <-p.done:
	case <-time.After(phaseTimeout):
	}
	p.cleanup()
}

func (p *inProcess) cleanup() {
	if p.temp {
		os.RemoveAll(p.data)
	}
}

// logWatch is the in-process server's log output: it finds the listening
// address and keeps the last few KiB for error messages.
type logWatch struct {
	mu    sync.Mutex
	buf   []byte
	found bool
	addr  chan string
}

var listeningRE = regexp.MustCompile(`msg=listening .*?addr=(\S+)`)

func newLogWatch() *logWatch { return &logWatch{addr: make(chan string, 1)} }

func (w *logWatch) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	if !w.found {
		if m := listeningRE.FindSubmatch(w.buf); m != nil {
			w.found = true
			w.addr <- strings.Trim(string(m[1]), `"`)
		}
	}
	if len(w.buf) > 16<<10 {
		w.buf = append(w.buf[:0], w.buf[len(w.buf)-8<<10:]...)
	}
	return len(b), nil
}

func (w *logWatch) tail() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf)
}
