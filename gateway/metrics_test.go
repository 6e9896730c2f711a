package gateway

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bertsync/bertsync/actors"
	"github.com/bertsync/bertsync/auth"
	"github.com/bertsync/bertsync/internal/metrics/metricstest"
	"github.com/bertsync/bertsync/models"
)

// scraper returns a function that scrapes the metrics served on ln and
// parses them as Prometheus does.
func scraper(t *testing.T, ln net.Listener) func() metricstest.Families {
	url := "http://" + ln.Addr().String() + "/metrics"
	return func() metricstest.Families {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		f, err := metricstest.Scrape(ctx, http.DefaultClient, url)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
}

// The metrics endpoint of ListenAndServe, scraped and parsed as
// Prometheus does: a connection, a request, a subscription, a push, a
// long-poll and an authentication failure each move their metric.
func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	jwt, err := auth.NewJWT(auth.JWTConfig{Secret: []byte("a secret of the metrics test, long enough")})
	if err != nil {
		t.Fatal(err)
	}
	metricsLn := newTestListener(t, false)
	addr, stop, done := startListenAndServe(t, ServeConfig{
		Listener:        newTestListener(t, false),
		MetricsListener: metricsLn,
		DataDir:         t.TempDir(),
		Models:          []string{"note"},
		Logger:          slog.New(slog.DiscardHandler),
		Gateway:         Config{Authenticator: jwt, PollTimeout: 50 * time.Millisecond},
		// Anonymous callers may do everything: the token is only for
		// the failure.
		Actors: actors.Config{Rules: models.DefaultRules(false)},
	})
	scrape := scraper(t, metricsLn)
	before := scrape()
	if v, ok := before.Value("bertsync_build_info"); !ok || v != 1 {
		t.Errorf("bertsync_build_info = %v, %v", v, ok)
	}
	if got := before.Get("bertsync_connections_accepted_total"); got != 0 {
		t.Errorf("connections before any: %v", got)
	}

	c := dialAddr(t, addr, DefaultPath)
	sendBinary(t, c, `{sync, subscribe, note, []}`)
	if _, got := readTerm(t, c); !strings.HasPrefix(got, "{sync,ok,") {
		t.Fatalf("subscribe: %s", got)
	}
	sendBinary(t, c, `{sync, create, note, [{text, <<"x">>}]}`)
	for range 2 { // the push and the reply
		readTerm(t, c)
	}
	// An HTTP client: a long-poll that times out, and a request with a
	// token that is no JWT.
	hc := &client{t: t, hc: &http.Client{Jar: &cookieJar{}, Timeout: waitLimit}, url: "http://" + addr + DefaultPath}
	if status, _, _ := hc.poll(); status != http.StatusNoContent {
		t.Errorf("poll: %d, want 204", status)
	}
	req, _ := http.NewRequest(http.MethodGet, hc.url, nil)
	req.Header.Set("Authorization", "Bearer not-a-jwt")
	if status, _, _ := hc.do(req); status != http.StatusUnauthorized {
		t.Errorf("bad token: %d, want 401", status)
	}
	// The main listener does not serve the metrics.
	if resp, err := http.Get("http://" + addr + "/metrics"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && strings.Contains(resp.Header.Get("Content-Type"), "version=0.0.4") {
			t.Error("the clients' listener serves /metrics")
		}
	}

	f := scrape()
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"bertsync_connections_accepted_total", []string{"transport", "websocket"}, 1},
		{"bertsync_connections_open", []string{"transport", "websocket"}, 1},
		{"bertsync_connections_accepted_total", []string{"transport", "longpoll"}, 1},
		{"bertsync_connections_closed_total", []string{"transport", "longpoll", "reason", "timeout"}, 1},
		{"bertsync_sessions_open", nil, 2}, // the WebSocket's and the poll's
		{"bertsync_subscriptions", []string{"model", "note"}, 1},
		{"bertsync_requests_total", []string{"method", "subscribe", "code", "ok"}, 1},
		{"bertsync_requests_total", []string{"method", "create", "code", "ok"}, 1},
		{"bertsync_request_duration_seconds", []string{"method", "create"}, 1},
		{"bertsync_pushes_sent_total", nil, 1},
		{"bertsync_auth_failures_total", []string{"reason", "malformed"}, 1},
	} {
		if got, ok := f.Value(c.name, c.labels...); !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}

	if got := f.Get("bertsync_store_commit_writes"); got < 1 {
		t.Errorf("store commits: %v, want the create's at least", got)
	}

	// The WebSocket goes: its connection, session and subscription end.
	c.Close()
	// The metric is the only sign the server gives: each scrape waits
	// for the next look.
	deadline := time.Now().Add(waitLimit)
	for {
		f = scrape()
		if f.Get("bertsync_connections_closed_total", "transport", "websocket", "reason", "client_closed") == 1 &&
			f.Get("bertsync_subscriptions", "model", "note") == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the closed WebSocket is still counted: closed %v, subscriptions %v",
				f.Get("bertsync_connections_closed_total", "transport", "websocket"), f.Get("bertsync_subscriptions", "model", "note"))
		}
	}
	if got := f.Get("bertsync_connections_open", "transport", "websocket"); got != 0 {
		t.Errorf("open WebSockets after the close: %v", got)
	}
	stop()
	if err := waitServe(t, done); err != nil {
		t.Fatal(err)
	}
	if !metricsLn.isClosed() {
		t.Error("the metrics listener was not closed")
	}
}

// Without a metrics address nothing is served or counted.
func TestNoMetricsByDefault(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{})
	if ts.gw.cfg.metrics != nil || ts.sys.Config().Metrics != nil {
		t.Fatal("metrics on without being asked for")
	}
	// Counting on nil costs nothing and does not fail.
	c := ts.dial(t)
	sendBinary(t, c, `{sync, read, note, []}`)
	readTerm(t, c)
}

func TestAuthFailureReasons(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err  error
		want string
	}{
		{&auth.Error{Reason: auth.ErrExpired}, "expired"},
		{&auth.Error{Reason: auth.ErrSignature, Detail: "x"}, "signature"},
		{errCredentialsExpired, "expired"},
		{&models.Error{Code: models.CodeUnauthorized, Err: &auth.Error{Reason: auth.ErrAudience}}, "audience"},
		{context.Canceled, "other"},
	} {
		if got := authFailure(c.err); got != c.want {
			t.Errorf("%v: %q, want %q", c.err, got, c.want)
		}
	}
}

// A metrics address that cannot be listened on fails the start.
func TestMetricsAddrInUse(t *testing.T) {
	t.Parallel()
	busy := newTestListener(t, false)
	ln := newTestListener(t, false)
	err := ListenAndServe(context.Background(), ServeConfig{
		Listener: ln, DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler),
		MetricsAddr: busy.Addr().String(),
		OnListen:    func(net.Addr) { t.Error("listening") },
	})
	if err == nil || !strings.Contains(err.Error(), "metrics") {
		t.Fatalf("got %v, want the metrics listener's error", err)
	}
	if !ln.isClosed() {
		t.Error("the listener was not closed")
	}
}

// A client that sends requests and its close frame in one write, then
// resets the connection before the replies, is the one that closed it:
// the first reply's write fails while the session still waits for the
// other, and the connection counts as client_closed, not as a transport
// error.
func TestMetricsClientGoneAfterCloseFrame(t *testing.T) {
	t.Parallel()
	release, unstick := make(chan struct{}), make(chan struct{})
	started := make(chan string, 2)
	reg := models.NewRegistry()
	for name, until := range map[string]chan struct{}{"slow": release, "stuck": unstick} {
		err := reg.Register(name, models.HandlerFunc(func(ctx context.Context, _ models.Request) (any, error) {
			started <- name
			select {
			case <-until:
			case <-ctx.Done():
			}
			return models.Props{{Key: "id", Value: []byte(name)}}, nil
		}))
		if err != nil {
			t.Fatal(err)
		}
	}
	metricsLn := newTestListener(t, false)
	addr, stop, done := startListenAndServe(t, ServeConfig{
		Listener:        newTestListener(t, false),
		MetricsListener: metricsLn,
		DataDir:         t.TempDir(),
		Registry:        reg,
		Logger:          slog.New(slog.DiscardHandler),
	})
	c := dialAddr(t, addr, DefaultPath)
	tcp := c.NetConn().(*net.TCPConn)
	frames := slices.Concat(
		clientFrame(websocket.BinaryMessage, true, encode(t, `{sync, read, slow, []}`), false),
		clientFrame(websocket.BinaryMessage, true, encode(t, `{sync, read, stuck, []}`), false),
		clientFrame(websocket.CloseMessage, true, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), false))
	tcp.SetWriteDeadline(time.Now().Add(waitLimit))
	if _, err := tcp.Write(frames); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case <-started:
		case <-time.After(waitLimit):
			t.Fatal("a request never reached its handler")
		}
	}
	// The requests and the close frame came in one read: the close frame
	// is the server's already. A zero linger resets the connection.
	tcp.SetLinger(0)
	tcp.Close()
	close(release)

	scrape := scraper(t, metricsLn)
	deadline := time.Now().Add(waitLimit)
	for {
		f := scrape()
		if f.Get("bertsync_connections_closed_total", "transport", "websocket") == 1 {
			if got := f.Get("bertsync_connections_closed_total", "transport", "websocket", "reason", "client_closed"); got != 1 {
				t.Errorf("closed as client_closed: %v; transport_error: %v", got,
					f.Get("bertsync_connections_closed_total", "transport", "websocket", "reason", "transport_error"))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the reset connection is never counted closed")
		}
	}
	close(unstick)
	stop()
	if err := waitServe(t, done); err != nil {
		t.Fatal(err)
	}
}
