package main

import (
	"fmt"

	"github.com/gorilla/websocket"
)

// bombScenario sends n zlib bombs at once, as creates and as broadcasts,
// and then the largest compressed term the default message limit lets
// through.
func bombScenario(s *server, o options) ([]figure, error) {
	var figs []figure
	for _, b := range []struct {
		method string
		n      int
	}{
		{"create", 16_700_000},
		{"broadcast", 16_700_000},
		// The largest such term the default message limit (1 MiB)
		// lets through.
		{"create", 1<<20 - 64},
	} {
		msg := bomb(b.method, b.n)
		before, err := s.resetPeak()
		if err != nil {
			return figs, err
		}
		out, err := atOnce(s, o.n, func(c *websocket.Conn) (string, error) {
			size, h, err := call(c, msg)
			return fmt.Sprintf("%d-byte reply %s", size, h), err
		})
		if err != nil {
			out[0] = fmt.Sprintf("%s; error: %v", out[0], err)
		}
		label := fmt.Sprintf("%d x %s of a %d-byte compressed term, a %d-element list", o.n, b.method, len(msg), b.n)
		figs = append(figs, s.growth(label, before, "first reply: "+truncate(out[0], 100)))
	}
	return figs, nil
}
