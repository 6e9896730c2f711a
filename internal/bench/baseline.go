package bench

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// The baselines bertsync is measured against in the same run: the bare
// gorilla/websocket server the issue names, written the way its examples
// write one (one goroutine per connection, default buffers).
//
//	/echo   writes every message back in the same frame type
//	/hub    writes every message to every other connection (a naive
//	        broadcast hub, the fan-out baseline)
//	/idle   upgrades and then only reads (the idle-connection baseline)

// baseline is a running baseline server.
type baseline struct {
	srv  *http.Server
	ln   net.Listener
	addr string

	hubMu sync.Mutex
	hub   map[*baselineConn]struct{}
}

// baselineConn serializes the writes of the hub to one connection.
type baselineConn struct {
	mu   sync.Mutex
	conn *websocket.Conn
}

var baselineUpgrader = websocket.Upgrader{
	CheckOrigin: func(*http.Request) bool { return true },
}

// startBaseline listens on a loopback port of the kernel's choosing.
func startBaseline() (*baseline, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &baseline{ln: ln, addr: ln.Addr().String(), hub: map[*baselineConn]struct{}{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", b.echo)
	mux.HandleFunc("/hub", b.serveHub)
	mux.HandleFunc("/idle", b.echo)
	b.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go b.srv.Serve(ln)
	return b, nil
}

func (b *baseline) echo(w http.ResponseWriter, r *http.Request) {
	conn, err := baselineUpgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	for {
		typ, msg, err := conn.ReadMessage()
		if err != nil {
			return
		}
		if err := conn.WriteMessage(typ, msg); err != nil {
			return
		}
	}
}

// hubJoined is what the hub sends a connection once it is registered.
var hubJoined = []byte("joined")

func (b *baseline) serveHub(w http.ResponseWriter, r *http.Request) {
	conn, err := baselineUpgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	me := &baselineConn{conn: conn}
	b.hubMu.Lock()
	b.hub[me] = struct{}{}
	b.hubMu.Unlock()
	// The client's handshake ends before this handler registers it: it
	// waits for this word, so that no broadcast can miss it.
	me.mu.Lock()
	err = conn.WriteMessage(websocket.TextMessage, hubJoined)
	me.mu.Unlock()
	if err != nil {
		return
	}
	defer func() {
		b.hubMu.Lock()
		delete(b.hub, me)
		b.hubMu.Unlock()
		conn.Close()
	}()
	for {
		typ, msg, err := conn.ReadMessage()
		if err != nil {
			return
		}
		b.hubMu.Lock()
		peers := make([]*baselineConn, 0, len(b.hub))
		for c := range b.hub {
			if c != me {
				peers = append(peers, c)
			}
		}
		b.hubMu.Unlock()
		for _, c := range peers {
			c.mu.Lock()
			c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
			c.conn.WriteMessage(typ, msg)
			c.mu.Unlock()
		}
		me.mu.Lock()
		me.conn.WriteMessage(typ, []byte("ok"))
		me.mu.Unlock()
	}
}

// close stops the server and its connections.
func (b *baseline) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	b.srv.Shutdown(ctx)
	b.srv.Close()
}
