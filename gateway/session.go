package gateway

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/bertsync/bertsync/actors"
)

// The HTTP transports (long-poll, EventSource, POST) are many requests
// for one client, tied to one session by a cookie. The session's
// outbound side is a pollSession: a bounded buffer of messages that the
// next poll or stream takes, and the POSTs waiting for their replies.
//
// Replies and POSTs: the session answers each delivered frame exactly
// once, in delivery order, and marks its replies (Frame.Reply). A POST
// delivers one frame and registers as the waiter of reply number n, n
// counting the frames this session delivered; the n-th reply goes into
// that POST's response. A reply whose POST is gone (the client hung up,
// the wait timed out) and every push go to the buffer for the next poll.

// cookieName is the name of the session cookie.
const cookieName = "bertsync_session"

// errShuttingDown refuses requests once shutdown has begun.
var errShuttingDown = errors.New("server shutting down")

// pollSession is the outbound side of a session of the HTTP transports;
// it implements [actors.Transport].
type pollSession struct {
	srv  *Server
	id   string
	sess *actors.Session

	mu  sync.Mutex
	buf []actors.Frame // for the client, oldest first
	// wake is closed, and replaced, when buf grows or the session ends.
	wake chan struct{}
	// delivered counts the frames handed to the session, replied the
	// replies seen; waiters holds the POSTs by their frame's number.
	delivered, replied uint64
	waiters            map[uint64]chan actors.Frame
	closed             bool
	reason             actors.CloseReason
	// ended is closed when the session has ended.
	ended chan struct{}
	// noStockStream is set once a message a stock EventSource cannot
	// carry (a CR byte) was due: EventSource requests without the
	// base64 marker are refused from then on, so bullet.js falls back to
	// long-polling (see eventsource.go).
	noStockStream bool
}

var _ actors.Transport = (*pollSession)(nil)

// Send buffers f for the next poll, or hands a reply to its POST.
func (p *pollSession) Send(f actors.Frame) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return actors.ErrTransportClosed
	}
	if f.Reply {
		p.replied++
		if ch, ok := p.waiters[p.replied]; ok {
			delete(p.waiters, p.replied)
			ch <- f // buffered, one reply per waiter
			return nil
		}
	}
	if len(p.buf) >= p.srv.cfg.MaxPollBuffer {
		return fmt.Errorf("gateway: poll buffer of %d messages full: %w", p.srv.cfg.MaxPollBuffer, actors.ErrSlowConsumer)
	}
	p.buf = append(p.buf, f)
	p.signal()
	return nil
}

// Close ends the polling session: it forgets the cookie and wakes every
// request waiting on it.
func (p *pollSession) Close(reason actors.CloseReason) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.reason = reason
	p.buf = nil
	close(p.ended)
	p.signal()
	p.mu.Unlock()

	s := p.srv
	s.mu.Lock()
	if s.polls[p.id] == p {
		delete(s.polls, p.id)
	}
	s.mu.Unlock()
	s.active.Done()
	s.log.Debug("gateway: polling session ended", "reason", reason.String())
}

func (p *pollSession) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// signal wakes the requests waiting for p; p.mu is held.
func (p *pollSession) signal() {
	close(p.wake)
	p.wake = make(chan struct{})
}

// deliver hands f to the session and returns the channel its reply will
// come on.
func (p *pollSession) deliver(f actors.Frame) (n uint64, reply chan actors.Frame) {
	reply = make(chan actors.Frame, 1)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delivered++
	n = p.delivered
	p.waiters[n] = reply
	// Deliver never blocks, and the session calls Send from its own
	// goroutine: holding p.mu keeps numbering and delivery in one order.
	p.sess.Deliver(f)
	return n, reply
}

// abandon gives up waiting for reply n: when it comes it goes to the
// buffer. A reply that came meanwhile is buffered now.
func (p *pollSession) abandon(n uint64, reply chan actors.Frame) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.waiters[n]; ok {
		delete(p.waiters, n)
		return
	}
	select {
	case f := <-reply:
		if !p.closed && len(p.buf) < p.srv.cfg.MaxPollBuffer {
			p.buf = append(p.buf, f)
			p.signal()
		}
	default:
	}
}

// next takes the oldest buffered message; ok is false when there is none.
// wait is closed when there may be more, ended when the session ended.
func (p *pollSession) next() (f actors.Frame, ok bool, wait <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) == 0 {
		return f, false, p.wake
	}
	f = p.buf[0]
	p.buf[0] = actors.Frame{}
	p.buf = p.buf[1:]
	if len(p.buf) == 0 {
		p.buf = nil
	}
	return f, true, p.wake
}

// pollSessionFor returns the session of r's cookie, or a new one with its
// cookie set on w.
func (s *Server) pollSessionFor(w http.ResponseWriter, r *http.Request) (*pollSession, error) {
	if c, err := r.Cookie(cookieName); err == nil {
		s.mu.Lock()
		p := s.polls[c.Value]
		s.mu.Unlock()
		if p != nil && !p.isClosed() {
			return p, nil
		}
	}
	id, err := newSessionID()
	if err != nil {
		return nil, err
	}
	p := &pollSession{
		srv:     s,
		id:      id,
		wake:    make(chan struct{}),
		ended:   make(chan struct{}),
		waiters: make(map[uint64]chan actors.Frame),
	}
	s.mu.Lock()
	if s.shutting {
		s.mu.Unlock()
		return nil, errShuttingDown
	}
	s.active.Add(1) // Done in Close
	s.mu.Unlock()
	// A session born during the actors' shutdown calls p.Close at once.
	p.sess = s.sys.NewSession(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.isClosed() {
		return nil, errShuttingDown
	}
	s.polls[id] = p
	http.SetCookie(w, &http.Cookie{
		Name:     cookieName,
		Value:    id,
		Path:     s.cfg.Path,
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteLaxMode,
	})
	return p, nil
}

// newSessionID returns 128 random bits as base64url text.
func newSessionID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("gateway: session id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
