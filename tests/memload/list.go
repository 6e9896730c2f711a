package main

import (
	"fmt"
	"time"

	"github.com/gorilla/websocket"
)

// listScenario stores 200 documents of 1 MB, then reads the collection on
// n connections at once.
func listScenario(s *server, o options) ([]figure, error) {
	c, err := s.dial()
	if err != nil {
		return nil, err
	}
	doc := prop("blob", binaryOf(1_000_000))
	for i := range 200 {
		if _, h, err := call(c, request("create", "big", doc)); err != nil || h != "ok" {
			return nil, fmt.Errorf("create %d: %s %v", i, h, err)
		}
		if i%90 == 89 {
			time.Sleep(time.Second) // the new server's rate limit: 100 a second
		}
	}
	c.Close()
	time.Sleep(time.Second)
	before, err := s.resetPeak()
	if err != nil {
		return nil, err
	}
	out, err := atOnce(s, o.n, func(c *websocket.Conn) (string, error) {
		size, h, err := call(c, request("read", "big", []byte{106}))
		return fmt.Sprintf("%d-byte reply %s", size, h), err
	})
	if err != nil {
		// The peak until then still counts (the old server drops
		// connections it cannot write to in time).
		out[0] = fmt.Sprintf("%s; error: %v", out[0], err)
	}
	label := fmt.Sprintf("%d x collection read of 200 documents of 1 MB", o.n)
	return []figure{s.growth(label, before, "first reply: "+truncate(out[0], 80))}, nil
}
