package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"runtime/pprof"
	"sync"
	"time"
)

// The idle phase opens K WebSocket connections that then say nothing, and
// measures what the server holds for them. The clients are bare sockets
// that did the handshake and dropped every buffer, so that their own cost
// in this process is only the socket: the "TCP only" row measures that
// floor (K accepted sockets held by a listener, plus the client sockets).

// idleDial opens one WebSocket by hand and keeps only the socket.
func idleDial(addr, path string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, phaseTimeout)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(phaseTimeout))
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		c.Close()
		return nil, err
	}
	// Read the response head byte by byte so that nothing past it is
	// consumed into a buffer this function would have to keep.
	var head []byte
	var b [1]byte
	for !bytes.HasSuffix(head, []byte("\r\n\r\n")) {
		if len(head) > 4096 {
			c.Close()
			return nil, fmt.Errorf("handshake response too long")
		}
		if _, err := c.Read(b[:]); err != nil {
			c.Close()
			return nil, fmt.Errorf("handshake: %w", err)
		}
		head = append(head, b[0])
	}
	if !bytes.HasPrefix(head, []byte("HTTP/1.1 101")) {
		c.Close()
		line, _, _ := bufio.NewReader(bytes.NewReader(head)).ReadLine()
		return nil, fmt.Errorf("handshake: %s", line)
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// tcpHolder accepts connections and holds them without reading: the floor
// every WebSocket server pays per connection.
type tcpHolder struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func startTCPHolder() (*tcpHolder, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &tcpHolder{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			h.mu.Lock()
			h.conns = append(h.conns, c)
			h.mu.Unlock()
		}
	}()
	return h, nil
}

func (h *tcpHolder) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

func (h *tcpHolder) close() {
	h.ln.Close()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.conns {
		c.Close()
	}
	h.conns = nil
}

// idleRun opens n connections with open, waits for settle, and returns the
// growth of what sample measures, per connection.
// With profile set, a heap profile is written there while the connections
// are open.
func idleRun(ctx context.Context, n int, open func() (net.Conn, error), settle func() error, sample func() memSample, profile string) (perConn memSample, err error) {
	before := sample()
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
		time.Sleep(300 * time.Millisecond) // let the server notice before the next run
	}()
	for range n {
		if ctx.Err() != nil {
			return memSample{}, ctx.Err()
		}
		c, err := open()
		if err != nil {
			return memSample{}, fmt.Errorf("connection %d of %d: %w", len(conns)+1, n, err)
		}
		conns = append(conns, c)
	}
	if settle != nil {
		if err := settle(); err != nil {
			return memSample{}, err
		}
	}
	time.Sleep(500 * time.Millisecond) // sessions spawn, goroutines park
	after := sample()
	if profile != "" {
		if err := writeHeapProfile(profile); err != nil {
			return memSample{}, err
		}
	}
	per := func(a, b uint64) uint64 {
		if a <= b || a == 0 || b == 0 {
			return 0
		}
		return (a - b) / uint64(n)
	}
	return memSample{heap: per(after.heap, before.heap), stacks: per(after.stacks, before.stacks), rss: per(after.rss, before.rss)}, nil
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("heap profile: %w", err)
	}
	return f.Close()
}

// idlePhase is the idle-connection phase.
func idlePhase(ctx context.Context, cfg Config, target string, base *baseline, out io.Writer) error {
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	sample := sampleSelf
	inProcess := cfg.URL == ""
	pid := os.Getpid()
	if !inProcess {
		if cfg.PID == 0 {
			fmt.Fprintf(out, "Idle connections: skipped (a server outside this process needs --pid for its RSS)\n\n")
			return nil
		}
		pid = cfg.PID
		sample = func() memSample {
			rss, _ := rssOf(pid)
			return memSample{rss: rss}
		}
	}
	// Probed once, so that a column of "-" comes with its reason.
	_, rssErr := rssOf(pid)
	fmt.Fprintf(out, "Idle connections: %d WebSocket connections that send nothing; growth per connection\n", cfg.Idle)
	fmt.Fprintf(out, "  %-44s %10s %10s %10s %10s\n", "server", "heap", "stacks", "total", "RSS")
	kib := func(b uint64) string {
		if b == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f KiB", float64(b)/1024)
	}
	row := func(label string, m memSample) {
		fmt.Fprintf(out, "  %-44s %10s %10s %10s %10s\n", label, kib(m.heap), kib(m.stacks), kib(m.heap+m.stacks), kib(m.rss))
	}

	if inProcess {
		holder, err := startTCPHolder()
		if err != nil {
			return err
		}
		addr := holder.ln.Addr().String()
		tcp, err := idleRun(ctx, cfg.Idle, func() (net.Conn, error) { return net.DialTimeout("tcp", addr, phaseTimeout) },
			func() error {
				for limit := time.Now().Add(phaseTimeout); holder.count() < cfg.Idle; time.Sleep(10 * time.Millisecond) {
					if time.Now().After(limit) {
						return fmt.Errorf("TCP holder accepted %d of %d", holder.count(), cfg.Idle)
					}
				}
				return nil
			}, sample, "")
		holder.close()
		if err != nil {
			return fmt.Errorf("idle, TCP only: %w", err)
		}
		row("TCP only (both socket ends, the floor)", tcp)

		echo, err := idleRun(ctx, cfg.Idle, func() (net.Conn, error) { return idleDial(base.addr, "/idle") }, nil, sample, "")
		if err != nil {
			return fmt.Errorf("idle, gorilla: %w", err)
		}
		row("gorilla echo (one goroutine, default buffers)", echo)
	}
	bs, err := idleRun(ctx, cfg.Idle, func() (net.Conn, error) { return idleDial(u.Host, u.Path) }, nil, sample, cfg.MemProfile)
	if err != nil {
		return fmt.Errorf("idle, bertsync: %w", err)
	}
	row("bertsync (WebSocket session, idle)", bs)
	fmt.Fprintf(out, "  (target: bertsync total <= 16 KiB per idle connection; each row includes this process's client socket, see the TCP row;\n")
	fmt.Fprintf(out, "   RSS growth undercounts memory that earlier phases had made resident)\n")
	if rssErr != nil {
		fmt.Fprintf(out, "  (RSS column: %v)\n", rssErr)
	}
	fmt.Fprintln(out)
	return nil
}
