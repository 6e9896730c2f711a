package tests

// A WebSocket client of the tests' own, written from RFC 6455 over a bare
// net.Conn so that the end-to-end tests check the server's wire behaviour
// (handshake, masking, framing, control frames) rather than trusting a
// library on both ends.

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/bertsync/bertsync/internal/wstest"
)

// WebSocket opcodes (RFC 6455 §5.2).
const (
	wsContinuation = 0x0
	wsText         = 0x1
	wsBinary       = 0x2
	wsClose        = 0x8
	wsPing         = 0x9
	wsPong         = 0xA
)

// wsGUID is the fixed string of RFC 6455 §1.3 that the accept key hashes.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// e2eWSMaxMessage bounds what the client buffers for one message, so a
// misbehaving server cannot make a test allocate without limit.
const e2eWSMaxMessage = 64 << 20

// e2eWSCloseError is returned by reads once the server sent a close frame.
type e2eWSCloseError struct {
	Code   int
	Reason string
}

func (e *e2eWSCloseError) Error() string {
	return fmt.Sprintf("websocket closed by server: code %d %q", e.Code, e.Reason)
}

// e2eWS is one client connection. Writes are safe from several goroutines;
// reads belong to one goroutine at a time.
type e2eWS struct {
	conn net.Conn
	br   *bufio.Reader
	wmu  sync.Mutex
	// Resp is the server's handshake response (its headers, cookies).
	Resp *http.Response
	// Pongs receives the payload of every pong control frame read.
	Pongs chan []byte
	// AutoPong answers server pings while reading (on by default).
	AutoPong bool
}

// e2eDialWS connects to ws://addr+path, performs the opening handshake and
// checks the server's Sec-WebSocket-Accept.
func e2eDialWS(addr, path string, hdr http.Header) (*e2eWS, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c, err := e2eHandshakeWS(conn, addr, path, hdr)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

func e2eHandshakeWS(conn net.Conn, addr, path string, hdr http.Header) (*e2eWS, error) {
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, err
	}
	key := base64.StdEncoding.EncodeToString(nonce[:])
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\n", path, addr)
	b.WriteString("Upgrade: websocket\r\nConnection: Upgrade\r\n")
	fmt.Fprintf(&b, "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", key)
	if hdr.Get("Origin") == "" {
		fmt.Fprintf(&b, "Origin: http://%s\r\n", addr)
	}
	for k, vs := range hdr {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return nil, fmt.Errorf("write handshake: %w", err)
	}
	br := bufio.NewReader(conn)
	req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, fmt.Errorf("read handshake response: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("handshake: status %s, body %q", resp.Status, body)
	}
	if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") {
		return nil, fmt.Errorf("handshake: Upgrade header %q", resp.Header.Get("Upgrade"))
	}
	if !e2eHeaderHasToken(resp.Header, "Connection", "upgrade") {
		return nil, fmt.Errorf("handshake: Connection header %q", resp.Header.Values("Connection"))
	}
	sum := sha1.Sum([]byte(key + wsGUID))
	if want := base64.StdEncoding.EncodeToString(sum[:]); resp.Header.Get("Sec-WebSocket-Accept") != want {
		return nil, fmt.Errorf("handshake: Sec-WebSocket-Accept %q, want %q", resp.Header.Get("Sec-WebSocket-Accept"), want)
	}
	conn.SetDeadline(time.Time{})
	return &e2eWS{conn: conn, br: br, Resp: resp, Pongs: make(chan []byte, 16), AutoPong: true}, nil
}

func e2eHeaderHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// WriteFrame writes one masked frame.
func (c *e2eWS) WriteFrame(fin bool, opcode byte, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeFrameLocked(fin, opcode, payload)
}

func (c *e2eWS) writeFrameLocked(fin bool, opcode byte, payload []byte) error {
	f := wstest.Frame{Opcode: opcode, Fin: fin, Payload: payload}
	if _, err := rand.Read(f.Mask[:]); err != nil {
		return err
	}
	c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.conn.Write(f.Append(make([]byte, 0, 14+len(payload))))
	return err
}

// WriteMessage sends one unfragmented data message.
func (c *e2eWS) WriteMessage(opcode byte, payload []byte) error {
	return c.WriteFrame(true, opcode, payload)
}

// WriteFragmented sends payload as one message split into parts frames,
// with a ping control frame between the first two fragments when
// interleavePing is set (RFC 6455 §5.4 allows control frames there).
func (c *e2eWS) WriteFragmented(opcode byte, payload []byte, parts int, interleavePing bool) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if parts < 1 {
		parts = 1
	}
	size := (len(payload) + parts - 1) / parts
	if size == 0 {
		size = 1
	}
	op := opcode
	for i := 0; ; i++ {
		end := min((i+1)*size, len(payload))
		chunk := payload[min(i*size, len(payload)):end]
		fin := end >= len(payload)
		if err := c.writeFrameLocked(fin, op, chunk); err != nil {
			return err
		}
		if fin {
			return nil
		}
		if i == 0 && interleavePing {
			if err := c.writeFrameLocked(true, wsPing, []byte("mid")); err != nil {
				return err
			}
		}
		op = wsContinuation
	}
}

// frame is one frame as read from the server.
type e2eFrame struct {
	fin     bool
	opcode  byte
	payload []byte
}

func (c *e2eWS) readFrame() (e2eFrame, error) {
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return e2eFrame{}, err
	}
	if h[0]&0x70 != 0 {
		return e2eFrame{}, fmt.Errorf("server frame has RSV bits set: %#x", h[0])
	}
	if h[1]&0x80 != 0 {
		return e2eFrame{}, errors.New("server frame is masked (RFC 6455 §5.1 forbids it)")
	}
	f := e2eFrame{fin: h[0]&0x80 != 0, opcode: h[0] & 0x0F}
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(c.br, ext[:]); err != nil {
			return e2eFrame{}, err
		}
		n = uint64(binary.BigEndian.Uint16(ext[:]))
	case 127:
		var ext [8]byte
		if _, err := io.ReadFull(c.br, ext[:]); err != nil {
			return e2eFrame{}, err
		}
		n = binary.BigEndian.Uint64(ext[:])
	}
	if n > e2eWSMaxMessage {
		return e2eFrame{}, fmt.Errorf("server frame of %d bytes", n)
	}
	if f.opcode >= wsClose && (n > 125 || !f.fin) {
		return e2eFrame{}, fmt.Errorf("server control frame %#x: len %d fin %v", f.opcode, n, f.fin)
	}
	f.payload = make([]byte, n)
	if _, err := io.ReadFull(c.br, f.payload); err != nil {
		return e2eFrame{}, err
	}
	return f, nil
}

// ReadMessage reads the next data message (text or binary), assembling
// fragments, answering pings and recording pongs. It fails with
// *e2eWSCloseError when the server closes, and on timeout.
func (c *e2eWS) ReadMessage(timeout time.Duration) (opcode byte, data []byte, err error) {
	c.conn.SetReadDeadline(time.Now().Add(timeout))
	defer c.conn.SetReadDeadline(time.Time{})
	var msg []byte
	var op byte
	started := false
	for {
		f, err := c.readFrame()
		if err != nil {
			return 0, nil, err
		}
		switch f.opcode {
		case wsPing:
			if c.AutoPong {
				if err := c.WriteFrame(true, wsPong, f.payload); err != nil {
					return 0, nil, err
				}
			}
			continue
		case wsPong:
			select {
			case c.Pongs <- f.payload:
			default:
			}
			continue
		case wsClose:
			ce := &e2eWSCloseError{Code: 1005}
			if len(f.payload) >= 2 {
				ce.Code = int(binary.BigEndian.Uint16(f.payload))
				ce.Reason = string(f.payload[2:])
			}
			c.WriteFrame(true, wsClose, f.payload[:min(2, len(f.payload))])
			return 0, nil, ce
		case wsText, wsBinary:
			if started {
				return 0, nil, fmt.Errorf("new data frame %#x inside a fragmented message", f.opcode)
			}
			started, op = true, f.opcode
		case wsContinuation:
			if !started {
				return 0, nil, errors.New("continuation frame with no message started")
			}
		default:
			return 0, nil, fmt.Errorf("reserved opcode %#x", f.opcode)
		}
		if len(msg)+len(f.payload) > e2eWSMaxMessage {
			return 0, nil, errors.New("server message too large for the test client")
		}
		msg = append(msg, f.payload...)
		if f.fin {
			return op, msg, nil
		}
	}
}

// Close sends a close frame (1000) and closes the socket.
func (c *e2eWS) Close() error {
	c.WriteFrame(true, wsClose, []byte{0x03, 0xE8})
	return c.conn.Close()
}

// e2eCharsToBytes maps a BERT-JS "binary string" (each code point one byte)
// back to bytes; it fails on a code point above U+00FF.
func e2eCharsToBytes(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i, r := range s {
		if r > 0xFF {
			return nil, fmt.Errorf("code point U+%04X at byte %d is not a byte", r, i)
		}
		out = append(out, byte(r))
	}
	return out, nil
}

// e2eBytesToChars is the inverse: each byte becomes one code point, UTF-8
// encoded, the way a browser sends a BERT-JS string.
func e2eBytesToChars(b []byte) string {
	rs := make([]rune, len(b))
	for i, c := range b {
		rs[i] = rune(c)
	}
	return string(rs)
}
