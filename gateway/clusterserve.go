package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// The owner's side of a forwarded request: it runs the Bullet handler
// on a request rebuilt from the router's message, with a ResponseWriter
// (remoteWriter) that sends what the handler writes to the router.
//
// A Flush returns once the router has written and flushed everything
// before it to the client, so that a handler's "written" means what it
// means locally: a long-poll whose write fails puts its message back in
// the queue, and one that the router's client never got is not lost.

var (
	errClientGone   = errors.New("gateway: the client of the forwarded request is gone")
	errRouterSilent = errors.New("gateway: the routing node of the forwarded request went silent")
	errDeadline     = errors.New("gateway: forwarded response: write deadline passed")
)

// forwardedKey marks, in its context, a request forwarded to this node,
// which is never forwarded again.
type forwardedKey struct{}

// ownedRequest is a forwarded request this node runs.
type ownedRequest struct {
	c      *Cluster
	key    string
	router *actor.PID
	ctx    context.Context
	cancel context.CancelCauseFunc
	w      *remoteWriter
	// last is when the router was last heard from (UnixNano).
	last atomic.Int64
}

// start runs the request of m from router.
func (c *Cluster) start(router *actor.PID, m *clusterMsg) {
	c.mu.Lock()
	s := c.srv
	if c.closed || s == nil {
		c.mu.Unlock()
		c.send(router, &clusterMsg{Kind: msgEnd, Err: "the node is stopping"}, nil)
		return
	}
	ctx, cancel := context.WithCancelCause(context.WithValue(c.ctx, forwardedKey{}, true))
	o := &ownedRequest{c: c, key: router.String(), router: router, ctx: ctx, cancel: cancel}
	o.w = &remoteWriter{o: o, header: make(http.Header), signal: make(chan struct{}, 1)}
	o.heard()
	c.running[o.key] = o
	c.mu.Unlock()
	r, err := m.request(ctx)
	go o.run(s, r, err)
}

// request rebuilds the client's request.
func (m *clusterMsg) request(ctx context.Context) (*http.Request, error) {
	if m.Method != http.MethodGet && m.Method != http.MethodPost {
		return nil, fmt.Errorf("gateway: forwarded request of method %q", m.Method)
	}
	u, err := url.ParseRequestURI(m.URI)
	if err != nil {
		return nil, fmt.Errorf("gateway: forwarded request URI: %w", err)
	}
	r := &http.Request{
		Method:     m.Method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     http.Header(m.Header),
		Host:       m.Host,
		RemoteAddr: m.RemoteAddr,
		RequestURI: m.URI,
		Body:       http.NoBody,
	}
	if r.Header == nil {
		r.Header = make(http.Header)
	}
	if len(m.Body) > 0 {
		r.Body = io.NopCloser(bytes.NewReader(m.Body))
		r.ContentLength = int64(len(m.Body))
	}
	if m.TLS {
		// Only its presence counts here (Secure cookies).
		r.TLS = &tls.ConnectionState{}
	}
	return r.WithContext(ctx), nil
}

// run serves the request and tells the router when it is done.
func (o *ownedRequest) run(s *Server, r *http.Request, reqErr error) {
	c := o.c
	defer func() {
		c.mu.Lock()
		delete(c.running, o.key)
		c.mu.Unlock()
		o.cancel(nil)
	}()
	go o.watch()
	if reqErr != nil {
		httpError(o.w, http.StatusBadRequest, reqErr.Error())
		o.w.finish("")
		return
	}
	failure := ""
	func() {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					failure = "aborted"
					return
				}
				c.log.Error("gateway: forwarded request: handler panic", "panic", p, "uri", r.RequestURI)
				failure = fmt.Sprint("handler panic: ", p)
			}
		}()
		s.serveBullet(o.w, r)
	}()
	o.w.finish(failure)
}

// watch sends the router keep-alives and gives the request up when the
// router has been silent for the timeout.
func (o *ownedRequest) watch() {
	cfg := o.c.cfg
	tick := time.NewTicker(cfg.KeepAlive)
	defer tick.Stop()
	for {
		select {
		case <-o.ctx.Done():
			return
		case <-tick.C:
		}
		if time.Since(time.Unix(0, o.last.Load())) > cfg.Timeout {
			o.c.log.Debug("gateway: the router of a forwarded request went silent", "router", o.key)
			o.stop(errRouterSilent)
			return
		}
		o.c.send(o.router, &clusterMsg{Kind: msgAlive}, o.c.pid)
	}
}

func (o *ownedRequest) heard() { o.last.Store(time.Now().UnixNano()) }

// stop cancels the handler's context and fails its writes.
func (o *ownedRequest) stop(err error) {
	o.cancel(err)
	o.w.fail(err)
}

// remoteWriter is the ResponseWriter of a forwarded request. The handler
// goroutine calls its ResponseWriter methods, the actor acked and fail.
type remoteWriter struct {
	o      *ownedRequest
	header http.Header

	// The handler goroutine's: the response so far.
	wroteHeader, headSent bool
	status                int
	head                  http.Header
	buf                   []byte
	deadline              time.Time

	mu        sync.Mutex
	sent, ack uint64 // data messages sent, and acknowledged
	err       error
	// signal wakes a waiting handler after an ack or a failure.
	signal chan struct{}
}

var _ http.Flusher = (*remoteWriter)(nil)

func (w *remoteWriter) Header() http.Header { return w.header }

func (w *remoteWriter) WriteHeader(code int) {
	if w.wroteHeader || code < 200 {
		return // informational responses are not relayed
	}
	w.wroteHeader, w.status = true, code
	w.head = w.header.Clone()
}

func (w *remoteWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	n := 0
	for len(p) > 0 {
		if err := w.failed(); err != nil {
			return n, err
		}
		k := min(clusterChunk-len(w.buf), len(p))
		w.buf = append(w.buf, p[:k]...)
		p, n = p[k:], n+k
		if len(w.buf) >= clusterChunk {
			if err := w.push(false); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// Flush sends what was written and waits until the router has written
// and flushed it to the client.
func (w *remoteWriter) Flush() { w.FlushError() }

// FlushError is Flush with its error, for http.ResponseController.
func (w *remoteWriter) FlushError() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if err := w.push(true); err != nil {
		return err
	}
	return w.wait(func() bool { return w.ack >= w.sent })
}

// SetWriteDeadline bounds the waits of Write and Flush for the router,
// as a deadline on a connection bounds its writes.
func (w *remoteWriter) SetWriteDeadline(t time.Time) error {
	w.deadline = t
	return nil
}

// SetReadDeadline does nothing: the body came whole.
func (w *remoteWriter) SetReadDeadline(time.Time) error { return nil }

// push sends the buffered bytes, and the head if not sent yet, once the
// window allows.
func (w *remoteWriter) push(flush bool) error {
	if err := w.wait(func() bool { return w.sent-w.ack < clusterWindow }); err != nil {
		return err
	}
	m := &clusterMsg{Kind: msgData, Data: w.buf, Flush: flush}
	if !w.headSent {
		m.Status, m.Header = w.status, w.head
		w.headSent = true
	}
	w.mu.Lock()
	w.sent++
	m.Seq = w.sent
	w.mu.Unlock()
	w.o.c.send(w.o.router, m, w.o.c.pid) // encodes m before it returns
	w.buf = w.buf[:0]
	return nil
}

// finish sends what is left and the end of the response.
func (w *remoteWriter) finish(failure string) {
	if w.failed() == nil && failure == "" {
		if !w.wroteHeader {
			w.WriteHeader(http.StatusOK)
		}
		if !w.headSent || len(w.buf) > 0 {
			w.deadline = time.Now().Add(w.o.c.cfg.Timeout)
			if err := w.push(false); err != nil {
				failure = err.Error()
			}
		}
	}
	w.o.c.send(w.o.router, &clusterMsg{Kind: msgEnd, Err: failure}, w.o.c.pid)
}

// wait waits until cond, under w.mu, holds, or the request fails, its
// context ends or the write deadline passes.
func (w *remoteWriter) wait(cond func() bool) error {
	var timeout <-chan time.Time
	for {
		w.mu.Lock()
		err, ok := w.err, cond()
		w.mu.Unlock()
		switch {
		case err != nil:
			return err
		case ok:
			return nil
		}
		if timeout == nil && !w.deadline.IsZero() {
			t := time.NewTimer(time.Until(w.deadline))
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-w.signal:
		case <-timeout:
			return errDeadline
		case <-w.o.ctx.Done():
			return context.Cause(w.o.ctx)
		}
	}
}

func (w *remoteWriter) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *remoteWriter) acked(seq uint64) {
	w.mu.Lock()
	if seq > w.ack && seq <= w.sent {
		w.ack = seq
	}
	w.mu.Unlock()
	w.wake()
}

func (w *remoteWriter) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
	w.wake()
}

func (w *remoteWriter) wake() {
	select {
	case w.signal <- struct{}{}:
	default:
	}
}
