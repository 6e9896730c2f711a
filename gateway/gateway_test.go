package gateway

import (
	"net/http"
	"strings"
	"testing"
)

func TestConfigPath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		path, want string
		ok         bool
	}{
		{"", DefaultPath, true},
		{"/sock/", "/sock", true},
		{"/a/b-c.d_e~f", "/a/b-c.d_e~f", true},
		{"/", "", false},
		{"sock", "", false},
		{"/a b", "", false},
		{"/{x}", "", false},
		{"/a//b", "", false},
		{"/api/bullet", "", false},
		{"/files", "", false},
	} {
		c, err := Config{Path: tc.path}.withDefaults()
		if tc.ok != (err == nil) || tc.ok && c.Path != tc.want {
			t.Errorf("path %q: got %q, %v", tc.path, c.Path, err)
		}
	}
	if _, err := (Config{PingInterval: 10, PongTimeout: 5}).withDefaults(); err == nil {
		t.Error("PongTimeout below PingInterval accepted")
	}
}

func TestCustomPath(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Config{Path: "/rt/bullet"})
	resp, err := http.Post(ts.URL+"/rt/bullet", "text/plain", strings.NewReader("ping"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if c.Name == cookieName && c.Path != "/rt/bullet" {
			t.Fatalf("cookie path %q", c.Path)
		}
	}
}
