package actors

import (
	"strings"
	"time"

	"github.com/bertsync/bertsync/internal/metrics"
	"github.com/bertsync/bertsync/models"
)

// The session actor's part of the metrics ([Config].Metrics): sessions,
// the requests they answer, their subscriptions and pushes. Each hook
// does nothing without metrics; the session actor calls them from its
// own goroutine, so the state they keep needs no lock.

// requestObs is what a pending request keeps for its metrics.
type requestObs struct {
	// method and model are set once the request decoded; method stays
	// empty for a frame that was not a request.
	method models.Method
	model  string
	start  time.Time
}

// sessionObs is what a session keeps for its metrics: the model types it
// holds a subscription to, as the model actors count them (subscribing
// twice is one subscription, and a session's subscriptions end with it).
type sessionObs struct {
	subs map[string]struct{}
}

func (a *sessionActor) metrics() *metrics.Metrics { return a.s.sys.cfg.Metrics }

// observeStarted counts the session in.
func (a *sessionActor) observeStarted() { a.metrics().SessionOpened() }

// observeArrival starts e's clock.
func (a *sessionActor) observeArrival(e *pending) {
	if a.metrics() != nil {
		e.obs.start = time.Now()
	}
}

// observeRequest records what e asks, once decoded.
func (a *sessionActor) observeRequest(e *pending, req models.Request) {
	e.obs.method, e.obs.model = req.Method, req.Model
}

// observeAnswer counts e's reply, err being the error it carries (nil
// for ok), and follows the subscriptions it made or ended.
func (a *sessionActor) observeAnswer(e *pending, err error) {
	m := a.metrics()
	if m == nil {
		return
	}
	code := "ok"
	if err != nil {
		code = string(models.CodeOf(err))
	}
	if e.rateLimited {
		m.RequestsRejected(code, e.repeat)
		return
	}
	method := metrics.NoMethod
	if e.obs.method != "" {
		method = string(e.obs.method)
	}
	m.ObserveRequest(method, code, time.Since(e.obs.start))
	if err != nil {
		return
	}
	switch e.obs.method {
	case methodSubscribe:
		if _, ok := a.obs.subs[e.obs.model]; !ok {
			if a.obs.subs == nil {
				a.obs.subs = make(map[string]struct{})
			}
			a.obs.subs[e.obs.model] = struct{}{}
			m.Subscribed(e.obs.model)
		}
	case methodUnsubscribe:
		if _, ok := a.obs.subs[e.obs.model]; ok {
			delete(a.obs.subs, e.obs.model)
			m.Unsubscribed(e.obs.model)
		}
	}
}

// observeRejected counts n more frames answered rate_limited in an entry
// already answered.
func (a *sessionActor) observeRejected(n int) {
	a.metrics().RequestsRejected(string(models.CodeRateLimited), n)
}

// observePush counts a push handed to the transport (sent) or refused by
// it.
func (a *sessionActor) observePush(sent bool) {
	if sent {
		a.metrics().PushSent()
	} else {
		a.metrics().PushDropped()
	}
}

// observeStopped counts the session out with its reason, and its
// subscriptions, which end with it.
func (a *sessionActor) observeStopped(reason CloseReason) {
	m := a.metrics()
	if m == nil {
		return
	}
	for model := range a.obs.subs {
		m.Unsubscribed(model)
	}
	a.obs.subs = nil
	if reason == SlowConsumer {
		m.SlowConsumer()
	}
	m.SessionClosed(ReasonLabel(reason))
}

// ReasonLabel is r as a metric label: its words in snake case, such as
// "slow_consumer".
func ReasonLabel(r CloseReason) string {
	return strings.ReplaceAll(r.String(), " ", "_")
}
