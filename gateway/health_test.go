package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// get sends a GET for path with the Host header host ("" for the
// server's own) and returns the status and body.
func (ts *testServer) get(t *testing.T, method, path, host string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestHealthChecks(t *testing.T) {
	t.Parallel()
	var failing error
	ts := newTestServer(t, Config{ReadyCheck: func(ctx context.Context) error {
		if _, ok := ctx.Deadline(); !ok {
			return errors.New("the check has no deadline")
		}
		return failing
	}})
	for _, c := range []struct {
		method, path, host string
		status             int
		body               string
	}{
		{"GET", "/healthz", "", 200, "ok\n"},
		{"HEAD", "/healthz", "", 200, ""},
		{"GET", "/readyz", "", 200, "ready\n"},
		// Probes address the server by IP: no Host check.
		{"GET", "/healthz", "10.1.2.3:8080", 200, "ok\n"},
		{"GET", "/readyz", "10.1.2.3", 200, "ready\n"},
		{"POST", "/readyz", "", 405, ""},
		// Other routes still check the Host.
		{"GET", "/healthz/more", "10.1.2.3", 421, ""},
	} {
		status, body := ts.get(t, c.method, c.path, c.host)
		if status != c.status || c.body != "" && body != c.body {
			t.Errorf("%s %s (Host %q): %d %q, want %d %q", c.method, c.path, c.host, status, body, c.status, c.body)
		}
	}
	failing = errors.New("disk on fire at /secret/path")
	status, body := ts.get(t, "GET", "/readyz", "")
	if status != http.StatusServiceUnavailable || strings.Contains(body, "/secret/path") {
		t.Errorf("failing check: %d %q, want 503 without the details", status, body)
	}
	if status, _ := ts.get(t, "GET", "/healthz", ""); status != http.StatusOK {
		t.Errorf("liveness with a failing readiness check: %d", status)
	}
}

// While the server drains, it is alive but not ready.
func TestReadyzWhileDraining(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{})
	c := ts.dial(t)
	sendBinary(t, c, `{sync, read, note, []}`)
	readTerm(t, c)
	done := make(chan error, 1)
	ts.gw.beginShutdown()
	go func() { done <- ts.gw.Shutdown(context.Background()) }()
	// The WebSocket holds the shutdown: its session is not drained (the
	// actors are not shutting down).
	if status, body := ts.get(t, "GET", "/readyz", ""); status != http.StatusServiceUnavailable || !strings.Contains(body, "shutting down") {
		t.Errorf("readyz while draining: %d %q, want 503", status, body)
	}
	if status, _ := ts.get(t, "GET", "/healthz", ""); status != http.StatusOK {
		t.Errorf("healthz while draining: %d, want 200", status)
	}
	c.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestHealthPathsAreReserved(t *testing.T) {
	t.Parallel()
	for _, p := range []string{healthzPath, readyzPath} {
		if err := (Config{Path: p}).Validate(); err == nil {
			t.Errorf("Path %s accepted", p)
		}
	}
}
