package tests

// Admission end to end against the built binary: the Host check that
// stops DNS rebinding, --allowed-hosts, and the connection caps that keep
// one client address from starving the others.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// e2eSecondClient is another client address: all of 127.0.0.0/8 is
// loopback, so a socket bound to it reaches a server on 127.0.0.1.
const e2eSecondClient = "127.0.0.2"

// e2eDialFrom opens a TCP connection to addr from the local address ip.
func e2eDialFrom(t testing.TB, ip, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: e2eTimeout}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, ip, err)
	}
	return c
}

// e2eDialWSFrom opens a WebSocket to the Bullet endpoint from ip.
func e2eDialWSFrom(t testing.TB, ip, addr string) (*e2eConn, error) {
	t.Helper()
	conn := e2eDialFrom(t, ip, addr)
	ws, err := e2eHandshakeWS(conn, addr, "/bullet", nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	t.Cleanup(func() { ws.Close() })
	return &e2eConn{t: t, ws: ws}, nil
}

// e2eUpgradeStatus sends a WebSocket upgrade request from ip with the
// given Host and Origin and returns the status and body of the answer.
func e2eUpgradeStatus(t testing.TB, ip, addr, host, origin string) (int, string) {
	t.Helper()
	conn := e2eDialFrom(t, ip, addr)
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(e2eTimeout))
	fmt.Fprintf(conn, "GET /bullet HTTP/1.1\r\nHost: %s\r\nOrigin: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", host, origin)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("upgrade with Host %s: %v", host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return resp.StatusCode, ""
	}
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body))
}

// e2eRequestStatus sends one HTTP request with the given Host and Origin.
func e2eRequestStatus(t testing.TB, addr, method, path, host, origin, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	req.Header.Set("Origin", origin)
	if strings.HasPrefix(path, "/api/") {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := &http.Client{Timeout: e2eTimeout, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s Host %s: %v", method, path, host, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// A page of evil.example whose name was rebound to 127.0.0.1 sends
// Host: evil.example and Origin: http://evil.example; the server refuses
// it on every route, WebSocket upgrade included, and still serves its
// own names.
func TestE2EHostCheck(t *testing.T) {
	t.Parallel()
	s := e2eStartServer(t, "")
	_, port, _ := net.SplitHostPort(s.Addr)
	for _, host := range []string{"evil.example", "evil.example:" + port} {
		origin := "http://" + host
		for _, r := range []struct{ method, path, body string }{
			{"POST", "/bullet", "ping"},
			{"GET", "/api/thing", ""},
			{"POST", "/api/thing", "{}"},
			{"GET", "/", ""},
		} {
			status, body := e2eRequestStatus(t, s.Addr, r.method, r.path, host, origin, r.body)
			if status != http.StatusMisdirectedRequest || !strings.Contains(body, host) {
				t.Errorf("%s %s Host %s: %d %q, want 421 naming the host", r.method, r.path, host, status, body)
			}
		}
		if status, body := e2eUpgradeStatus(t, "127.0.0.1", s.Addr, host, origin); status != http.StatusMisdirectedRequest {
			t.Errorf("WebSocket upgrade with Host %s: %d %q, want 421", host, status, body)
		}
	}
	for _, host := range []string{s.Addr, "localhost:" + port} {
		if status, body := e2eUpgradeStatus(t, "127.0.0.1", s.Addr, host, "http://"+host); status != http.StatusSwitchingProtocols {
			t.Errorf("WebSocket upgrade with Host %s: %d %q", host, status, body)
		}
		if status, body := e2eRequestStatus(t, s.Addr, "POST", "/api/thing", host, "http://"+host, "{}"); status != http.StatusCreated {
			t.Errorf("REST with Host %s: %d %q", host, status, body)
		}
	}
	c := e2eDial(t, s.Addr, false)
	c.OK(e2eT{e2eA("sync"), e2eA("read"), e2eA("thing"), e2eL{}})
}

// --allowed-hosts replaces the defaults; on every interface the server
// will not start without it.
func TestE2EAllowedHostsFlag(t *testing.T) {
	t.Parallel()
	s := e2eStartServer(t, "", "--allowed-hosts", "app.example")
	_, port, _ := net.SplitHostPort(s.Addr)
	if status, body := e2eRequestStatus(t, s.Addr, "POST", "/bullet", "app.example:"+port, "http://app.example:"+port, "ping"); status != http.StatusOK || body != "pong" {
		t.Errorf("listed host: %d %q", status, body)
	}
	if status, _ := e2eRequestStatus(t, s.Addr, "POST", "/bullet", s.Addr, "http://"+s.Addr, "ping"); status != http.StatusMisdirectedRequest {
		t.Errorf("unlisted listen address: %d, want 421", status)
	}

	cmd := exec.Command(e2eBinary, "serve", "--addr", "0.0.0.0:0", "--data", t.TempDir())
	cmd.Env = e2eCleanEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 || !strings.Contains(stderr.String(), "-allowed-hosts") || strings.Contains(stderr.String(), "msg=listening") {
		t.Errorf("serve on 0.0.0.0 without --allowed-hosts: %v, stderr %q; want exit 2 naming -allowed-hosts", err, stderr.String())
	}
}

// One address holds at most --max-conns-per-addr connections: the next
// gets 429 before any upgrade, while another address still connects and
// is served; past --max-conns everyone gets 503.
func TestE2EConnCapPerAddr(t *testing.T) {
	t.Parallel()
	s := e2eStartServer(t, "", "--max-conns-per-addr", "3", "--max-conns", "5")
	read := e2eT{e2eA("sync"), e2eA("read"), e2eA("thing"), e2eL{}}
	var first []*e2eConn
	for i := range 3 {
		c, err := e2eDialWSFrom(t, "127.0.0.1", s.Addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i+1, err)
		}
		c.OK(read)
		first = append(first, c)
	}
	status, body := e2eUpgradeStatus(t, "127.0.0.1", s.Addr, s.Addr, "http://"+s.Addr)
	if status != http.StatusTooManyRequests || !strings.Contains(body, "127.0.0.1") {
		t.Fatalf("fourth connection: %d %q, want 429 naming the address", status, body)
	}
	// The connections there keep working, and another client is served.
	first[0].OK(read)
	for i := range 2 {
		c, err := e2eDialWSFrom(t, e2eSecondClient, s.Addr)
		if err != nil {
			t.Fatalf("second client, connection %d: %v", i+1, err)
		}
		c.OK(read)
	}
	if status, body := e2eUpgradeStatus(t, e2eSecondClient, s.Addr, s.Addr, "http://"+s.Addr); status != http.StatusServiceUnavailable {
		t.Fatalf("past --max-conns: %d %q, want 503", status, body)
	}
	// A connection that ends frees its place, as soon as the server has
	// seen it end.
	first[0].ws.Close()
	deadline := time.Now().Add(e2eTimeout)
	for {
		c, err := e2eDialWSFrom(t, "127.0.0.1", s.Addr)
		if err == nil {
			c.OK(read)
			break
		}
		if time.Now().After(deadline) || !strings.Contains(err.Error(), "503") {
			t.Fatalf("after a close: %v", err)
		}
		<-time.After(10 * time.Millisecond)
	}
}
