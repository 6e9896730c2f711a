package actors

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bertsync/bertsync/internal/metrics"
	"github.com/bertsync/bertsync/internal/metrics/metricstest"
	"github.com/bertsync/bertsync/models"
)

func scrapeMetrics(t *testing.T, m *metrics.Metrics) metricstest.Families {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	f, err := metricstest.Scrape(context.Background(), srv.Client(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// The sessions count themselves, their requests by method and code, their
// subscriptions by model type, and the pushes they send or cannot; a slow
// consumer is counted once, when it is cut off.
func TestSessionMetrics(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{Models: []string{"m"}})
	g := newGate()
	sys := newTestSystem(t, Config{Metrics: m, RequestTimeout: 100 * time.Millisecond},
		map[string]models.Handler{"m": echo, "stuck": g})
	slowT, fastT := newFakeTransport(2), newFakeTransport(100)
	slow, fast := sys.NewSession(slowT), sys.NewSession(fastT)
	for _, st := range []struct {
		s  *Session
		tr *fakeTransport
	}{{slow, slowT}, {fast, fastT}} {
		send(t, st.s, request("subscribe", "m", nil))
		reply, _ := st.tr.next(t)
		wantOK(t, reply)
	}
	// Subscribing twice is one subscription.
	send(t, fast, request("subscribe", "m", nil))
	reply, _ := fastT.next(t)
	wantOK(t, reply)
	f := scrapeMetrics(t, m)
	if got := f.Get("bertsync_subscriptions", "model", "m"); got != 2 {
		t.Errorf("subscriptions to m: %v, want 2", got)
	}
	if got := f.Get("bertsync_sessions_open"); got != 2 {
		t.Errorf("sessions open: %v, want 2", got)
	}
	// slowT is never read again: its queue of 2 fills on the second push.
	for i := range 4 {
		if _, err := sys.Call(context.Background(), models.Request{Method: models.Create, Model: "m"}); err != nil {
			t.Fatal(err)
		}
		push, _ := fastT.next(t)
		wantPush(t, push, "created", "m", int64(i+1))
	}
	if r := slowT.waitClosed(t); r != SlowConsumer {
		t.Fatalf("slow session closed with %v", r)
	}
	// A request no reply comes for is answered unavailable at its
	// deadline; a frame that is no request has no method.
	send(t, fast, request("read", "stuck", nil, int64(7)))
	g.waitEntered(t)
	reply, _ = fastT.next(t)
	wantError(t, reply, models.CodeUnavailable, int64(7))
	fast.Deliver(Frame{Data: []byte{131, 0}})
	reply, _ = fastT.next(t)
	wantError(t, reply, models.CodeBadRequest)
	close(g.release)

	f = scrapeMetrics(t, m)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"bertsync_requests_total", []string{"method", "subscribe", "code", "ok"}, 3},
		{"bertsync_requests_total", []string{"method", "read", "code", "unavailable"}, 1},
		{"bertsync_requests_total", []string{"method", "none", "code", "bad_request"}, 1},
		{"bertsync_request_duration_seconds", []string{"method", "subscribe"}, 3},
		{"bertsync_pushes_sent_total", nil, 4 + 2}, // all four to fast, two to slow
		{"bertsync_pushes_dropped_total", nil, 1},  // slow's third, which cut it off
		{"bertsync_slow_consumers_total", nil, 1},
		{"bertsync_sessions_closed_total", []string{"reason", "slow_consumer"}, 1},
		{"bertsync_sessions_open", nil, 1},
		{"bertsync_sessions_opened_total", nil, 2},
		// slow's subscription ended with it.
		{"bertsync_subscriptions", []string{"model", "m"}, 1},
	} {
		if got, ok := f.Value(c.name, c.labels...); !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	// Unsubscribing ends the subscription.
	send(t, fast, request("unsubscribe", "m", nil))
	reply, _ = fastT.next(t)
	wantOK(t, reply)
	if got := scrapeMetrics(t, m).Get("bertsync_subscriptions", "model", "m"); got != 0 {
		t.Errorf("subscriptions after the unsubscribe: %v", got)
	}
}
