package gateway

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"sync"

	"golang.org/x/time/rate"

	"github.com/bertsync/bertsync/actors"
	"github.com/bertsync/bertsync/internal/outqueue"
)

// The HTTP transports (long-poll, EventSource, POST) are many requests
// for one client, tied to one session by a cookie. The session's
// outbound side is a pollSession: the client's outbound queue, which the
// next poll or stream takes from, and the POSTs waiting for their
// replies. A message leaves the queue only to be written; one whose write
// fails goes back to its front for the next poll.
//
// Replies and POSTs: the session answers each delivered frame exactly
// once, in delivery order, and marks its replies (Frame.Reply). A POST
// delivers one frame and registers as the waiter of reply number n, n
// counting the frames this session delivered; the n-th reply goes into
// that POST's response. A reply whose POST is gone (the client hung up,
// the wait timed out) and every push go to the buffer for the next poll.

// cookieName is the name of the session cookie.
const cookieName = "bertsync_session"

// channelParam is the query parameter that gives one page of a browser a
// session of its own. Tabs share their cookies, so without it two tabs
// on an HTTP transport would share one session and each push would reach
// only one of them. Stock bullet.js sends none: one session per browser,
// as in Bullet. A channel is 1 to maxChannelLen characters of base64url.
const (
	channelParam  = "channel"
	maxChannelLen = 64
)

// errBadChannel refuses a request whose channel parameter is malformed.
var errBadChannel = fmt.Errorf("gateway: the %s parameter must be 1 to %d characters of A-Z a-z 0-9 - _", channelParam, maxChannelLen)

// errShuttingDown refuses requests once shutdown has begun.
var errShuttingDown = errors.New("server shutting down")

// pollSession is the outbound side of a session of the HTTP transports;
// it implements [actors.Transport].
type pollSession struct {
	srv     *Server
	browser string // the cookie's value
	id      string // browser + "/" + channel: the key in Server.polls
	sess    *actors.Session
	// addr is the client address the session is counted against;
	// limiter is the session's message rate bucket (nil: no limit).
	addr    netip.Prefix
	limiter *rate.Limiter

	// queue holds what the client has yet to poll, oldest first.
	queue *outqueue.Queue

	mu sync.Mutex
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

// Send queues f for the next poll, or hands a reply to its POST.
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
	return queueFrame(p.queue, f, "polling session")
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
	p.queue.Close()
	close(p.ended)
	p.mu.Unlock()

	s := p.srv
	s.mu.Lock()
	if s.polls[p.id] == p {
		delete(s.polls, p.id)
		if s.browsers[p.browser]--; s.browsers[p.browser] <= 0 {
			delete(s.browsers, p.browser)
		}
	}
	s.mu.Unlock()
	s.admit.release(&s.admit.polls, p.addr)
	s.active.Done()
	s.log.Debug("gateway: polling session ended", "reason", reason.String())
}

func (p *pollSession) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
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
// queue. A reply that came meanwhile is queued now, first, since its
// client is waiting for it.
func (p *pollSession) abandon(n uint64, reply chan actors.Frame) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.waiters[n]; ok {
		delete(p.waiters, n)
		return
	}
	select {
	case f := <-reply:
		p.queue.PutFront([]outqueue.Item{replyItem(f)})
	default:
	}
}

// replyItem is a reply, which no other client shares, as a queue item.
func replyItem(f actors.Frame) outqueue.Item {
	return outqueue.Item{Data: f.Data, Text: f.Text}
}

// pollSessionFor returns the session of r's cookie and channel, or a new
// one. The cookie is kept when it names a browser with a live session, so
// a second tab joins it under its own channel; otherwise a new cookie is
// set on w. A cookie the server does not know is never adopted, so nobody
// can choose another browser's session id for it.
func (s *Server) pollSessionFor(w http.ResponseWriter, r *http.Request) (*pollSession, error) {
	channel := r.URL.Query().Get(channelParam)
	if !validChannel(channel) {
		return nil, errBadChannel
	}
	browser := ""
	if c, err := r.Cookie(cookieName); err == nil {
		s.mu.Lock()
		p := s.polls[c.Value+"/"+channel]
		if s.browsers[c.Value] > 0 {
			browser = c.Value
		}
		s.mu.Unlock()
		if p != nil && !p.isClosed() {
			if p.sess.Caller().Subject == identityOf(r).caller.Subject {
				return p, nil
			}
			// Other credentials than the session's (another user
			// logged in): a session of their own, under a new cookie.
			browser = ""
		}
	}
	setCookie := browser == ""
	if setCookie {
		var err error
		if browser, err = newSessionID(); err != nil {
			return nil, err
		}
	}
	p := &pollSession{
		srv:     s,
		browser: browser,
		id:      browser + "/" + channel,
		queue:   outqueue.New(s.cfg.queueLimits()),
		ended:   make(chan struct{}),
		waiters: make(map[uint64]chan actors.Frame),
		addr:    clientAddr(r.RemoteAddr),
		limiter: s.newLimiter(),
	}
	s.mu.Lock()
	if s.shutting {
		s.mu.Unlock()
		return nil, errShuttingDown
	}
	if err := s.admit.acquire(&s.admit.polls, p.addr); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	s.active.Add(1) // Done in Close, with the admission's release
	s.mu.Unlock()
	// A session born during the actors' shutdown calls p.Close at once.
	p.sess = s.sys.NewSession(p, identityOf(r).sessionOptions()...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.isClosed() {
		return nil, errShuttingDown
	}
	s.polls[p.id] = p
	s.browsers[browser]++
	if setCookie {
		http.SetCookie(w, &http.Cookie{
			Name:     cookieName,
			Value:    browser,
			Path:     s.cfg.Path,
			HttpOnly: true,
			Secure:   r.TLS != nil,
			SameSite: http.SameSiteLaxMode,
		})
	}
	return p, nil
}

// beginPollRequest starts a request of the HTTP transports: it counts the
// request for shutdown, finds or makes its session and allows CORS. When
// it reports ok, the caller calls s.track(-1) once the request ends;
// otherwise the request has been answered (503 while shutting down or
// without randomness, 400 for a malformed channel, 503 or 429 past the
// polling sessions' limits).
func (s *Server) beginPollRequest(w http.ResponseWriter, r *http.Request) (*pollSession, bool) {
	if !s.track(1) {
		httpError(w, http.StatusServiceUnavailable, errShuttingDown.Error())
		return nil, false
	}
	p, err := s.pollSessionFor(w, r)
	if err != nil {
		s.track(-1)
		var rf *refusal
		switch {
		case errors.As(err, &rf):
			s.refuse(w, r, rf)
		case errors.Is(err, errBadChannel):
			httpError(w, http.StatusBadRequest, err.Error())
		default:
			httpError(w, http.StatusServiceUnavailable, err.Error())
		}
		return nil, false
	}
	s.allowCORS(w, r)
	return p, true
}

// validChannel reports whether c is a well-formed channel parameter; the
// empty string is stock bullet.js's one channel.
func validChannel(c string) bool {
	if len(c) > maxChannelLen {
		return false
	}
	for i := 0; i < len(c); i++ {
		switch b := c[i]; {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', b == '-', b == '_':
		default:
			return false
		}
	}
	return true
}

// newSessionID returns 128 random bits as base64url text.
func newSessionID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("gateway: session id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
