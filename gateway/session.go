package gateway

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"sync"
	"time"

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
//
// Shutdown: a session the server's shutdown ends keeps what its client
// has yet to poll (its queue is not dropped) for up to pollDrainGrace,
// and the polls and streams of such a session, and of one still
// answering its last requests, are served while the server drains,
// although it takes no new request; the session is let go once its
// client has taken everything, or at the grace's end.

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

// pollDrainGrace is how long a polling session the shutdown ended keeps
// the messages its client has yet to poll. A client polls again as soon
// as a poll is answered, so this is ample for one that is still there,
// and short enough that one that left does not hold the shutdown for
// long (its ShutdownTimeout bounds it anyway).
const pollDrainGrace = 5 * time.Second

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

	// releaseOnce lets the session go: out of Server.polls, its
	// admission and its count in Server.active.
	releaseOnce sync.Once
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

// Close ends the polling session and wakes every request waiting on it.
// Unless the shutdown ended it with messages still queued, it forgets the
// cookie and drops the queue; those messages are kept for the client's
// next polls instead, for up to pollDrainGrace.
func (p *pollSession) Close(reason actors.CloseReason) {
	forced := p.srv.forced.Load()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.reason = reason
	keep := reason == actors.ServerShutdown && !forced && p.queue.Len() > 0
	if !keep {
		p.queue.Close()
	}
	close(p.ended)
	p.mu.Unlock()
	if keep {
		p.srv.log.Debug("gateway: polling session ended by the shutdown keeps its messages for the next poll",
			"messages", p.queue.Len(), "grace", pollDrainGrace)
		time.AfterFunc(pollDrainGrace, p.release)
		return
	}
	p.release()
}

// release lets the ended session go: it forgets the cookie, drops the
// queue and frees the session's place. Only the first call counts.
func (p *pollSession) release() {
	p.releaseOnce.Do(func() {
		p.queue.Close()
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
		s.log.Debug("gateway: polling session ended", "reason", p.reason.String())
	})
}

// releaseIfDrained lets an ended session go once its client has taken
// everything it kept.
func (p *pollSession) releaseIfDrained() {
	p.mu.Lock()
	drained := p.closed && p.queue.Len() == 0
	p.mu.Unlock()
	if drained {
		p.release()
	}
}

func (p *pollSession) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// endedByShutdown reports whether the session ended because the server
// shuts down.
func (p *pollSession) endedByShutdown() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed && p.reason == actors.ServerShutdown
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
		} else if p != nil && p.endedByShutdown() {
			// The actors' shutdown ended it, maybe before the gateway's
			// began: a poll still takes what it kept, and nothing new
			// starts.
			if r.Method == http.MethodGet && p.sess.Caller().Subject == identityOf(r).caller.Subject {
				return p, nil
			}
			return nil, errShuttingDown
		}
	}
	setCookie := browser == ""
	if setCookie {
		var err error
		if browser, err = s.newBrowserID(); err != nil {
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
		if p := s.drainingPoll(r); p != nil {
			s.allowCORS(w, r)
			return p, true
		}
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

// drainingPoll returns, once shutdown has begun, the session of r when r
// is a poll or stream (a GET) of a session that may still have messages
// for its client: one answering its last requests, or one the shutdown
// ended that keeps its queue. It counts r in Server.active, as track
// does; nil means r is refused.
func (s *Server) drainingPoll(r *http.Request) *pollSession {
	if r.Method != http.MethodGet {
		return nil
	}
	c, err := r.Cookie(cookieName)
	channel := r.URL.Query().Get(channelParam)
	if err != nil || !validChannel(channel) {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.polls[c.Value+"/"+channel]
	if p == nil || p.sess.Caller().Subject != identityOf(r).caller.Subject {
		return nil
	}
	// p is still in polls, so its own count in active is not released
	// (release removes it first): the counter is above zero, and adding
	// to it while Shutdown waits is allowed.
	s.active.Add(1)
	return p
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
