package gateway

import (
	"net/http"
	"time"

	"github.com/bertsync/bertsync/actors"
)

// The EventSource transport: a GET with Accept: text/event-stream gets a
// stream of the session's messages, one event each (see sse.go for the
// encodings). The headers go once; each batch of messages is written with
// a deadline and flushed. Every [Config.PingInterval] a comment line keeps
// proxies from timing the stream out and tells the session its client is
// alive.
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
	p, ok := s.beginPollRequest(w, r)
	if !ok {
		return
	}
	defer s.track(-1)
	b64 := r.URL.Query().Get(base64Param) == "1"
	if !b64 && p.stockRefused() {
		httpError(w, http.StatusNotAcceptable,
			"a pending message holds a CR byte, which EventSource cannot carry: use long-polling (or ?"+base64Param+"=1 for base64 events)")
		return
	}
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
		rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
		if _, err := w.Write(buf); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	// A comment first, so that the client sees the stream open now.
	if !write([]byte(":\n\n")) {
		return
	}
	var buf []byte
	for {
		batch, blocked, wait := p.takeEvents(b64)
		if len(batch) > 0 {
			buf = buf[:0]
			for _, f := range batch {
				if b64 {
					buf = appendEventBase64(buf, f.Data)
				} else {
					buf, _ = appendEventStock(buf, f.Data)
				}
			}
			if !write(buf) {
				// Most likely nothing arrived: keep the batch for the
				// next poll or stream rather than lose it.
				p.putBack(batch)
				return
			}
			if cap(buf) > 64<<10 {
				buf = nil
			}
		}
		if blocked {
			s.log.Debug("gateway: message with a CR byte ends a stock EventSource stream", "remote", r.RemoteAddr)
			return
		}
		select {
		case <-wait:
		case <-tick.C:
			p.sess.Touch()
			if s.cfg.PingInterval > 0 && !write([]byte(":\n\n")) {
				return
			}
		case <-p.ended:
			return
		case <-s.quit:
			return
		case <-r.Context().Done():
			return
		}
	}
}

// takeEvents takes the buffered messages a stream can send: all of them
// in base64 mode; in stock mode those before the first one holding a CR
// byte, which sets blocked and refuses stock streams from then on.
func (p *pollSession) takeEvents(b64 bool) (batch []actors.Frame, blocked bool, wait <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.buf)
	if !b64 {
		for i, f := range p.buf {
			if !stockSendable(f.Data) {
				n, blocked = i, true
				p.noStockStream = true
				break
			}
		}
	}
	batch = append([]actors.Frame(nil), p.buf[:n]...)
	clear(p.buf[:n])
	p.buf = p.buf[n:]
	if len(p.buf) == 0 {
		p.buf = nil
	}
	return batch, blocked, p.wake
}

// putBack returns a batch that could not be written to the buffer's front.
func (p *pollSession) putBack(batch []actors.Frame) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.buf = append(batch, p.buf...)
}

// stockRefused reports whether stock EventSource requests are refused.
func (p *pollSession) stockRefused() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.noStockStream {
		return true
	}
	if len(p.buf) > 0 && !stockSendable(p.buf[0].Data) {
		p.noStockStream = true
	}
	return p.noStockStream
}
