package gateway

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/bertsync/bertsync/actors"
	"github.com/bertsync/bertsync/internal/outqueue"
	"github.com/bertsync/bertsync/models"
)

// Long-polling and POST, Bullet's fallback transports.
//
// A GET (without Accept: text/event-stream) is held until the session has
// a message for the client and answered 200 with that one message as the
// body, or 204 after [Config.PollTimeout].
//
// A POST carries one message in its raw body; it is never form-parsed,
// whatever its Content-Type (bullet.js says
// application/x-www-form-urlencoded). A body that starts with the UTF-8
// bytes C2 83 (U+0083) is a BERT-JS binary string, decoded one character
// per byte; a body that starts with the byte 131 is raw BERT; the body
// "ping" is answered "pong". The reply to that message is the POST's 200
// body, or 204 when none came in time (it then goes to the next poll);
// pushes go to the polls and streams.
//
// Bodies carry messages in the frame type of their request: a BERT-JS
// text message as a binary string (text/plain; charset=utf-8), a raw BERT
// message as raw bytes (application/octet-stream). Pushes use the type of
// the client's latest message, text before the first.

// postSlack is how much longer than the session's request timeout a POST
// waits for its reply; the session answers every request within that
// timeout, so this is only a safety net.
const postSlack = 5 * time.Second

func (s *Server) servePoll(w http.ResponseWriter, r *http.Request) {
	// A held poll is a connection like a WebSocket (admission.go).
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
	s.cfg.metrics.ConnOpened(transportLongPoll)
	end := endClientGone
	defer func() { s.connEnded(transportLongPoll, p, end) }()
	p.sess.Touch()
	defer p.sess.Touch()
	// Another request of the session may be waiting too: whatever this
	// one leaves in the queue is its to take.
	defer p.queue.Signal()
	var timeout <-chan time.Time
	if d := s.cfg.PollTimeout; d > 0 {
		timer := time.NewTimer(d)
		defer timer.Stop()
		timeout = timer.C
	}
	// The shutdown does not end the poll: the session answers its last
	// requests first, and what it sends meanwhile, or kept from before,
	// is this poll's to take.
	for {
		if r.Context().Err() != nil {
			return // the client is gone: take nothing
		}
		if it, ok := p.queue.Take(); ok {
			end = endAnswered
			if err := s.writeMessage(w, http.StatusOK, it); err != nil {
				s.log.Debug("gateway: poll response failed, the message stays queued", "remote", r.RemoteAddr, "err", err)
				p.queue.PutFront([]outqueue.Item{it})
				end = endWriteFailed
			}
			p.releaseIfDrained()
			return
		}
		if p.isClosed() {
			// Ended, and nothing is left for the client.
			end = endSession
			w.WriteHeader(http.StatusNoContent)
			p.releaseIfDrained()
			return
		}
		select {
		case <-p.queue.Ready():
		case <-p.ended:
			// Take what it left, if anything, then answer.
		case <-timeout:
			end = endTimeout
			w.WriteHeader(http.StatusNoContent)
			return
		case <-r.Context().Done():
			return
		}
	}
}

func (s *Server) servePost(w http.ResponseWriter, r *http.Request) {
	p, ok := s.beginPollRequest(w, r)
	if !ok {
		return
	}
	defer s.track(-1)

	max := s.maxMessage
	wireMax := 2 * max
	if d := s.cfg.ReadTimeout; d > 0 {
		http.NewResponseController(w).SetReadDeadline(time.Now().Add(d))
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(wireMax)+1))
	if err != nil {
		httpError(w, http.StatusBadRequest, "reading the body: "+err.Error())
		return
	}
	var f actors.Frame
	switch {
	case !s.allowMessage(p.limiter):
		if bytes.Equal(body, []byte("ping")) {
			httpError(w, http.StatusTooManyRequests, s.rateLimitedMessage())
			return
		}
		// In its place among the replies, in the frame type it came in.
		raw := len(body) > 0 && body[0] == bertMagic
		f = errFrame(!raw, models.CodeRateLimited, "%s", s.rateLimitedMessage())
	case len(body) > wireMax:
		f = errFrame(isBinaryString(body), models.CodeTooLarge,
			"message of more than %d bytes exceeds the limit of %d bytes", wireMax, max)
	case isBinaryString(body):
		data, err := decodeBinaryString(body)
		switch {
		case err != nil:
			f = errFrame(true, models.CodeBadRequest, "BERT text body: %v", err)
		case len(data) > max:
			f = errFrame(true, models.CodeTooLarge, "message of %d bytes exceeds the limit of %d bytes", len(data), max)
		default:
			f = actors.Frame{Data: data, Text: true}
		}
	case len(body) > 0 && body[0] == bertMagic:
		if len(body) > max {
			f = errFrame(false, models.CodeTooLarge, "message of %d bytes exceeds the limit of %d bytes", len(body), max)
		} else {
			f = actors.Frame{Data: body}
		}
	case bytes.Equal(body, []byte("ping")):
		p.sess.Touch()
		s.writeMessage(w, http.StatusOK, replyItem(pongFrame))
		return
	default:
		f = errFrame(true, models.CodeBadRequest,
			`POST body of %d bytes is neither a BERT term (byte 131 or U+0083 first) nor "ping"`, len(body))
	}

	n, reply := p.deliver(f)
	var timeout <-chan time.Time
	if d := s.sys.Config().RequestTimeout; d > 0 {
		timer := time.NewTimer(d + postSlack)
		defer timer.Stop()
		timeout = timer.C
	}
	answer := func(f actors.Frame) {
		it := replyItem(f)
		if err := s.writeMessage(w, http.StatusOK, it); err != nil {
			s.log.Debug("gateway: POST response failed, the reply is queued for the next poll", "remote", r.RemoteAddr, "err", err)
			p.queue.PutFront([]outqueue.Item{it})
		}
	}
	select {
	case f := <-reply:
		answer(f)
	case <-p.ended:
		// A session answers what it received before it ends (the
		// shutdown's drain): the reply may be here already.
		select {
		case f := <-reply:
			answer(f)
			return
		default:
		}
		p.abandon(n, reply)
		httpError(w, http.StatusServiceUnavailable, "session ended: "+p.reason.String())
	case <-timeout:
		p.abandon(n, reply)
		w.WriteHeader(http.StatusNoContent)
	case <-r.Context().Done():
		p.abandon(n, reply)
	}
}

// errFrame is an inbound frame the session answers with an error.
func errFrame(text bool, code models.Code, format string, args ...any) actors.Frame {
	return actors.Frame{Text: text, Err: models.Errorf(code, format, args...)}
}

// writeMessage answers with one message as the body and reports whether
// it could be written and flushed: a failure means the client most likely
// did not get it.
func (s *Server) writeMessage(w http.ResponseWriter, status int, it outqueue.Item) error {
	h := w.Header()
	body := it.Data
	if it.Text {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		body = s.wireText(it)
	} else {
		h.Set("Content-Type", "application/octet-stream")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(s.writeDeadline())
	w.WriteHeader(status)
	if _, err := w.Write(body); err != nil {
		return err
	}
	if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}
