package metrics_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bertsync/bertsync/internal/metrics"
	"github.com/bertsync/bertsync/internal/metrics/metricstest"
)

func scrape(t *testing.T, m *metrics.Metrics) metricstest.Families {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	fams, err := metricstest.Scrape(context.Background(), srv.Client(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// A nil *Metrics is a server without metrics: every call is a no-op.
func TestNilMetrics(t *testing.T) {
	t.Parallel()
	var m *metrics.Metrics
	m.ConnOpened("websocket")
	m.ConnClosed("websocket", "client_closed")
	m.ConnRefused("host")
	m.AuthFailed("expired")
	m.SessionOpened()
	m.SessionClosed("client_closed")
	m.Subscribed("note")
	m.Unsubscribed("note")
	m.ObserveRequest("read", "ok", time.Millisecond)
	m.RequestsRejected("rate_limited", 3)
	m.PushSent()
	m.PushDropped()
	m.SlowConsumer()
	m.ObserveCommit(time.Millisecond, 4)
	m.SetHistorySize("note", 10)
	m.AddQueues(func() (int, int) { return 1, 1 })()
	if got := m.ModelLabel("note"); got != metrics.OtherModel {
		t.Errorf("ModelLabel on nil = %q", got)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("nil Handler answered %d, want 404", rec.Code)
	}
}

func TestMetricsScrape(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{
		Models: []string{"note"},
		Build:  metrics.Build{Version: "v1.2.3", Revision: "abc", GoVersion: "go1.26"},
	})
	m.ConnOpened("websocket")
	m.ConnOpened("websocket")
	m.ConnClosed("websocket", "slow_consumer")
	m.ConnRefused("max_conns")
	m.AuthFailed("signature")
	m.SessionOpened()
	m.Subscribed("note")
	m.Subscribed("todo")
	m.Subscribed("chat")
	m.Unsubscribed("chat")
	m.ObserveRequest("create", "ok", 3*time.Millisecond)
	m.ObserveRequest("create", "forbidden", time.Millisecond)
	m.RequestsRejected("rate_limited", 5)
	m.PushSent()
	m.PushDropped()
	m.SlowConsumer()
	m.ObserveCommit(2*time.Millisecond, 7)
	m.SetHistorySize("note", 10)
	m.SetHistorySize("a", 3)
	m.SetHistorySize("b", 4)
	m.SetHistorySize("a", 1)
	remove := m.AddQueues(func() (int, int) { return 2, 300 })
	m.AddQueues(func() (int, int) { return 1, 50 })

	f := scrape(t, m)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"bertsync_build_info", []string{"version", "v1.2.3", "revision", "abc", "goversion", "go1.26", "modified", "false"}, 1},
		{"bertsync_connections_open", []string{"transport", "websocket"}, 1},
		{"bertsync_connections_accepted_total", []string{"transport", "websocket"}, 2},
		{"bertsync_connections_closed_total", []string{"transport", "websocket", "reason", "slow_consumer"}, 1},
		{"bertsync_connections_refused_total", []string{"reason", "max_conns"}, 1},
		{"bertsync_auth_failures_total", []string{"reason", "signature"}, 1},
		{"bertsync_sessions_open", nil, 1},
		{"bertsync_sessions_opened_total", nil, 1},
		{"bertsync_subscriptions", []string{"model", "note"}, 1},
		// todo and chat have no label of their own.
		{"bertsync_subscriptions", []string{"model", "other"}, 1},
		{"bertsync_requests_total", []string{"method", "create", "code", "ok"}, 1},
		{"bertsync_requests_total", []string{"method", "create"}, 2},
		{"bertsync_requests_total", []string{"method", "none", "code", "rate_limited"}, 5},
		{"bertsync_request_duration_seconds", []string{"method", "create"}, 2},
		{"bertsync_pushes_sent_total", nil, 1},
		{"bertsync_pushes_dropped_total", nil, 1},
		{"bertsync_slow_consumers_total", nil, 1},
		{"bertsync_store_commit_duration_seconds", nil, 1},
		{"bertsync_store_commit_writes", nil, 1},
		{"bertsync_stream_history_events", []string{"model", "note"}, 10},
		// a's latest 1 and b's 4.
		{"bertsync_stream_history_events", []string{"model", "other"}, 5},
		{"bertsync_outbound_queued_messages", nil, 3},
		{"bertsync_outbound_queued_bytes", nil, 350},
	} {
		got, ok := f.Value(c.name, c.labels...)
		if !ok || got != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if _, ok := f.Value("bertsync_subscriptions", "model", "todo"); ok {
		t.Error("a type not named has a label of its own")
	}
	if _, ok := f.Value("go_goroutines"); !ok {
		t.Error("no Go runtime metrics")
	}
	// The sum of the commit histogram is in seconds.
	if h := f["bertsync_store_commit_duration_seconds"].GetMetric()[0].GetHistogram(); h.GetSampleSum() != 0.002 {
		t.Errorf("commit sum %v s, want 0.002", h.GetSampleSum())
	}

	remove()
	m.SetHistorySize("b", 0)
	f = scrape(t, m)
	if got := f.Get("bertsync_outbound_queued_bytes"); got != 50 {
		t.Errorf("queued bytes after a source went: %v, want 50", got)
	}
	if got := f.Get("bertsync_stream_history_events", "model", "other"); got != 1 {
		t.Errorf("other history after b's went: %v, want 1", got)
	}
}

func TestBuildString(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		b    metrics.Build
		want string
	}{
		{metrics.Build{Version: "(devel)", GoVersion: "go1.26.8"}, "(devel) go1.26.8"},
		{metrics.Build{Version: "v1.0.0", Revision: "4f2a", Time: "2026-11-22T21:00:00Z", Modified: true, GoVersion: "go1.26.8"},
			"v1.0.0 (revision 4f2a, 2026-11-22T21:00:00Z, modified) go1.26.8"},
	} {
		if got := c.b.String(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.b, got, c.want)
		}
	}
	if b := metrics.ReadBuild(); b.Version == "" || b.GoVersion == "" {
		t.Errorf("ReadBuild() = %+v: no version", b)
	}
}
