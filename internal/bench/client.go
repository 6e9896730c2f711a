package bench

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/bertsync/bertsync/bert"
	"github.com/bertsync/bertsync/bert/erltext"
	"github.com/gorilla/websocket"
)

// dial opens one client connection with a bounded handshake.
func dial(ctx context.Context, target string) (*websocket.Conn, error) {
	return dialHeader(ctx, target, nil)
}

// dialHeader is dial with the handshake's extra headers (nil: none), such
// as the auth phase's Authorization.
func dialHeader(ctx context.Context, target string, hdr http.Header) (*websocket.Conn, error) {
	d := websocket.Dialer{HandshakeTimeout: phaseTimeout}
	conn, resp, err := d.DialContext(ctx, target, hdr)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial %s: %w (HTTP %s)", target, err, resp.Status)
		}
		return nil, fmt.Errorf("dial %s: %w", target, err)
	}
	return conn, nil
}

// dialMany opens n connections with the handshake headers hdr (nil:
// none), at most 64 handshakes at a time, and runs setup on each.
func dialMany(ctx context.Context, target string, hdr http.Header, n int, setup func(*websocket.Conn) error) ([]*websocket.Conn, error) {
	conns := make([]*websocket.Conn, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := dialHeader(ctx, target, hdr)
			if err == nil && setup != nil {
				if err = setup(c); err != nil {
					c.Close()
				}
			}
			conns[i], errs[i] = c, err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			closeAll(conns)
			return nil, fmt.Errorf("connection %d of %d: %w", i+1, n, err)
		}
	}
	return conns, nil
}

func closeAll(conns []*websocket.Conn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

// call sends one binary message and reads the next message.
func call(c *websocket.Conn, msg []byte) ([]byte, error) {
	c.SetWriteDeadline(time.Now().Add(phaseTimeout))
	if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
		return nil, err
	}
	c.SetReadDeadline(time.Now().Add(phaseTimeout))
	_, reply, err := c.ReadMessage()
	return reply, err
}

// okTail is how every {sync, ok, …} reply of the BERT-JS profile goes on
// after 131, SMALL_TUPLE_EXT and its arity (3 or 4): ATOM_EXT sync,
// ATOM_EXT ok.
var okTail = []byte{100, 0, 4, 's', 'y', 'n', 'c', 100, 0, 2, 'o', 'k'}

// isOK checks a reply cheaply, so that the client's decoding does not
// dominate what is measured; the first reply of each run is decoded fully.
func isOK(reply []byte) bool {
	return len(reply) > 3+len(okTail) && reply[0] == 131 && reply[1] == 104 && bytes.HasPrefix(reply[3:], okTail)
}

// checkOK decodes a reply fully and requires {sync, ok, _}.
func checkOK(reply []byte) error {
	var term any
	if err := bert.Unmarshal(reply, &term); err != nil {
		return fmt.Errorf("reply % x: %w", reply, err)
	}
	if t, ok := term.(bert.Tuple); !ok || len(t) != 3 || t[1] != bert.Atom("ok") || !isOK(reply) {
		s, _ := erltext.Format(term)
		return fmt.Errorf("reply %s, want {sync, ok, _}", s)
	}
	return nil
}

// checkEcho requires the echo of msg.
func checkEcho(msg []byte) func([]byte) error {
	return func(reply []byte) error {
		if !bytes.Equal(reply, msg) {
			return fmt.Errorf("echo returned % x", reply)
		}
		return nil
	}
}

// marshal encodes one of the bench's own constant terms.
func marshal(term any) []byte {
	b, err := bert.Marshal(term)
	if err != nil {
		panic(fmt.Sprintf("bench: marshal %#v: %v", term, err)) // a bug in the bench's constants
	}
	return b
}

// ensure stores doc (which has an id) with create, or with update when it
// exists already (a data directory used before).
func ensure(ctx context.Context, target string, model bert.Atom, doc bert.List) error {
	c, err := dial(ctx, target)
	if err != nil {
		return err
	}
	defer c.Close()
	reply, err := call(c, marshal(bert.Tuple{bert.Atom("sync"), bert.Atom("create"), model, doc}))
	if err != nil {
		return err
	}
	if checkOK(reply) == nil {
		return nil
	}
	reply, err = call(c, marshal(bert.Tuple{bert.Atom("sync"), bert.Atom("update"), model, doc}))
	if err != nil {
		return err
	}
	return checkOK(reply)
}
