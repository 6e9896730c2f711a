package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// rebindScenario sends what a page of evil.example whose name has been
// made to resolve to the server's address would: the server's routes
// with Host evil.example:<port>, each also with the server's own Host as
// the control. It measures no RSS: the point is the answer.
func rebindScenario(s *server, _ options) ([]figure, error) {
	fmt.Println("  (no RSS figure: a refused Host costs the server nothing to speak of; the answer is the point)")
	_, port, _ := strings.Cut(s.addr, ":")
	var figs []figure
	for _, host := range []string{"evil.example:" + port, s.addr} {
		name := "foreign Host"
		if host == s.addr {
			name = "own Host (control)"
		}
		for _, path := range []string{"/", "/api/doc"} {
			status, answer := get(s.addr, path, host)
			answer = strings.ReplaceAll(answer, ":"+port, ":<port>")
			figs = append(figs, figure{label: fmt.Sprintf("GET %s, %s", path, name), value: float64(status), unit: "HTTP status", answer: answer})
		}
		d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
		c, resp, err := d.Dial(s.url(), http.Header{"Host": {host}})
		status, answer := 0, ""
		switch {
		case err == nil:
			status = 101
			_, h, err := call(c, request("read", "idle", []byte{106}))
			if err != nil {
				h = err.Error()
			}
			answer = "read: " + h
			c.Close()
		case resp != nil:
			status = resp.StatusCode
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
			answer = truncate(strings.ReplaceAll(strings.TrimSpace(string(body)), ":"+port, ":<port>"), 70)
		default:
			answer = err.Error()
		}
		figs = append(figs, figure{label: "WebSocket upgrade, " + name, value: float64(status), unit: "HTTP status", answer: answer})
	}
	return figs, nil
}

// get GETs path from addr naming host, and returns the status and the
// start of the body.
func get(addr, path, host string) (int, string) {
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return 0, err.Error()
	}
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	return resp.StatusCode, truncate(strings.Join(strings.Fields(string(body)), " "), 70)
}
