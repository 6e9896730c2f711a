package metrics

import "time"

// The metrics of clients: their connections, sessions and requests. The
// gateway counts connections and refusals, the actors' sessions count
// sessions, subscriptions, requests and pushes.

// ConnOpened counts a connection of transport ("websocket",
// "eventsource", "longpoll") that began to be served.
func (m *Metrics) ConnOpened(transport string) {
	if m == nil {
		return
	}
	m.connsAccepted.WithLabelValues(transport).Inc()
	m.connsOpen.WithLabelValues(transport).Inc()
}

// ConnClosed counts the end of a connection [Metrics.ConnOpened] counted,
// with why it ended.
func (m *Metrics) ConnClosed(transport, reason string) {
	if m == nil {
		return
	}
	m.connsOpen.WithLabelValues(transport).Dec()
	m.connsClosed.WithLabelValues(transport, reason).Inc()
}

// ConnRefused counts a request turned away by admission, with the reason:
// "host", "max_conns", "max_conns_per_addr", "max_poll_sessions".
func (m *Metrics) ConnRefused(reason string) {
	if m == nil {
		return
	}
	m.connsRefused.WithLabelValues(reason).Inc()
}

// AuthFailed counts a request whose credentials were refused.
func (m *Metrics) AuthFailed(reason string) {
	if m == nil {
		return
	}
	m.authFailures.WithLabelValues(reason).Inc()
}

// SessionOpened counts a session that started.
func (m *Metrics) SessionOpened() {
	if m == nil {
		return
	}
	m.sessionsOpened.Inc()
	m.sessionsOpen.Inc()
}

// SessionClosed counts the end of a session [Metrics.SessionOpened]
// counted, with its close reason.
func (m *Metrics) SessionClosed(reason string) {
	if m == nil {
		return
	}
	m.sessionsOpen.Dec()
	m.sessionsClosed.WithLabelValues(reason).Inc()
}

// Subscribed counts a new subscription to model; Unsubscribed counts one
// that ended, by the client's unsubscribe or its session's end.
func (m *Metrics) Subscribed(model string) {
	if m == nil {
		return
	}
	m.subscriptions.WithLabelValues(m.ModelLabel(model)).Inc()
}

// Unsubscribed is the end of a subscription [Metrics.Subscribed] counted.
func (m *Metrics) Unsubscribed(model string) {
	if m == nil {
		return
	}
	m.subscriptions.WithLabelValues(m.ModelLabel(model)).Dec()
}

// ObserveRequest counts one request answered with code ("ok" or an error
// code), d after it arrived. method is one of the protocol's methods, or
// [NoMethod].
func (m *Metrics) ObserveRequest(method, code string, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(method, code).Inc()
	m.requestDuration.WithLabelValues(method).Observe(seconds(d))
}

// RequestsRejected counts n frames answered with code without being read
// (past a session's bound on pending requests). They have no method and
// take no time worth measuring, so the latency histogram does not see
// them.
func (m *Metrics) RequestsRejected(code string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.requests.WithLabelValues(NoMethod, code).Add(float64(n))
}

// PushSent counts a push queued for a client; PushDropped one that could
// not be.
func (m *Metrics) PushSent() {
	if m == nil {
		return
	}
	m.pushesSent.Inc()
}

// PushDropped counts a push its client's transport refused.
func (m *Metrics) PushDropped() {
	if m == nil {
		return
	}
	m.pushesDropped.Inc()
}

// SlowConsumer counts a session cut off because its outbound queue was
// full.
func (m *Metrics) SlowConsumer() {
	if m == nil {
		return
	}
	m.slowConsumers.Inc()
}
