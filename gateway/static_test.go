package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func TestStaticServesFiles(t *testing.T) {
	t.Parallel()
	h, err := newStatic(fstest.MapFS{
		"index.html":  {Data: []byte("<!doctype html><title>demo</title>")},
		"bertsync.js": {Data: []byte("export const x = 1;\n")},
		"app/app.css": {Data: []byte("body{}")},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	tests := []struct {
		path, ctype, body string
	}{
		{"/", "text/html; charset=utf-8", "<!doctype html><title>demo</title>"},
		{"/index.html", "text/html; charset=utf-8", "<!doctype html><title>demo</title>"},
		{"/bertsync.js", "application/javascript; charset=utf-8", "export const x = 1;\n"},
		{"/app/app.css", "text/css; charset=utf-8", "body{}"},
	}
	for _, tt := range tests {
		resp, err := http.Get(srv.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != tt.body {
			t.Errorf("GET %s = %d %q, want 200 %q", tt.path, resp.StatusCode, body, tt.body)
		}
		if got := resp.Header.Get("Content-Type"); got != tt.ctype {
			t.Errorf("GET %s: Content-Type %q, want %q", tt.path, got, tt.ctype)
		}
		if resp.Header.Get("Cache-Control") != "no-cache" || resp.Header.Get("ETag") == "" {
			t.Errorf("GET %s: caching headers %v", tt.path, resp.Header)
		}

		// Revalidation with the ETag is a 304 with no body.
		req, _ := http.NewRequest("GET", srv.URL+tt.path, nil)
		req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
		resp2, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp2.Body.Close()
		if resp2.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s with If-None-Match: %d, want 304", tt.path, resp2.StatusCode)
		}
	}

	for _, p := range []string{"/nope.js", "/app/", "/app", "/../index.html", "/index.html/x"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("GET %s = %d, want 404", p, resp.StatusCode)
		}
	}

	resp, err := http.Post(srv.URL+"/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST / = %d, want 405", resp.StatusCode)
	}
}

// TestStaticEmbedded checks the files the binary ships: the client script
// and the demo page must be there.
func TestStaticEmbedded(t *testing.T) {
	t.Parallel()
	h, err := newStatic(WebFS())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ path, ctype, needle string }{
		{"/bertsync.js", "application/javascript; charset=utf-8", "Backbone"},
		{"/", "text/html; charset=utf-8", "bertsync.js"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", tt.path, nil))
		if rec.Code != 200 {
			t.Errorf("GET %s = %d, want 200", tt.path, rec.Code)
			continue
		}
		if got := rec.Header().Get("Content-Type"); got != tt.ctype {
			t.Errorf("GET %s: Content-Type %q, want %q", tt.path, got, tt.ctype)
		}
		if !strings.Contains(rec.Body.String(), tt.needle) {
			t.Errorf("GET %s: body does not mention %q", tt.path, tt.needle)
		}
	}
}
