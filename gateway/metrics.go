package gateway

import (
	"errors"
	"net/http"

	"github.com/bertsync/bertsync/actors"
	"github.com/bertsync/bertsync/auth"
	"github.com/bertsync/bertsync/internal/outqueue"
)

// The gateway's part of the metrics ([Config].metrics, internal/metrics):
// connections by transport, refusals, authentication failures and the
// outbound queues. The sessions count the rest (actors/metrics.go).

// The transport labels of the connection metrics.
const (
	transportWebSocket   = "websocket"
	transportEventSource = "eventsource"
	transportLongPoll    = "longpoll"
)

// The reasons an HTTP transport's connection ends, besides the session's
// close reasons (actors.ReasonLabel) when the session ended.
const (
	endAnswered    = "answered"      // a long-poll got its message
	endTimeout     = "timeout"       // a long-poll waited PollTimeout: 204
	endClientGone  = "client_closed" // the client hung up
	endWriteFailed = "write_failed"  // the response could not be written
	endStockCR     = "stock_cr"      // a stock EventSource stream met a CR byte
)

// endSession is the reason of a connection that ended with its
// session: the session's close reason stands for it.
const endSession = ""

// connEnded counts the end of an HTTP transport's connection, for reason
// (endSession: the session's close reason).
func (s *Server) connEnded(transport string, p *pollSession, reason string) {
	m := s.cfg.metrics
	if m == nil {
		return
	}
	if reason == endSession {
		p.mu.Lock()
		reason = actors.ReasonLabel(p.reason)
		p.mu.Unlock()
	}
	m.ConnClosed(transport, reason)
}

// authFailure is the auth_failures_total reason of a refused credential:
// the auth package's reasons, "expired" for credentials past their
// expiry, or "other" for an [Authenticator] of a program's own.
func authFailure(err error) string {
	for _, r := range []struct {
		err    error
		reason string
	}{
		{auth.ErrMalformed, "malformed"},
		{auth.ErrAuthorizationHeader, "authorization_header"},
		{auth.ErrAlgNone, "alg_none"},
		{auth.ErrAlgorithm, "algorithm"},
		{auth.ErrSignature, "signature"},
		{auth.ErrExpired, "expired"},
		{auth.ErrNotYetValid, "not_yet_valid"},
		{auth.ErrIssuer, "issuer"},
		{auth.ErrAudience, "audience"},
		{auth.ErrNoSubject, "no_subject"},
		{errCredentialsExpired, "expired"},
	} {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return "other"
}

// refusalReason is the connections_refused_total reason of an admission
// refusal.
func refusalReason(rf *refusal) string {
	switch {
	case rf.limit != "":
		return rf.limit
	case rf.status == http.StatusMisdirectedRequest:
		return "host"
	}
	return "other"
}

// queued sums the outbound queues of every connection and polling
// session, for the scrape.
func (s *Server) queued() (messages, bytes int) {
	s.mu.Lock()
	qs := make([]*outqueue.Queue, 0, len(s.conns)+len(s.polls))
	for c := range s.conns {
		qs = append(qs, &c.queue)
	}
	for _, p := range s.polls {
		qs = append(qs, p.queue)
	}
	s.mu.Unlock()
	for _, q := range qs {
		messages += q.Len()
		bytes += q.Bytes()
	}
	return messages, bytes
}
