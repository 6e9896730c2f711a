package gateway

import (
	"net/http"
	"time"

	"github.com/bertsync/bertsync/internal/outqueue"
)

// The EventSource transport: a GET with Accept: text/event-stream gets a
// stream of the session's messages, one event each (see sse.go for the
// encodings). The headers go once; each batch of messages is written with
// a deadline and flushed, and the deadline is cleared after the flush:
// over HTTP/2 a write deadline is the stream's, and one left armed would
// reset an idle stream once it passed. Every [Config.PingInterval] a
// comment line keeps proxies from timing the stream out and tells the
// session its client is alive.
//
// Stock bullet.js cannot receive a message holding a CR byte this way. When
// one is due, the stream ends before it, the message stays buffered, and
// the session refuses stock EventSource requests from then on with 406.
// bullet.js reconnects after the stream ends, the refusal fails that
// EventSource before it opens, and bullet.js moves on to long-polling,
// which delivers the message; it never goes back. Our client asks for
// base64 events (?bertsync=1) and is never refused.

// base64Param is the query parameter, set to "1", with which our client
// asks for base64 events.
const base64Param = "bertsync"

func (s *Server) serveEventSource(w http.ResponseWriter, r *http.Request) {
	// A stream is a connection like a WebSocket (admission.go).
	release, ok := s.admitConn(w, r)
	if !ok {
		return
	}
	defer release()
	p, ok := s.beginPollRequest(w, r)
	if !ok {
		return
	}
	defer s.track(-1)
	if !canFlush(w) {
		httpError(w, http.StatusInternalServerError, "this server cannot stream responses: use long-polling")
		return
	}
	b64 := r.URL.Query().Get(base64Param) == "1"
	if !b64 && p.stockRefused() {
		httpError(w, http.StatusNotAcceptable,
			"a pending message holds a CR byte, which EventSource cannot carry: use long-polling (or ?"+base64Param+"=1 for base64 events)")
		return
	}
	s.cfg.metrics.ConnOpened(transportEventSource)
	end := endClientGone
	defer func() { s.connEnded(transportEventSource, p, end) }()
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	p.sess.Touch()

	interval := s.cfg.PingInterval
	if interval <= 0 {
		// No comments, but the session still needs signs of life.
		interval = DefaultPingInterval
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()

	// write sends buf with a deadline and flushes it.
	write := func(buf []byte) bool {
		rc.SetWriteDeadline(s.writeDeadline())
		if _, err := w.Write(buf); err != nil {
			return false
		}
		if rc.Flush() != nil {
			return false
		}
		return rc.SetWriteDeadline(time.Time{}) == nil
	}
	// A comment first, so that the client sees the stream open now.
	if !write([]byte(":\n\n")) {
		end = endWriteFailed
		return
	}
	// Another request of the session may be waiting too: whatever this
	// one leaves in the queue is its to take.
	defer p.queue.Signal()
	var buf []byte
	var batch []outqueue.Item
	for {
		var blocked bool
		batch, blocked = p.takeEvents(batch[:0], b64)
		if len(batch) > 0 {
			buf = buf[:0]
			for _, it := range batch {
				if b64 {
					buf = appendEventBase64(buf, it.Data)
				} else {
					buf, _ = appendEventStock(buf, it.Data)
				}
			}
			if !write(buf) {
				// Most likely nothing arrived: keep the batch for the
				// next poll or stream rather than lose it.
				p.queue.PutFront(batch)
				end = endWriteFailed
				return
			}
			clear(batch)
			if cap(buf) > 64<<10 {
				buf, batch = nil, nil
			}
		}
		if blocked {
			s.log.Debug("gateway: message with a CR byte ends a stock EventSource stream", "remote", r.RemoteAddr)
			end = endStockCR
			return
		}
		if p.isClosed() {
			// Ended, and what it left has been sent.
			end = endSession
			p.releaseIfDrained()
			return
		}
		// The shutdown does not end the stream: the session answers its
		// last requests first, and the stream sends what comes meanwhile.
		select {
		case <-p.queue.Ready():
		case <-tick.C:
			p.sess.Touch()
			if s.cfg.PingInterval > 0 && !write([]byte(":\n\n")) {
				end = endWriteFailed
				return
			}
		case <-p.ended:
			// Send what it left, then end.
		case <-r.Context().Done():
			return
		}
	}
}

// takeEvents appends to batch the queued messages a stream can send: all
// of them in base64 mode; in stock mode those before the first one holding
// a CR byte, which sets blocked and refuses stock streams from then on.
func (p *pollSession) takeEvents(batch []outqueue.Item, b64 bool) (_ []outqueue.Item, blocked bool) {
	if b64 {
		return p.queue.TakeAll(batch), false
	}
	batch = p.queue.TakeWhile(batch, func(it outqueue.Item) bool { return stockSendable(it.Data) })
	return batch, p.stockRefused()
}

// stockRefused reports whether stock EventSource requests are refused:
// they are from the first time a message they cannot carry is next.
func (p *pollSession) stockRefused() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.noStockStream {
		if it, ok := p.queue.Peek(); ok && !stockSendable(it.Data) {
			p.noStockStream = true
		}
	}
	return p.noStockStream
}

// canFlush reports whether w, or a writer it wraps, can flush: a stream
// that cannot be flushed would never reach the client.
func canFlush(w http.ResponseWriter) bool {
	for {
		switch u := w.(type) {
		case http.Flusher:
			return true
		case interface{ Unwrap() http.ResponseWriter }:
			w = u.Unwrap()
		default:
			return false
		}
	}
}
