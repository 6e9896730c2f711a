package gateway

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/gorilla/websocket"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/bertsync/bertsync/internal/cluster"
)

// The router's side of a forwarded request: it sends the request to the
// owner's actor and writes the owner's response to its client as it
// comes, through a reply actor of its own that hands the owner's
// messages to the handler goroutine. Each data message is acknowledged
// once written and flushed; the owner sends no more than clusterWindow
// unacknowledged ones, so the reply actor's buffer never fills unless
// the owner misbehaves, and the request is then given up.

// routeBullet forwards r to the node that holds its session, when that
// is another live node, and reports whether it did. The requests it
// leaves (no cookie, an unsigned or forged one, one of this node or of a
// node that is gone) are served here, where an unknown cookie gets a new
// session.
func (s *Server) routeBullet(w http.ResponseWriter, r *http.Request) bool {
	c := s.cfg.Cluster
	if c == nil || r.Context().Value(forwardedKey{}) != nil {
		return false
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost || websocket.IsWebSocketUpgrade(r) {
		return false
	}
	ck, err := r.Cookie(cookieName)
	if err != nil {
		return false
	}
	node, err := cluster.ParseSessionID(c.cfg.Key, ck.Value)
	if err != nil || node == c.self {
		return false
	}
	owner, ok := c.cfg.Members.Lookup(r.Context(), node)
	if !ok {
		s.log.Debug("gateway: session of a node that is gone: a new one starts here", "node", node)
		return false
	}
	s.forward(w, r, owner)
	return true
}

// forward runs r on owner and relays the response.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, owner cluster.Node) {
	c := s.cfg.Cluster
	if !s.track(1) {
		httpError(w, http.StatusServiceUnavailable, errShuttingDown.Error())
		return
	}
	defer s.track(-1)
	m := &clusterMsg{
		Kind:       msgRequest,
		Method:     r.Method,
		URI:        r.URL.RequestURI(),
		Host:       r.Host,
		Header:     r.Header,
		RemoteAddr: r.RemoteAddr,
		TLS:        r.TLS != nil,
	}
	if r.Method == http.MethodGet {
		// A held poll or stream is a connection of this node's.
		release, ok := s.admitConn(w, r)
		if !ok {
			return
		}
		defer release()
	} else {
		// As much of the body as the owner's POST handler would read.
		limit := min(int64(2*s.maxMessage)+1, maxForwardBody)
		if d := s.cfg.ReadTimeout; d > 0 {
			http.NewResponseController(w).SetReadDeadline(time.Now().Add(d))
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
		switch {
		case err != nil:
			httpError(w, http.StatusBadRequest, "reading the body: "+err.Error())
			return
		case int64(len(body)) > limit:
			httpError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("a message forwarded to the session's node is limited to %d bytes", limit))
			return
		}
		m.Body = body
	}

	rt := &routed{
		ch:     make(chan clusterMsg, clusterWindow+1),
		alive:  make(chan struct{}, 1),
		broken: make(chan struct{}),
	}
	rt.pid = c.as.Root.Spawn(actor.PropsFromFunc(rt.receive))
	defer c.as.Root.Stop(rt.pid)
	to := actor.NewPID(owner.ClusterAddr, clusterActorName)
	c.send(to, m, rt.pid)

	rc := http.NewResponseController(w)
	silence := time.NewTimer(c.cfg.Timeout)
	defer silence.Stop()
	tick := time.NewTicker(c.cfg.KeepAlive)
	defer tick.Stop()
	started := false
	// give up ends the forwarded request: the owner stops it, and a
	// client that has had nothing yet gets 503.
	giveUp := func(reason string) {
		c.send(to, &clusterMsg{Kind: msgCancel}, rt.pid)
		if !started {
			httpError(w, http.StatusServiceUnavailable, reason)
		}
	}
	for {
		select {
		case msg := <-rt.ch:
			silence.Reset(c.cfg.Timeout)
			switch msg.Kind {
			case msgData:
				if !started {
					h := w.Header()
					for k, v := range msg.Header {
						h[k] = v
					}
					status := msg.Status
					if status < 200 || status > 999 {
						status = http.StatusBadGateway
					}
					w.WriteHeader(status)
					started = true
				}
				rc.SetWriteDeadline(s.writeDeadline())
				if len(msg.Data) > 0 {
					if _, err := w.Write(msg.Data); err != nil {
						giveUp("")
						return
					}
				}
				if msg.Flush {
					if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
						giveUp("")
						return
					}
				}
				rc.SetWriteDeadline(time.Time{})
				c.send(to, &clusterMsg{Kind: msgAck, Seq: msg.Seq}, rt.pid)
			case msgEnd:
				if !started {
					httpError(w, http.StatusServiceUnavailable, "the session's node could not serve the request: "+msg.Err)
				}
				return
			}
		case <-rt.alive:
			silence.Reset(c.cfg.Timeout)
		case <-tick.C:
			c.send(to, &clusterMsg{Kind: msgAlive}, rt.pid)
		case <-silence.C:
			s.log.Debug("gateway: the node holding a session went silent", "node", owner.ID)
			giveUp(fmt.Sprintf("the node holding the session (%s) does not answer", owner.ID))
			return
		case <-rt.broken:
			s.log.Debug("gateway: forwarded request lost", "node", owner.ID, "reason", rt.reason)
			giveUp(fmt.Sprintf("the node holding the session (%s) cannot be reached", owner.ID))
			return
		case <-r.Context().Done():
			giveUp("")
			return
		case <-s.quit:
			giveUp(errShuttingDown.Error())
			return
		}
	}
}

// routed is the router's side of one forwarded request: its reply
// actor's mailbox, drained by the handler goroutine. The owner's data
// messages and its end go to ch, which has room for all the owner may
// send (its window and the end); keep-alives only mark alive, so that
// they never take that room while the handler is busy writing.
type routed struct {
	pid   *actor.PID
	ch    chan clusterMsg
	alive chan struct{}
	// broken is closed when the request is lost: the owner is
	// unreachable, or sent more than the window allows.
	broken chan struct{}
	once   sync.Once
	reason string
}

func (rt *routed) receive(ctx actor.Context) {
	switch v := ctx.Message().(type) {
	case *wrapperspb.BytesValue:
		m, err := unwrapMsg(v)
		if err != nil {
			rt.fail("malformed message: " + err.Error())
			return
		}
		if m.Kind == msgAlive {
			select {
			case rt.alive <- struct{}{}:
			default:
			}
			return
		}
		select {
		case rt.ch <- m:
		default:
			rt.fail("the owner sent past its window")
		}
	case *actor.DeadLetterResponse:
		// No such actor there, or no connection to the node.
		rt.fail("dead letter")
	}
}

func (rt *routed) fail(reason string) {
	rt.once.Do(func() {
		rt.reason = reason
		close(rt.broken)
	})
}
